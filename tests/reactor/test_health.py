"""Argo CD's reasons for a managed Application's health: asked once per change, never before anything is deployed,
never on the loop's thread."""

from __future__ import annotations

import threading
import time
from typing import Any

from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import actions, authorization, model
from k8sta_daemon.reactor.cache import Cache, View
from k8sta_daemon.reactor.execution import PassResult
from k8sta_daemon.reactor.health import HealthReasons
from k8sta_daemon.reactor.loop import Controller
from k8sta_daemon.reactor.refresher import Refresher

from .test_incremental import COMMIT, NS, QuietArgo, QuietKube, Recorder, app, running, station, ticket, track, visiting

APP = model.AppRef("argocd", "dev")


class TreeArgo:
    def __init__(self) -> None:
        self.asked: list[model.AppRef] = []
        self.tree: dict[str, object] = {"nodes": [{"kind": "Deployment", "name": "api", "health": {
            "status": "Progressing", "message": "rolling out"}}]}

    def resource_tree(self, app: model.AppRef) -> dict[str, object]:
        self.asked.append(app)
        return self.tree


def test_the_tree_is_not_asked_while_nothing_is_deployed_yet() -> None:
    argo = TreeArgo()
    health = HealthReasons(argo)  # type: ignore[arg-type]
    app = {"metadata": {"name": "dev", "namespace": "argocd", "resourceVersion": "1"},
           "status": {"health": {"status": "Missing"}, "sync": {"status": "OutOfSync"}}}
    assert health.reasons({APP: app}, [APP]) == ({}, set())
    assert argo.asked == []
    app = {"metadata": {"name": "dev", "namespace": "argocd", "resourceVersion": "2"},
           "status": {"health": {"status": "Progressing"}, "sync": {"status": "Synced"}}}
    health.reasons({APP: app}, [APP])
    assert argo.asked == [APP]


def test_the_tree_is_asked_also_when_argo_cd_sets_a_health_message() -> None:
    """Argo CD 3.6's ``status.health.message`` names resources ("Caused by apps/Deployment:ns/api"), not why."""
    argo = TreeArgo()
    health = HealthReasons(argo)  # type: ignore[arg-type]
    app = {"metadata": {"name": "dev", "namespace": "argocd", "resourceVersion": "1"},
           "status": {"health": {"status": "Progressing", "message": "Caused by apps/Deployment:shop/api"},
                      "sync": {"status": "Synced"}}}
    assert health.reasons({APP: app}, [APP]) == ({APP: "Deployment api: rolling out"}, set())
    assert argo.asked == [APP]


# -- off the loop's thread ----------------------------------------------------------------------


def test_reasons_are_asked_once_per_version_and_a_superseded_answer_is_dropped() -> None:
    """A new resourceVersion (Argo CD writes one per reconciliation) asks for the tree again, without
    waiting: its reasons are pending until the answer lands (news of the Application). An answer about
    a version that was superseded meanwhile is dropped."""
    argo, queued, news = TreeArgo(), [], []
    health = HealthReasons(argo, submit=lambda call, *args: queued.append((call, args)),  # type: ignore[arg-type]
                           on_news=news.append)

    def at(version: str) -> dict[model.AppRef, dict[str, Any]]:
        return {APP: {**progressing("dev"), "metadata": {"namespace": "argocd", "name": "dev",
                                                         "resourceVersion": version}}}

    rolling = {APP: "Deployment api: rolling out"}
    assert health.reasons(at("1"), [APP]) == ({}, {APP}) and len(queued) == 1  # asked, not answered yet
    assert health.reasons(at("1"), [APP]) == ({}, {APP}) and len(queued) == 1  # asked once per version
    call, args = queued.pop()
    call(*args)
    assert news == [APP] and health.reasons(at("1"), [APP]) == (rolling, set())
    assert health.reasons(at("2"), [APP]) == (rolling, {APP})  # version 2's on its way: the last ones known
    assert health.reasons(at("3"), [APP]) == (rolling, {APP})
    (call2, args2), (call3, args3) = queued
    call2(*args2)  # version 2's answer comes after version 3 was asked for: dropped
    assert health.known[APP][0] == "1" and news == [APP]
    call3(*args3)
    assert health.reasons(at("3"), [APP]) == (rolling, set()) and news == [APP, APP]
    assert argo.asked == [APP, APP, APP]


