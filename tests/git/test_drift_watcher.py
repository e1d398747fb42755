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
from k8sta_daemon.core import actions, model, outcomes, station_status
from k8sta_daemon.reactor.cache import Cache
from k8sta_daemon.reactor.drift import DriftWatcher
from k8sta_daemon.reactor.units import Context, GitSettings, repair_drift

APP = model.AppRef(DEV.application.namespace, DEV.application.name)


def world_cache(remote: Remote) -> Cache:
    cache = Cache()
    cache.put("Station", {"apiVersion": "k8sta.io/v1alpha1", "kind": "Station",
                          "metadata": {"namespace": "shop", "name": "dev", "resourceVersion": "1"},
                          "spec": {"applications": [{"namespace": APP.namespace, "name": APP.name}]}})
    cache.set_apps([{"metadata": {"namespace": APP.namespace, "name": APP.name, "uid": "u"},
                     "spec": {"source": {"repoURL": remote.url, "targetRevision": "env/dev", "path": ".",
                                                 "plugin": {"name": "k8sta"}}}}])
    return cache


def settings(tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> GitSettings:
    return GitSettings(mirrors=tmp_path / "daemon-mirrors", credentials=lambda url: credentials.ANONYMOUS,
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
    action = actions.RepairDrift(ticket=None, station="dev", app=APP, branch="env/dev", head=human, restore=ours)
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
