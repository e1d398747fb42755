"""The drift watcher and the RepairDrift unit on real repositories: a hand edit is seen, repaired, gone."""

from __future__ import annotations

from pathlib import Path

from gitrepos import DEV, Human, Remote, pin
from test_repair import hand_edit, promote

from k8sta_cmp import safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import appbranch, credentials
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import actions, authorization, codec, model, outcomes, station_status
from k8sta_daemon.reactor.cache import Cache
from k8sta_daemon.reactor.drift import DriftWatcher
from k8sta_daemon.reactor.units import Context, GitSettings, repair_drift

APP = model.AppRef(DEV.application.namespace, DEV.application.name)


def world_cache(remote: Remote) -> Cache:
    cache = Cache()
    cache.put("Station", {"apiVersion": "k8sta.io/v1alpha1", "kind": "Station",
                          "metadata": {"namespace": "shop", "name": "dev", "resourceVersion": "1"},
                          "spec": {"applications": [{"namespace": APP.namespace, "name": APP.name}]}})
    cache.set_apps([{"metadata": {"namespace": APP.namespace, "name": APP.name, "uid": "u",
                                  "annotations": {authorization.ANNOTATION: "shop"}},  # the Station's namespace
                     "spec": {"source": {"repoURL": remote.url, "targetRevision": "env/dev", "path": ".",
                                                 "plugin": {"name": "k8sta"}}}}])
    return cache


