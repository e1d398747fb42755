"""core.authorization and its use by decide: an Application is driven only from namespaces it names.

A Station naming an Application that has not opted in (annotation ``k8sta.io/authorized-namespaces``)
blocks its Track with a message naming the Application and the annotation, and nothing is pushed,
synced, repaired or announced on the Application.
"""

from __future__ import annotations

import dataclasses

import pytest

from k8sta_cmp.contract import ImagePin
from k8sta_daemon.core import actions, authorization, codec, decide, model

NS = "team-b"
T0 = 10_000.0
C = "c" * 40
A1, B1 = model.AppRef("argocd", "a1"), model.AppRef("argocd", "b1")
St = model.TicketState


@pytest.mark.parametrize("annotation, refused_with", [
    pytest.param(NS, None, id="names-the-namespace"),
    pytest.param(f" team-a , {NS} ", None, id="one-of-a-list-with-spaces"),
    pytest.param(f"team-a,,{NS},", None, id="empty-items-ignored"),
    pytest.param(None, f'has not opted in to being driven by K8sTA from namespace {NS}: add the annotation '
                       f'k8sta.io/authorized-namespaces: "{NS}" to Application argocd/a1', id="absent"),
    pytest.param("  ", "has not opted in", id="blank"),
    pytest.param("team-a", f"authorizes only namespace(s) team-a (k8sta.io/authorized-namespaces), not {NS}",
                 id="other-namespace-only"),
    pytest.param("team-a,team-c", "authorizes only namespace(s) team-a, team-c", id="others-only"),
    pytest.param("*", 'contains "*", which K8sTA does not accept', id="wildcard-refused"),
    pytest.param(f"{NS},*", 'contains "*"', id="wildcard-refused-even-next-to-the-namespace"),
    pytest.param(f"{NS},Team_A", "names 'Team_A', not a namespace name", id="invalid-entry-named"),
    pytest.param("team-b-*", "names 'team-b-*', not a namespace name", id="no-globs"),
])
def test_refusal(annotation: str | None, refused_with: str | None) -> None:
    why = authorization.refusal(A1, NS, annotation)
    if refused_with is None:
        assert why is None
    else:
        assert why is not None and refused_with in why


def _app(annotation: str | None, **changes: object) -> model.AppStatus:
    healthy = model.AppStatus(exists=True, sync_status=model.SyncStatus.OUT_OF_SYNC, synced_revision="0" * 40,
                              reconciled_at=T0 - 1, health=model.HealthStatus.HEALTHY, automated=False,
                              authorized_namespaces=annotation)
    return dataclasses.replace(healthy, **changes)  # type: ignore[arg-type]


def _world(a1: str | None, b1: str | None, ticket: model.Ticket, *, drift: tuple[model.Drift, ...] = (),
           disabled_s2: bool = False) -> model.World:
    stations = [model.StationSpec(NS, "s1", applications=(A1,)),
                model.StationSpec(NS, "s2", applications=(B1,), disabled=disabled_s2)]
    return model.World.build(T0, [model.TrackSpec(NS, "line", ("s1", "s2"))], stations, [ticket],
                             {A1: _app(a1), B1: _app(b1)}, drift=drift)


def _waiting() -> model.Ticket:
    return model.Ticket(NS, "t1", "uid-t1", 1.0, "line", model.Snapshot(C, (ImagePin("registry.example/app", "1.0"),)))


def _deploying() -> model.Ticket:
    record = model.JourneyRecord("s1", model.JourneyState.ENTERED, entered_at=T0 - 10,
                                 pushed=(model.PushedCommit(A1, "file:///r", "env/a1", C),))
    return dataclasses.replace(_waiting(), status=model.TicketStatus(St.DEPLOYING, "s1", (record,)))


def _touching_apps(result: list[actions.Action]) -> list[actions.Action]:
    """Everything that would write to, sync, or put an Event on an Application."""
    return [a for a in result if isinstance(a, actions.PushStation | actions.RequestSync | actions.RepairDrift)
            or (isinstance(a, actions.EmitEvent) and a.app is not None)]


def _status(result: list[actions.Action]) -> model.TicketStatus:
    (status,) = [a.status for a in result if isinstance(a, actions.UpdateTicketStatus)]
    return status


