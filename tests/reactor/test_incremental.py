"""An event-driven pass decides only the Tracks its change concerns (``core.scope`` through the loop).

Pure: the daemon's cache and loop, fed as the watches feed them; the executor only records what it was
given. Tracks ``a`` and ``b`` share Station ``shared``; Track ``c`` shares nothing with either.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from k8sta_daemon.adapters.metrics import Metrics, total
from k8sta_daemon.core import actions, authorization, codec, decide, model, station_status
from k8sta_daemon.reactor.cache import Cache, View
from k8sta_daemon.reactor.execution import PassResult
from k8sta_daemon.reactor.loop import Controller

NS = "team"
COMMIT = "a" * 40


def meta(name: str, version: str) -> dict[str, Any]:
    return {"namespace": NS, "name": name, "resourceVersion": version, "creationTimestamp": "2026-12-01T10:00:00Z"}


def track(name: str, *stations: str, version: str = "1") -> dict[str, Any]:
    return {"kind": "Track", "metadata": meta(name, version), "spec": {"stations": list(stations)}}


def station(name: str, app: str, version: str = "1") -> dict[str, Any]:
    return {"kind": "Station", "metadata": meta(name, version),
            "spec": {"applications": [{"name": app, "namespace": "argocd"}]}}


def ticket(name: str, on: str, version: str = "1") -> dict[str, Any]:
    return {"kind": "Ticket", "metadata": meta(name, version),
            "spec": {"track": on, "snapshot": {"configCommit": COMMIT}}}


def app(name: str, version: str = "1") -> dict[str, Any]:
    return {"metadata": {"namespace": "argocd", "name": name, "resourceVersion": version,
                         "annotations": {authorization.ANNOTATION: NS}},  # opted in to the Stations' namespace
            "spec": {"source": {"repoURL": "file:///r", "targetRevision": f"env/{name}", "path": "."}},
            "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}}


class Recorder:
    """The executor's place in the loop: remembers each pass's actions and takes none."""

    def __init__(self) -> None:
        self.passes: list[list[actions.Action]] = []

    def execute(self, planned: list[actions.Action], world: model.World, view: View) -> PassResult:
        self.passes.append(list(planned))
        return PassResult(done=0)


@pytest.fixture
def decided(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The names of the Tracks each decision was given."""
    seen: list[set[str]] = []
    real = decide.decide

    def recording(world: model.World) -> list[actions.Action]:
        seen.append({ref.name for ref in world.tracks})
        return real(world)

    monkeypatch.setattr(decide, "decide", recording)
    return seen


@pytest.fixture
def controller() -> Controller:
    cache = Cache()
    cache.replace_all("Track", [track("a", "a1", "shared"), track("b", "shared", "b1"), track("c", "c1")])
    cache.replace_all("Station", [station(s, f"{s}-app") for s in ("a1", "shared", "b1", "c1")])
    cache.replace_all("Ticket", [ticket("a-1", "a"), ticket("b-1", "b"), ticket("c-1", "c")])
    cache.set_apps([app(f"{s}-app") for s in ("a1", "shared", "b1", "c1")] + [app("unmanaged")])
    return Controller(kube=None, argo=None, executor=Recorder(), cache=cache,  # type: ignore[arg-type]
                      metrics=Metrics(), clock=lambda: 1_796_000_000.0)


def test_the_first_pass_decides_every_track(controller: Controller, decided: list[set[str]]) -> None:
    controller.reconcile(full=False)  # nothing decided yet: every kind was just listed
    assert decided == [{"a", "b", "c"}]


def test_a_ticket_event_decides_its_track_and_those_sharing_a_station_not_the_others(
        controller: Controller, decided: list[set[str]]) -> None:
    controller.reconcile()
    decided.clear()
    controller.cache.apply("Ticket", "MODIFIED", ticket("c-1", "c", version="2"))
    controller.reconcile(full=False)
    assert decided == [{"c"}]
    decided.clear()
    controller.cache.apply("Ticket", "MODIFIED", ticket("a-1", "a", version="2"))
    controller.reconcile(full=False)
    assert decided == [{"a", "b"}]  # b shares Station "shared" with a


def test_an_application_event_decides_the_tracks_of_the_stations_naming_it(
        controller: Controller, decided: list[set[str]]) -> None:
    controller.reconcile()
    decided.clear()
    controller.cache.apply_app("MODIFIED", app("c1-app", version="2"))
    controller.reconcile(full=False)
    assert decided == [{"c"}]


def test_an_unmanaged_application_event_decides_nothing(controller: Controller, decided: list[set[str]]) -> None:
    controller.reconcile()
    passes = total(controller.metrics.decision_seconds, "_count")
    decided.clear()
    controller.cache.apply_app("MODIFIED", app("unmanaged", version="2"))
    controller.reconcile(full=False)
    assert decided == []
    assert total(controller.metrics.decision_seconds, "_count") == passes


