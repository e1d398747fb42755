"""core.drift: which branches are watched, what is drift, and what a repair commit means for the ticket."""

from __future__ import annotations

import dataclasses

import pytest

from k8sta_daemon.core import actions, drift, model, sources

NS = "shop"
DEV, STAGING = model.AppRef("argocd", "dev"), model.AppRef("argocd", "staging")
OURS = model.PushedCommit(DEV, "file:///r", "env/dev", "a" * 40)
OTHER = model.PushedCommit(STAGING, "file:///r", "env/staging", "c" * 40)
REPAIRED = model.PushedCommit(DEV, "file:///r", "env/dev", "e" * 40)
SNAPSHOT = model.Snapshot(config_commit="d" * 40)
REPAIR = actions.RepairDrift(ticket=model.TicketRef(NS, "shop-1"), station="dev", app=DEV, branch="env/dev",
                             head="b" * 40, restore=OURS.commit)
SOAKING = model.JourneyRecord(station="dev", state=model.JourneyState.ARRIVED, entered_at=10.0, arrived_at=20.0,
                              pushed=(OURS, OTHER),
                              drift=(model.Drift(DEV, "env/dev", "b" * 40),))


def ticket(*journey: model.JourneyRecord) -> model.Ticket:
    status = model.TicketStatus(state=model.TicketState.SOAKING, station="dev", journey=journey)
    return model.Ticket(namespace=NS, name="shop-1", uid="u", created=1.0, track="shop", snapshot=SNAPSHOT,
                        status=status)


def application(branch: str | None, repo: str = "file:///r") -> dict:
    return {"metadata": {"namespace": "argocd", "name": "x"},
            "spec": {"source": {"repoURL": repo, "targetRevision": branch, "plugin": {"name": "k8sta"}}}}


def test_the_repair_commit_becomes_the_visits_commit_of_that_app() -> None:
    [update] = drift.after_repair(ticket(SOAKING), REPAIR, REPAIRED)
    assert isinstance(update, actions.UpdateTicketStatus)
    assert update.ticket == REPAIR.ticket
    record = update.status.journey[-1]
    assert record.pushed == (OTHER, REPAIRED)
    assert record.drift == SOAKING.drift  # the visit still says it was edited by hand
    assert (update.status.state, update.status.station) == (model.TicketState.SOAKING, "dev")


@pytest.mark.parametrize("record", [
    dataclasses.replace(SOAKING, station="staging"),
    dataclasses.replace(SOAKING, pushed=(dataclasses.replace(OURS, commit="f" * 40), OTHER)),
], ids=["moved-on", "pushed-again-meanwhile"])
def test_a_repair_is_not_recorded_on_a_visit_it_is_not_about(record: model.JourneyRecord) -> None:
    assert drift.after_repair(ticket(record), REPAIR, REPAIRED) == []


def test_a_repair_is_not_recorded_on_a_ticket_without_a_visit() -> None:
    assert drift.after_repair(ticket(), REPAIR, REPAIRED) == []


def test_a_head_without_both_trailers_is_drift() -> None:
    source = sources.AppSource(DEV, "file:///r", "env/dev", "env/dev", "main")
    assert drift.judge_head(source, "b" * 40, None, None) == model.Drift(DEV, "env/dev", "b" * 40)
    assert drift.judge_head(source, "b" * 40, "shop/shop-1", None) == model.Drift(DEV, "env/dev", "b" * 40)
    assert drift.judge_head(source, "b" * 40, "shop/shop-1", "dev") is None
    assert drift.judge_head(source, None, None, None) is None


def test_watched_branches_are_those_of_station_applications_argo_cd_knows_once_each() -> None:
    unknown = model.AppRef("argocd", "unknown")
    invalid = model.AppRef("argocd", "invalid")
    stations = [model.StationSpec(NS, "dev", applications=(DEV, unknown, invalid)),
                model.StationSpec(NS, "staging", applications=(STAGING, DEV),
                                  disabled_applications=frozenset({STAGING}))]
    apps = {DEV: application("env/dev"), STAGING: application("env/staging"), invalid: application("HEAD")}
    assert [(s.app, s.branch, s.repo_url) for s in drift.watched(stations, apps, "main")] == [
        (DEV, "env/dev", "file:///r")]


def test_a_k8sta_head_with_a_rerender_trailer_is_a_re_render_of_the_visit_it_names() -> None:
    source = sources.AppSource(DEV, "file:///r", "env/dev", "env/dev", "main")
    assert drift.judge_rerender(source, "b" * 40, "shop/shop-1", "dev", "f" * 40) == model.Rerendered(
        DEV, "env/dev", "b" * 40, ticket="shop/shop-1", station="dev")
    assert drift.judge_rerender(source, "b" * 40, "shop/shop-1", "dev", None) is None  # a promotion
    assert drift.judge_rerender(source, "b" * 40, None, None, "f" * 40) is None  # no visit named: drift instead
    assert drift.judge_rerender(source, None, None, None, None) is None


# -- the push path: may a ticket's push build on this head? (issue 19 item 4) ---------------------------