def test_a_degraded_application_fails_the_ticket_only_with_argo_cds_reason() -> None:
    """The tree is read off the loop's thread, but a status and its reasons are decided together: while
    the Degraded version's reasons are on their way the World keeps the Application's previous status,
    so the ticket (no grace) fails once they land, naming them, never without them."""
    cache = Cache()
    cache.replace_all("Track", [track("a", "a1")])
    cache.replace_all("Station", [station("a1", "a1-app")])
    cache.replace_all("Ticket", [visiting("a-1", "a", "a1", COMMIT, "1")])
    cache.set_apps([progressing("a1-app")])
    argo, queued = TreeArgo(), []
    executor = Recorder()
    controller = Controller(kube=None, argo=argo, executor=executor, cache=cache,  # type: ignore[arg-type]
                            metrics=Metrics(), clock=lambda: 1_796_000_000.0,
                            health=HealthReasons(argo, submit=lambda call, *args: queued.append((call, args)),  # type: ignore[arg-type]
                                                 on_news=cache.app_news))

    def answer() -> None:
        while queued:
            call, args = queued.pop(0)
            call(*args)

    controller.reconcile()
    assert messages(executor, "a-1")[-1].endswith("Progressing")  # seen first: its status, reasons asked
    answer()
    controller.reconcile(full=False)  # the answer was news of a1-app
    assert messages(executor, "a-1")[-1].endswith("Progressing (Deployment api: rolling out)")
    degraded = progressing("a1-app")
    degraded["metadata"]["resourceVersion"] = "3"
    degraded["status"]["health"] = {"status": "Degraded"}
    cache.apply_app("MODIFIED", degraded)
    argo.tree = {"nodes": [{"kind": "Deployment", "name": "api", "health": {
        "status": "Degraded", "message": 'Deployment "api" exceeded its progress deadline'}}]}
    passes = len(executor.passes)
    controller.reconcile(full=False)
    assert queued and all(not isinstance(a, actions.UpdateTicketStatus) or a.status.state is not
                          model.TicketState.FAILED for planned in executor.passes[passes:] for a in planned)
    answer()
    controller.reconcile(full=False)
    (failed,) = [a.status for a in executor.passes[-1] if isinstance(a, actions.UpdateTicketStatus)]
    assert failed.state is model.TicketState.FAILED
    assert 'Degraded (Deployment api: Deployment "api" exceeded its progress deadline)' in failed.message


class SlowTreeArgo(QuietArgo):
    """Argo CD whose resource tree answers only once the test lets it (a slow Argo CD)."""

    def __init__(self, apps: list[dict[str, Any]]) -> None:
        super().__init__(apps)
        self.asked, self.release, self.answered = threading.Event(), threading.Event(), threading.Event()

    def resource_tree(self, app: model.AppRef) -> dict[str, object]:
        self.asked.set()
        self.release.wait(10)
        self.answered.set()
        return TreeArgo().resource_tree(app)


def progressing(name: str) -> dict[str, Any]:
    """Synced at the visit's commit, reconciled in the visit, not Healthy yet: the tree says why."""
    return {"metadata": {"namespace": "argocd", "name": name, "resourceVersion": "2",
                         "annotations": {authorization.ANNOTATION: NS}},  # opted in to the Stations' namespace
            "spec": {"source": {"repoURL": "file:///r", "targetRevision": f"env/{name}", "path": "."}},
            "status": {"sync": {"status": "Synced", "revision": COMMIT}, "reconciledAt": "2026-12-01T10:00:30Z",
                       "health": {"status": "Progressing"}}}


def messages(executor: Recorder, ticket: str) -> list[str]:
    return [a.status.message for planned in executor.passes for a in planned
            if isinstance(a, actions.UpdateTicketStatus) and a.ticket.name == ticket]


def test_a_slow_resource_tree_never_holds_up_a_pass() -> None:
    """Track a's Application is Progressing, so its reasons are asked of a slow Argo CD. Meanwhile a
    change on Track c is decided at once; once the tree answers, the next pass carries the reasons."""
    cache = Cache()
    cache.replace_all("Track", [track("a", "a1"), track("c", "c1")])
    cache.replace_all("Station", [station("a1", "a1-app"), station("c1", "c1-app")])
    cache.replace_all("Ticket", [visiting("a-1", "a", "a1", COMMIT, "1"), ticket("c-1", "c")])
    apps = [progressing("a1-app"), app("c1-app")]
    cache.set_apps(apps)
    argo = SlowTreeArgo(apps)
    refresher = Refresher(argo, Metrics(), workers=2)  # type: ignore[arg-type]
    executor = Recorder()
    decided_c = threading.Event()
    real = executor.execute

    def execute(planned: list[actions.Action], world: model.World, view: View) -> PassResult:
        if model.TrackRef(NS, "c") in world.tracks and not world.tracks.keys() - {model.TrackRef(NS, "c")}:
            decided_c.set()  # a pass about Track c alone: the event below
        return real(planned, world, view)

    executor.execute = execute  # type: ignore[method-assign]
    controller = Controller(kube=QuietKube(cache), argo=argo, executor=executor, cache=cache,  # type: ignore[arg-type]
                            metrics=Metrics(), clock=lambda: 1_796_000_000.0, refresher=refresher,
                            health=HealthReasons(argo, submit=refresher.run,  # type: ignore[arg-type]
                                                 on_news=cache.app_news), resync_seconds=0.2)
    try:
        with running(controller):
            assert argo.asked.wait(10)  # the first pass asked for a1-app's tree
            cache.apply("Ticket", "MODIFIED", ticket("c-1", "c", version="2"))
            assert decided_c.wait(10), "the pass for Track c waited for Argo CD's resource tree"
            assert not argo.answered.is_set()
            assert messages(executor, "a-1")[0].endswith("Progressing")  # no reasons yet, no waiting
            argo.release.set()
            assert argo.answered.wait(10)
            for _ in range(200):  # the answer is news of a1-app: the next pass says why
                if messages(executor, "a-1")[-1].endswith("Progressing (Deployment api: rolling out)"):
                    break
                time.sleep(0.05)
            assert messages(executor, "a-1")[-1].endswith("Progressing (Deployment api: rolling out)")
    finally:
        argo.release.set()
        refresher.close()


def test_a_request_that_cannot_be_sent_holds_no_status_back() -> None:
    def closed(call: Any, *args: Any) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    health = HealthReasons(TreeArgo(), submit=closed)  # type: ignore[arg-type]
    assert health.reasons({APP: progressing("dev")}, [APP]) == ({}, set())