def test_argo_cd_refusing_a_sync_is_decided_like_an_event_of_its_application(
        controller: Controller, decided: list[set[str]]) -> None:
    """The executor keeps Argo CD's refusal in the cache; the kept World shows it on the Application."""
    controller.reconcile()
    decided.clear()
    ref = model.AppRef("argocd", "c1-app")
    refusal = model.SyncRefusal(COMMIT, "HTTP 403: cannot sync: blocked by sync window")
    controller.cache.wake.clear()
    controller.cache.set_refusal(ref, refusal)
    assert controller.cache.wake.is_set()
    controller.reconcile(full=False)
    assert decided == [{"c"}] and controller.standing.apps[ref].sync_refused == refusal
    controller.cache.set_refusal(ref, refusal)  # the same answer again: nothing new to decide
    controller.reconcile(full=False)
    assert decided == [{"c"}]
    controller.cache.set_refusal(ref, None)  # a request was accepted
    controller.reconcile(full=False)
    assert decided == [{"c"}, {"c"}] and controller.standing.apps[ref].sync_refused is None
    controller.cache.set_refusal(model.AppRef("argocd", "unmanaged"), refusal)
    controller.reconcile(full=False)
    assert len(decided) == 2


def test_a_station_edit_decides_every_track_listing_it(controller: Controller, decided: list[set[str]]) -> None:
    controller.reconcile()
    decided.clear()
    controller.cache.apply("Station", "MODIFIED", station("b1", "b1-app", version="2"))
    controller.reconcile(full=False)
    assert decided == [{"a", "b"}]


def test_a_deletion_or_the_resync_decides_everything(controller: Controller, decided: list[set[str]]) -> None:
    controller.reconcile()
    decided.clear()
    controller.cache.apply("Ticket", "DELETED", ticket("c-1", "c", version="2"))
    controller.reconcile(full=False)
    assert decided == [{"a", "b", "c"}]
    decided.clear()
    controller.reconcile(full=True)
    assert decided == [{"a", "b", "c"}]


def test_the_decision_of_a_part_is_the_whole_decision_about_its_tracks(controller: Controller) -> None:
    controller.reconcile()
    whole = controller.executor.passes[-1]  # type: ignore[attr-defined]
    controller.cache.apply("Ticket", "MODIFIED", ticket("c-1", "c", version="2"))
    controller.reconcile(full=False)
    part = controller.executor.passes[-1]  # type: ignore[attr-defined]
    about_c = [a for a in whole if getattr(a, "ticket", None) == model.TicketRef(NS, "c-1")
               or getattr(a, "track", None) == model.TrackRef(NS, "c")]
    assert part and part == about_c


class Broken(Recorder):
    def execute(self, planned: list[actions.Action], world: model.World, view: View) -> PassResult:
        raise RuntimeError("boom")


def test_a_pass_that_fails_is_decided_again_in_full(controller: Controller, decided: list[set[str]]) -> None:
    controller.reconcile()
    controller.cache.apply("Ticket", "MODIFIED", ticket("c-1", "c", version="2"))
    working, controller.executor = controller.executor, Broken()  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        controller.reconcile(full=False)
    controller.executor = working
    decided.clear()
    controller.reconcile(full=False)
    assert decided == [{"a", "b", "c"}]


class QuietKube:
    """The watches' side of the API: every kind listed once (from the fixture's cache), then quiet."""

    namespace = NS

    def __init__(self, cache: Cache) -> None:
        self.items = {kind: list(cache.objects[kind].values()) for kind in ("Track", "Station", "Ticket")}

    def watch(self, kind: str, on_event: Any, on_resync: Any, stop: Any) -> None:
        on_resync(self.items[kind])
        stop.wait()


class QuietArgo:
    def __init__(self, apps: list[dict[str, Any]]) -> None:
        self.apps = apps

    def list_applications(self) -> list[dict[str, Any]]:
        return self.apps

    def watch(self, on_event: Any, stop: Any) -> None:
        stop.wait()


@contextmanager
def running(controller: Controller) -> Iterator[None]:
    """The controller's own loop (``run``) in a thread, stopped on the way out."""
    stop = threading.Event()
    runner = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    runner.start()
    try:
        yield
    finally:
        stop.set()
        runner.join(timeout=5)