PUSHED_SOURCE = sources.AppSource(app=DEV, repo_url="file:///r", branch="env/dev", overlay_dir="env/dev",
                                  source_branch="main")
HEAD, BELOW = "b" * 40, "a" * 40


@pytest.mark.parametrize("trailers, problem, newest, wanted", [
    (("shop/shop-1", "dev"), None, HEAD, drift.PushBase(previous=HEAD)),
    # a hand edit that deleted .k8sta/, or rewrote metadata.yaml without apiVersion, or left it alone:
    # the push lands on top of it, as the drift repair would, and says so
    ((None, None), "no .k8sta/metadata.yaml", BELOW,
     drift.PushBase(previous=BELOW, hand_edit=model.Drift(DEV, "env/dev", HEAD))),
    ((None, None), ".k8sta/metadata.yaml: apiVersion: is required", BELOW,
     drift.PushBase(previous=BELOW, hand_edit=model.Drift(DEV, "env/dev", HEAD))),
    ((None, None), None, BELOW, drift.PushBase(previous=BELOW, hand_edit=model.Drift(DEV, "env/dev", HEAD))),
    (("shop/shop-1", None), None, BELOW, drift.PushBase(previous=BELOW, hand_edit=model.Drift(DEV, "env/dev", HEAD))),
], ids=["k8sta-head", "k8sta-dir-removed", "metadata-rewritten", "harmless-edit", "one-trailer-only"])
def test_push_base(trailers: tuple[str | None, str | None], problem: str | None, newest: str,
                   wanted: drift.PushBase) -> None:
    assert drift.push_base(PUSHED_SOURCE, HEAD, *trailers, problem, newest) == wanted


@pytest.mark.parametrize("trailers, problem, newest, says", [
    ((None, None), "no .k8sta/metadata.yaml", None, "not written by K8sTA"),
    ((None, None), None, None, "not written by K8sTA"),
    (("shop/shop-1", "dev"), ".k8sta/metadata.yaml: apiVersion: k8sta.io/branch/v9 is not supported", HEAD,
     "newer K8sTA"),
], ids=["never-k8sta", "never-k8sta-with-metadata", "unreadable-k8sta-commit"])
def test_push_base_refuses_a_branch_k8sta_cannot_own(trailers: tuple[str | None, str | None],
                                                     problem: str | None, newest: str | None, says: str) -> None:
    with pytest.raises(drift.ForeignBranch, match=says) as caught:
        drift.push_base(PUSHED_SOURCE, HEAD, *trailers, problem, newest)
    assert "env/dev" in str(caught.value) and HEAD in str(caught.value)


def test_push_base_agrees_with_the_drift_rule() -> None:
    """Whatever the head's trailers, the push sees a hand edit exactly where the drift watcher does."""
    for trailers in [(None, None), ("t", None), (None, "s"), ("t", "s")]:
        said = drift.judge_head(PUSHED_SOURCE, HEAD, *trailers)
        assert drift.push_base(PUSHED_SOURCE, HEAD, *trailers, None, BELOW).hand_edit == said


def test_the_recorded_head_is_the_push_of_the_visit_entered_last() -> None:
    older = dataclasses.replace(SOAKING, entered_at=5.0, pushed=(REPAIRED,))
    first = ticket(SOAKING)
    second = dataclasses.replace(ticket(older), name="shop-0")
    recorded = drift.recorded_heads([second, first])
    assert recorded[(DEV, "file:///r", "env/dev")] == OURS.commit  # entered at 10 beats 5
    assert recorded[(STAGING, "file:///r", "env/staging")] == OTHER.commit
    assert drift.recorded_heads([ticket()]) == {}


RECORDED = "a" * 40
REPLAY = "9" * 40
SOURCE = sources.AppSource(DEV, "file:///r", "env/dev", "env/dev", "main")


@pytest.mark.parametrize(("head", "trailers", "same_tree", "descends", "is_drift"), [
    pytest.param(RECORDED, ("k8sta/shop-1", "dev"), True, True, False, id="the-recorded-commit"),
    pytest.param(REPLAY, ("k8sta/shop-0", "dev"), False, False, True, id="old-k8sta-commit-pushed-back"),
    pytest.param(REPLAY, ("k8sta/shop-1", "dev"), False, False, True, id="copied-trailers-elsewhere"),
    pytest.param("e" * 40, ("k8sta/shop-1", "dev"), True, False, False, id="repair-restoring-its-tree"),
    pytest.param("f" * 40, ("k8sta/shop-1", "dev"), False, True, False, id="k8sta-commit-on-top"),
    pytest.param("b" * 40, (None, None), False, True, True, id="hand-edit-on-top"),
])
def test_drift_is_judged_by_the_commit_the_status_records(head: str, trailers: tuple[str | None, str | None],
                                                          same_tree: bool, descends: bool, is_drift: bool) -> None:
    line = drift.Lineage(recorded=RECORDED, same_tree=same_tree, descends=descends)
    found = drift.judge_head(SOURCE, head, *trailers, line)
    assert (found == model.Drift(SOURCE.app, SOURCE.branch, head)) if is_drift else found is None