@pytest.mark.parametrize("a1, b1, names", [
    pytest.param(NS, None, "station s2: Application argocd/b1 has not opted in", id="later-station-not-opted-in"),
    pytest.param("team-a", NS, "station s1: Application argocd/a1 authorizes only namespace(s) team-a",
                 id="first-station-opted-into-another-namespace"),
    pytest.param(None, None, "station s1: Application argocd/a1 has not opted in", id="upgrade-nothing-opted-in"),
])
def test_a_track_driving_an_application_that_has_not_opted_in_is_blocked_and_nothing_touches_it(
        a1: str | None, b1: str | None, names: str) -> None:
    result = decide.decide(_world(a1, b1, _waiting()))
    (condition,) = [a.condition for a in result if isinstance(a, actions.SetTrackCondition)]
    assert condition.status is model.ConditionStatus.FALSE
    assert condition.reason is model.ConditionReason.APPLICATION_NOT_AUTHORIZED
    assert names in condition.message and authorization.ANNOTATION in condition.message
    status = _status(result)
    assert (status.state, status.station, status.journey) == (St.WAITING, None, ())
    (blocked,) = status.conditions
    assert (blocked.type, blocked.reason) == (model.ConditionType.BLOCKED,
                                              model.ConditionReason.APPLICATION_NOT_AUTHORIZED)
    assert names in status.message
    assert _touching_apps(result) == []


def test_the_same_ticket_boards_and_pushes_once_every_application_opted_in() -> None:
    """The control case: only the annotation differs from the refused worlds above."""
    result = decide.decide(_world(NS, f"team-a,{NS}", _waiting()))
    assert [a.condition.reason for a in result if isinstance(a, actions.SetTrackCondition)] == [
        model.ConditionReason.VALID]
    assert (_status(result).state, _status(result).station) == (St.DEPLOYING, "s1")
    assert [type(a) for a in result if isinstance(a, actions.PushStation)] == [actions.PushStation]


def test_a_disabled_station_is_not_asked() -> None:
    result = decide.decide(_world(NS, None, _waiting(), disabled_s2=True))
    assert [a.condition.reason for a in result if isinstance(a, actions.SetTrackCondition)] == [
        model.ConditionReason.VALID]


def test_an_opt_in_withdrawn_mid_visit_stops_syncs_and_pushes_and_the_ticket_keeps_its_station() -> None:
    opted = decide.decide(_world(NS, NS, _deploying()))
    assert [a for a in opted if isinstance(a, actions.RequestSync)], "control: the visit asks for a sync"
    result = decide.decide(_world("team-a", NS, _deploying()))
    status = _status(result)
    assert (status.state, status.station) == (St.DEPLOYING, "s1")
    assert "authorizes only namespace(s) team-a" in status.message
    assert _touching_apps(result) == []


def test_an_unheld_drifted_branch_is_repaired_only_for_an_application_that_opted_in() -> None:
    done = model.Ticket(NS, "old", "uid-old", 0.0, "elsewhere", model.Snapshot(C),
                        status=model.TicketStatus(St.COMPLETED))
    hand_edit = model.Drift(A1, "env/a1", "e" * 40)
    repairs = [a for a in decide.decide(_world(NS, NS, done, drift=(hand_edit,)))
               if isinstance(a, actions.RepairDrift)]
    assert [r.app for r in repairs] == [A1]
    assert _touching_apps(decide.decide(_world(None, NS, done, drift=(hand_edit,)))) == []


def test_an_application_argo_cd_does_not_know_is_left_to_the_missing_rule() -> None:
    """Nothing can be pushed to it (the push needs its source); once it exists, its annotation decides."""
    station = model.StationSpec(NS, "s1", applications=(A1, B1))
    assert authorization.station_refusals(station, {B1: model.AppStatus.missing()}) == ()
    assert not authorization.authorized(station, A1, {})


def test_the_codec_reads_the_annotation_from_argo_cds_json() -> None:
    app = {"metadata": {"name": "a1", "namespace": "argocd",
                        "annotations": {authorization.ANNOTATION: f"team-a,{NS}"}},
           "spec": {"project": "shop", "source": {"repoURL": "file:///r", "targetRevision": "env/a1",
                                                  "plugin": {"name": "k8sta"}}}}
    assert codec.app_status_from_dict(app).authorized_namespaces == f"team-a,{NS}"
    assert codec.app_status_from_dict({"metadata": {"name": "a1"}}).authorized_namespaces is None
    assert authorization.project_of(app) == "shop"
    assert authorization.project_of({"spec": {}}) is None


def test_the_units_ask_again_with_the_application_they_are_about_to_write_for() -> None:
    opted = {"metadata": {"annotations": {authorization.ANNOTATION: NS}}}
    withdrawn = {"metadata": {"annotations": {}}}
    assert authorization.unauthorized(NS, [(A1, opted)]) == ()
    (why,) = authorization.unauthorized(NS, [(A1, opted), (B1, withdrawn)])
    assert "Application argocd/b1 has not opted in" in why