def test_a_full_pass_runs_every_resync_interval_also_under_a_steady_stream_of_events(
        controller: Controller, decided: list[set[str]]) -> None:
    controller.kube = QuietKube(controller.cache)  # type: ignore[assignment]
    controller.argo = QuietArgo(list(controller.cache.apps.values()))  # type: ignore[assignment]
    controller.resync_seconds = 0.3
    with running(controller):
        deadline = time.monotonic() + 1.5
        version = 1
        while time.monotonic() < deadline:  # an event every 10 ms: the loop never waits out a timeout
            version += 1
            controller.cache.apply_app("MODIFIED", app("c1-app", version=str(version)))
            time.sleep(0.01)
    full = [tracks for tracks in decided if tracks == {"a", "b", "c"}]
    parts = [tracks for tracks in decided if tracks == {"c"}]
    assert len(full) >= 3, decided  # ~1.5 s / 0.3 s, the first included
    assert parts and len(parts) > len(full)


def held(name: str, on: str, at: str, version: str) -> dict[str, Any]:
    obj = ticket(name, on, version)
    obj["status"] = {"state": "Deploying", "station": at}
    return obj


def test_the_world_kept_across_passes_is_the_world_rebuilt_from_the_cache(controller: Controller) -> None:
    """Each event updates only what it names (``reactor.standing``); after every one the kept World is
    what a rebuild from the same cache gives, and a part decides as the whole World decides it."""
    controller.reconcile()
    events: list[tuple[str, str, dict[str, Any]]] = [
        ("Ticket", "MODIFIED", held("c-1", "c", "b1", "2")),  # holds a Station off its Track
        ("Station", "MODIFIED", station("c1", "new-app", "2")),  # names another Application
        ("Application", "MODIFIED", app("new-app")),
        ("Track", "MODIFIED", track("c", "c1", "shared", version="2")),
        ("Ticket", "ADDED", {"kind": "Ticket", "metadata": meta("broken", "1"), "spec": {"track": 7}}),
        ("Ticket", "MODIFIED", ticket("broken", "c", "2")),  # mended
        ("Application", "MODIFIED", app("c1-app", "2")),
        ("Station", "MODIFIED", station("c1", "c1-app", "3")),  # new-app no longer named
    ]
    for kind, event, obj in events:
        if kind == "Application":
            controller.cache.apply_app(event, obj)
        else:
            controller.cache.apply(kind, event, obj)
        controller.reconcile(full=False)
        kept = controller.standing.world(0.0)
        rebuilt = Controller(kube=None, argo=None, executor=Recorder(), cache=controller.cache,  # type: ignore[arg-type]
                             metrics=Metrics()).world()
        assert kept == dataclasses.replace(rebuilt, now=0.0), f"after {kind} {obj['metadata']['name']}"
        assert {s: n for s, n in controller.standing.index.states.items() if n} == {
            s: n for s in model.TicketState if (n := sum(t.status.state is s for t in kept.tickets.values()))}
    assert app("new-app")["metadata"]["name"] not in {ref.name for ref in kept.apps}


def test_a_malformed_ticket_makes_every_pass_decide_the_whole_world(
        controller: Controller, decided: list[set[str]]) -> None:
    """A malformed ticket is read across Tracks (it keeps its Station, and no Track knows it): while one
    exists, an event-driven pass decides every Track; once it is mended, parts again."""
    controller.reconcile()
    controller.cache.apply("Ticket", "ADDED", {"kind": "Ticket", "metadata": meta("broken", "1"),
                                               "spec": {"track": 7}})
    controller.reconcile(full=False)
    decided.clear()
    controller.cache.apply("Ticket", "MODIFIED", ticket("c-1", "c", version="2"))
    controller.reconcile(full=False)
    assert decided == [{"a", "b", "c"}]
    controller.cache.apply("Ticket", "MODIFIED", ticket("broken", "c", "2"))
    controller.reconcile(full=False)
    decided.clear()
    controller.cache.apply("Ticket", "MODIFIED", ticket("a-1", "a", version="2"))
    controller.reconcile(full=False)
    assert decided == [{"a", "b"}]


class Heads:
    """The drift watcher's findings (``reactor.drift.DriftWatcher``): no hand edits, these re-renders."""

    def __init__(self, *rerendered: model.Rerendered) -> None:
        self.found = rerendered

    def current(self) -> tuple[model.Drift, ...]:
        return ()

    def rerendered(self) -> tuple[model.Rerendered, ...]:
        return self.found

    def heads(self) -> dict[model.AppRef, station_status.BranchHead]:
        return {}


def visiting(name: str, on: str, at: str, commit: str, version: str) -> dict[str, Any]:
    """A ticket Deploying at ``at``, whose push there made ``commit`` on ``<at>-app``'s branch."""
    obj = ticket(name, on, version)
    pushed = model.PushedCommit(model.AppRef("argocd", f"{at}-app"), "file:///r", f"env/{at}-app", commit)
    record = model.JourneyRecord(at, model.JourneyState.ENTERED, entered_at=1_795_999_000.0, pushed=(pushed,))
    obj["status"] = codec.ticket_status_to_dict(model.TicketStatus(
        state=model.TicketState.DEPLOYING, station=at, journey=(record,)))
    return obj