def settings(tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> GitSettings:
    return GitSettings(mirrors=tmp_path / "daemon-mirrors",
                       credentials=lambda _url, _project=None: credentials.ANONYMOUS,
                       kustomize=kustomize, limits=limits, default_source_branch="main")


def test_a_hand_edit_is_reported_until_the_repair_lands(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    ours = promote(mirror, kustomize, limits)
    cache = world_cache(remote)
    git = settings(tmp_path, kustomize, limits)
    changes: list[int] = []
    watcher = DriftWatcher(cache, git, interval=3600, on_change=lambda: changes.append(1))

    watcher.scan()
    assert watcher.current() == ()
    assert watcher.heads() == {APP: station_status.BranchHead(  # what the Station's status reads
        APP, "env/dev", ours, ticket="api-42", station="dev", config_commit=remote.head("main"),
        images=(pin("1.2.3"),))}

    human = hand_edit(remote, tmp_path, "README.md", "harmless\n")
    watcher.scan()
    assert watcher.current() == (model.Drift(APP, "env/dev", human),)
    assert watcher.heads() == {APP: station_status.BranchHead(APP, "env/dev", human)}  # names no visit
    assert changes == [1]  # the loop is woken to decide at once

    context = Context(kube=None, argo=None, cache=cache, metrics=Metrics(), git=git)  # type: ignore[arg-type]
    action = actions.RepairDrift(ticket=None, station="dev", app=APP, branch="env/dev", head=human, restore=ours,
                                 namespace="shop")  # as decide names the Station's namespace
    outcome = repair_drift.run(action, context)
    assert isinstance(outcome, outcomes.Pushed)
    (commit,) = outcome.commits
    assert (commit.app, commit.branch, commit.repo_url) == (APP, "env/dev", remote.url)
    assert remote.head("env/dev") == commit.commit
    assert remote.git("rev-parse", f"{commit.commit}^") == human

    watcher.settled(APP, human)
    assert watcher.current() == ()
    watcher.scan()
    assert watcher.current() == ()

    again = repair_drift.run(action, context)  # the same decision again: its commit, nothing new pushed
    assert again == outcome
    assert remote.head("env/dev") == commit.commit
    later = hand_edit(remote, tmp_path, "README.md", "another\n", name="later")
    moved = repair_drift.run(action, context)  # a newer edit: not this action's to repair
    assert isinstance(moved, outcomes.RetryLater)
    assert remote.head("env/dev") == later


def test_an_unreachable_repository_keeps_its_last_verdict(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    promote(mirror, kustomize, limits)
    human = hand_edit(remote, tmp_path, "README.md", "x\n")
    watcher = DriftWatcher(world_cache(remote), settings(tmp_path, kustomize, limits), interval=3600)
    watcher.scan()
    assert watcher.current() == (model.Drift(APP, "env/dev", human),)

    remote.path.rename(remote.path.with_suffix(".gone"))
    watcher.scan()

    assert watcher.current() == (model.Drift(APP, "env/dev", human),)


def test_an_overlay_re_render_is_reported_as_the_visits_new_commit_not_as_drift(
        mirror: Mirror, remote: Remote, human: Human, tmp_path: Path, kustomize: Kustomize,
        limits: safety.Limits) -> None:
    promote(mirror, kustomize, limits, name="api-42")
    watcher = DriftWatcher(world_cache(remote), settings(tmp_path, kustomize, limits), interval=3600)
    watcher.scan()
    assert (watcher.current(), watcher.rerendered()) == ((), ())  # a plain promotion is neither

    human.commit({"env/dev/kustomization.yaml": "resources:\n- ../../base\nnamespace: dev\n"
                  "commonLabels: {team: payments}\n"}, "label dev")
    sha = appbranch.rerender(mirror, source_branch="main", target=DEV, kustomize=kustomize, limits=limits)
    assert sha is not None
    watcher.scan()

    assert watcher.current() == ()
    assert watcher.rerendered() == (model.Rerendered(APP, "env/dev", sha, ticket="k8sta/api-42", station="dev"),)
    assert (watcher.heads()[APP].sha, watcher.heads()[APP].ticket) == (sha, "api-42")  # the visit's own head


def ticket_obj(name: str, commit: str, remote: Remote, entered_at: float) -> dict:
    """A Ticket whose status records ``commit`` as its push to env/dev (what the daemon writes)."""
    record = model.JourneyRecord(station="dev", state=model.JourneyState.ARRIVED, entered_at=entered_at,
                                 pushed=(model.PushedCommit(APP, remote.url, "env/dev", commit),))
    status = model.TicketStatus(state=model.TicketState.COMPLETED, station=None, journey=(record,))
    return {"apiVersion": "k8sta.io/v1alpha1", "kind": "Ticket",
            "metadata": {"namespace": "shop", "name": name, "uid": name, "resourceVersion": "1",
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"track": "shop", "snapshot": {"configCommit": "d" * 40}},
            "status": codec.ticket_status_to_dict(status)}


def test_an_old_k8sta_commit_pushed_back_is_drift_judged_by_the_tickets_status_and_repaired(
        mirror: Mirror, remote: Remote, human: Human, tmp_path: Path, kustomize: Kustomize,
        limits: safety.Limits) -> None:
    """A replay carries K8sTA's trailers and signature; the ticket's status says it is not the head."""
    old = promote(mirror, kustomize, limits, name="api-42")
    human.commit({"base/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n",
                  "base/kustomization.yaml": "resources:\n- deployment.yaml\n- extra.yaml\n"}, "extra config")
    new = promote(mirror, kustomize, limits, name="api-43")
    cache = world_cache(remote)
    cache.put("Ticket", ticket_obj("api-42", old, remote, 10.0))
    cache.put("Ticket", ticket_obj("api-43", new, remote, 20.0))
    git = settings(tmp_path, kustomize, limits)
    watcher = DriftWatcher(cache, git, interval=3600)
    watcher.scan()
    assert watcher.current() == ()

    remote.git("update-ref", "refs/heads/env/dev", old)  # force-pushed back: trailers, metadata, all K8sTA's
    watcher.scan()
    (found,) = watcher.current()
    assert (found.head, found.restore) == (old, new)

    context = Context(kube=None, argo=None, cache=cache, metrics=Metrics(), git=git)  # type: ignore[arg-type]
    action = actions.RepairDrift(ticket=None, station="dev", app=APP, branch="env/dev", head=old,
                                 restore=found.restore, namespace="shop")  # as decide names the Station's namespace
    outcome = repair_drift.run(action, context)
    assert isinstance(outcome, outcomes.Pushed)
    (commit,) = outcome.commits
    assert remote.git("rev-parse", f"{commit.commit}^{{tree}}") == remote.git("rev-parse", f"{new}^{{tree}}")
    watcher.settled(APP, old)
    watcher.scan()
    assert watcher.current() == ()  # the repair holds the recorded commit's tree: K8sTA's again
