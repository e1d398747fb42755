"""A lost Argo CD stream event must not hold a ticket up, and healing that must not cost a list of every
Application: the loop re-reads only the Applications a ticket waits on that went quiet.

Pure: the daemon's cache, loop and refresher, with an Argo CD that answers reads from a dict.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from k8sta_daemon.adapters import argocd
from k8sta_daemon.adapters.metrics import Metrics, total
from k8sta_daemon.core import model
from k8sta_daemon.reactor import loop
from k8sta_daemon.reactor.cache import Cache
from k8sta_daemon.reactor.loop import Controller
from k8sta_daemon.reactor.refresher import Refresher

from .test_incremental import QuietKube, Recorder, app, meta, running, station, track

WAITED_ON, SOAKED, ELSEWHERE = (model.AppRef("argocd", n) for n in ("a1-app", "b1-app", "unmanaged"))


def at(name: str, on: str, station_name: str, state: str) -> dict[str, Any]:
    return {"kind": "Ticket", "metadata": meta(name, "1"),
            "spec": {"track": on, "snapshot": {"configCommit": "a" * 40}},
            "status": {"state": state, "station": station_name,
                       "journey": [{"station": station_name, "state": "Entered", "enteredAt": "2026-12-01T10:00:01Z"}]}}


class Reads:
    """Argo CD's side of a read: the newest Application, counted."""

    def __init__(self, apps: dict[model.AppRef, dict[str, Any]]) -> None:
        self.apps, self.reads = apps, []

    def get_application(self, ref: model.AppRef, refresh: str | None = None) -> dict[str, Any]:
        self.reads.append(ref)
        if ref not in self.apps:
            raise argocd.ArgoCDError(f"application {ref.name} not found")
        return self.apps[ref]


@pytest.fixture
def controller() -> Controller:
    cache = Cache()
    cache.replace_all("Track", [track("a", "a1"), track("b", "b1")])
    cache.replace_all("Station", [station("a1", "a1-app"), station("b1", "b1-app")])
    cache.replace_all("Ticket", [at("a-1", "a", "a1", "Deploying"), at("b-1", "b", "b1", "Soaking")])
    cache.set_apps([app("a1-app"), app("b1-app"), app("unmanaged")])
    newer = {ref: app(ref.name, version="7") for ref in (WAITED_ON, SOAKED, ELSEWHERE)}
    control = Controller(kube=None, argo=Reads(newer), executor=Recorder(), cache=cache,  # type: ignore[arg-type]
                         metrics=Metrics(), clock=lambda: 1_796_000_000.0)
    control.reconcile()
    return control


def quiet_for(cache: Cache, seconds: float) -> None:
    cache.app_event_at = {ref: at - seconds for ref, at in cache.app_event_at.items()}


def test_only_the_quiet_applications_a_ticket_waits_on_are_read_again(controller: Controller) -> None:
    assert controller.heal() == []  # just listed: every Application is fresh news
    quiet_for(controller.cache, loop.APP_HEAL_SECONDS)
    controller.cache.wake.clear()
    assert controller.heal() == [WAITED_ON]  # the soaking ticket waits on no event; nobody waits on the other
    assert controller.argo.reads == [WAITED_ON]  # type: ignore[attr-defined]
    assert controller.cache.application(WAITED_ON)["metadata"]["resourceVersion"] == "7"  # type: ignore[index]
    assert controller.cache.wake.is_set()  # the news is decided
    assert controller.heal() == []  # the read was news: quiet again only after another interval
    quiet_for(controller.cache, loop.APP_HEAL_SECONDS)
    assert controller.heal() == []  # still quiet, but the next read waits twice as long
    quiet_for(controller.cache, loop.APP_HEAL_SECONDS)
    assert controller.heal() == [WAITED_ON]
    quiet_for(controller.cache, loop.APP_HEAL_MAX_SECONDS)
    assert controller.heal() == [WAITED_ON]  # never longer than the maximum
    quiet_for(controller.cache, loop.APP_HEAL_MAX_SECONDS)
    assert controller.heal() == [WAITED_ON]


def test_a_read_answered_late_never_undoes_a_newer_event() -> None:
    cache = Cache()
    cache.replace_all("Station", [station("a1", "a1-app")])
    cache.set_apps([app("a1-app", version="9")])
    cache.wake.clear()
    assert cache.apply_app("MODIFIED", app("a1-app", version="8")) is True  # named, but older
    assert cache.application(WAITED_ON)["metadata"]["resourceVersion"] == "9"  # type: ignore[index]
    assert not cache.wake.is_set()