def test_a_rerendered_head_leaves_later_passes_deciding_only_what_changed(
        controller: Controller, decided: list[set[str]]) -> None:
    """A re-render stays the branch head until the next push; only the visit it names reads it, so an
    event-driven pass still decides only what its change concerns, and that visit adopts the head."""
    head = "b" * 40
    controller.drift = Heads(model.Rerendered(model.AppRef("argocd", "a1-app"), "env/a1-app", head,  # type: ignore[assignment]
                                              ticket=f"{NS}/a-1", station="a1"))
    controller.cache.apply("Ticket", "MODIFIED", visiting("a-1", "a", "a1", COMMIT, "2"))
    controller.reconcile()  # the watcher's on_change (Cache.mark_all) makes a new re-render's pass full
    decided.clear()
    controller.cache.apply("Ticket", "MODIFIED", ticket("c-1", "c", version="2"))
    controller.reconcile(full=False)
    assert decided == [{"c"}]
    controller.cache.apply("Ticket", "MODIFIED", visiting("a-1", "a", "a1", COMMIT, "3"))
    controller.reconcile(full=False)
    assert decided[-1] == {"a", "b"}
    (status,) = [a.status for a in controller.executor.passes[-1]  # type: ignore[attr-defined]
                 if isinstance(a, actions.UpdateTicketStatus) and a.ticket == model.TicketRef(NS, "a-1")]
    assert status.current is not None and status.current.pushed_commit(model.AppRef("argocd", "a1-app")) == head


class Claims:
    """The namespaces this controller holds (``adapters.leader.NamespaceClaims.held``)."""

    def __init__(self, *held: str) -> None:
        self.namespaces = set(held)

    def held(self) -> set[str]:
        return set(self.namespaces)


def test_objects_of_a_namespace_another_controller_holds_never_enter_the_kept_world(
        controller: Controller, decided: list[set[str]]) -> None:
    controller.claims = Claims(NS)  # type: ignore[assignment]
    controller.reconcile()
    theirs = {**track("x", "x1"), "metadata": {**meta("x", "1"), "namespace": "theirs"}}
    their_station = {**station("x1", "x1-app"), "metadata": {**meta("x1", "1"), "namespace": "theirs"}}
    their_ticket = {**ticket("x-1", "x"), "metadata": {**meta("x-1", "1"), "namespace": "theirs"}}
    for kind, obj in (("Track", theirs), ("Station", their_station), ("Ticket", their_ticket)):
        controller.cache.apply(kind, "ADDED", obj)
    decided.clear()
    controller.reconcile(full=False)
    index = controller.standing.index
    assert {ref.namespace for ref in (*index.tracks, *index.stations, *index.tickets)} == {NS}
    assert all("x" not in tracks for tracks in decided)
    controller.claims.namespaces.add("theirs")  # type: ignore[attr-defined]
    controller.cache.mark_all()  # as the claims thread does when what it holds changes: rebuilt with them
    controller.reconcile(full=False)
    assert model.TrackRef("theirs", "x") in controller.standing.index.tracks


def test_a_freeze_on_one_track_decides_every_track_and_each_part_sees_it(
        controller: Controller, decided: list[set[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """``k8sta freeze`` annotates every Track, one write at a time: the first one already stops the
    namespace, so that pass decides every Track, and later parts (a ticket event of c alone) still see
    the freeze; the last annotation removed frees them all in one pass."""
    frozen_seen: list[dict[str, str]] = []
    recording = decide.decide

    def seeing(world: model.World) -> list[actions.Action]:
        frozen_seen.append(dict(world.frozen))
        return recording(world)

    monkeypatch.setattr(decide, "decide", seeing)
    controller.reconcile()
    decided.clear()
    frozen_seen.clear()
    annotated = track("a", "a1", "shared", version="2")
    annotated["metadata"]["annotations"] = {codec.FREEZE_ANNOTATION: "incident 7"}
    controller.cache.apply("Track", "MODIFIED", annotated)
    controller.reconcile(full=False)
    assert decided == [{"a", "b", "c"}] and frozen_seen == [{NS: "incident 7"}]
    controller.cache.apply("Ticket", "MODIFIED", ticket("c-1", "c", version="2"))
    controller.reconcile(full=False)
    assert decided[-1] == {"c"} and frozen_seen[-1] == {NS: "incident 7"}
    controller.cache.apply("Track", "MODIFIED", track("a", "a1", "shared", version="3"))
    controller.reconcile(full=False)
    assert decided[-1] == {"a", "b", "c"} and frozen_seen[-1] == {}