class SlowRefresh:
    """Argo CD answering a hard refresh with the Application as it was when the refresh began, once the
    test lets it (the Application is deleted meanwhile)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer, self.release = answer, threading.Event()

    def refresh(self, ref: model.AppRef, hard: bool = True) -> dict[str, Any]:
        assert self.release.wait(10)
        return self.answer


def test_an_answer_arriving_after_the_deletion_never_brings_the_application_back() -> None:
    """A refresh sent before an Application was deleted answers after its DELETED event (the refresher's
    threads); a list made before the deletion likewise. The Application stays deleted until a newer
    version of it (created again) comes."""
    cache = Cache()
    cache.replace_all("Station", [station("a1", "a1-app")])
    cache.set_apps([app("a1-app", version="5")])
    argo = SlowRefresh(app("a1-app", version="5"))
    landed = threading.Event()

    def into_cache(answer: dict[str, Any]) -> None:
        cache.apply_app("MODIFIED", answer)
        landed.set()

    refresher = Refresher(argo, Metrics(), workers=1, on_app=into_cache)  # type: ignore[arg-type]
    try:
        refresher.submit([WAITED_ON])
        cache.apply_app("DELETED", app("a1-app", version="6"))
        cache.take()
        argo.release.set()
        assert landed.wait(10)
    finally:
        refresher.close()
    assert cache.application(WAITED_ON) is None
    assert cache.take()[1].apps == frozenset()  # nothing to decide: nothing came back
    cache.set_apps([app("a1-app", version="5")])  # a relist answered late
    assert cache.application(WAITED_ON) is None
    cache.apply_app("ADDED", app("a1-app", version="9"))  # created again
    assert cache.application(WAITED_ON)["metadata"]["resourceVersion"] == "9"  # type: ignore[index]
    cache.apply_app("DELETED", app("a1-app", version="10"))
    cache.set_apps([app("a1-app", version="11")])  # listed after being created once more
    assert cache.application(WAITED_ON)["metadata"]["resourceVersion"] == "11"  # type: ignore[index]


def test_a_relist_changes_only_the_named_applications_it_moved() -> None:
    cache = Cache()
    cache.replace_all("Station", [station("a1", "a1-app"), station("b1", "b1-app")])
    cache.set_apps([app("a1-app"), app("b1-app"), app("unmanaged")])
    cache.take()
    cache.set_apps([app("a1-app"), app("b1-app", version="2"), app("unmanaged", version="2")])
    _, changed = cache.take()
    assert (changed.everything, changed.apps) == (False, frozenset({SOAKED}))


def test_the_refresher_reads_off_the_loop_thread_into_the_cache_and_counts_failures() -> None:
    cache = Cache()
    cache.replace_all("Station", [station("a1", "a1-app")])
    cache.set_apps([app("a1-app")])
    metrics = Metrics()
    done = threading.Event()

    def into_cache(answer: dict[str, Any]) -> None:
        cache.apply_app("MODIFIED", answer)
        done.set()

    reads = Reads({WAITED_ON: app("a1-app", version="3")})
    refresher = Refresher(reads, metrics, workers=1, on_app=into_cache)  # type: ignore[arg-type]
    try:
        refresher.reread([model.AppRef("argocd", "gone"), WAITED_ON])
        assert done.wait(10)
    finally:
        refresher.close()
    assert cache.application(WAITED_ON)["metadata"]["resourceVersion"] == "3"  # type: ignore[index]
    assert total(metrics.argocd_errors, "_total") == 1  # the read of "gone" failed, and was counted


def test_the_loop_heals_on_its_own_schedule(controller: Controller, monkeypatch: pytest.MonkeyPatch) -> None:
    """Running, the loop re-reads a quiet awaited Application within an interval, and lists every
    Application only on the much longer relist interval."""
    monkeypatch.setattr(loop, "APP_HEAL_SECONDS", 0.2)
    lists: list[float] = []

    class Argo(Reads):
        def list_applications(self) -> list[dict[str, Any]]:
            lists.append(time.monotonic())
            return [app("a1-app"), app("b1-app"), app("unmanaged")]

        def watch(self, on_event: Any, stop: threading.Event) -> None:
            stop.wait()

    controller.argo = Argo({WAITED_ON: app("a1-app", version="5")})  # type: ignore[assignment]
    controller.kube = QuietKube(controller.cache)  # type: ignore[assignment]
    controller.resync_seconds = 0.1
    with running(controller):
        deadline = time.monotonic() + 10
        while not controller.argo.reads and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.05)
    assert controller.argo.reads[:1] == [WAITED_ON]  # type: ignore[attr-defined]
    assert len(lists) == 1  # the watch's first list; the next is APP_RELIST_SECONDS away
