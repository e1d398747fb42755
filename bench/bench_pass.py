"""One decision pass of the real controller loop, off the stack: event-driven and full, at N Tracks.

The loop (``reactor.loop.Controller``) with its cache filled as the watches fill it: N Tracks x 3
Stations (one Application each), one ticket per Track travelling (Deploying at its first Station), and
300 Applications no Station names. The executor records and does nothing. Each event-driven pass follows
one Ticket event (a new resourceVersion of one ticket, as a status write's watch event brings), and
every pass is measured in CPU seconds of this thread (``time.thread_time``), median of many:
    pass N=10: event 0.XX ms, full X.XX ms | N=30: ... | N=100: ... | N=1000: ...
Issue 11 goal: the event-driven pass costs what changed, flat in N; the full pass (every
``--resync-seconds``) is linear in N. ``--profile N`` prints cProfile's top entries of the
event-driven passes at that size instead.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time
from typing import Any

from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import actions, authorization, codec, model
from k8sta_daemon.reactor.cache import Cache, View
from k8sta_daemon.reactor.execution import PassResult
from k8sta_daemon.reactor.loop import Controller

COMMIT = "c" * 40


def meta(ns: str, name: str, version: int) -> dict[str, Any]:
    return {"namespace": ns, "name": name, "resourceVersion": str(version),
            "creationTimestamp": "2026-12-01T10:00:00Z"}


def app(name: str, version: int = 1, authorized: str | None = None) -> dict[str, Any]:
    """``authorized``: the namespace the Application opted in to (core.authorization); None: unmanaged."""
    annotations = {authorization.ANNOTATION: authorized} if authorized else {}
    return {"metadata": {"namespace": "argocd", "name": name, "resourceVersion": str(version),
                         "annotations": annotations},
            "spec": {"source": {"repoURL": "file:///r", "targetRevision": f"env/{name}", "path": "."}},
            "status": {"sync": {"status": "Synced", "revision": COMMIT}, "health": {"status": "Healthy"}}}


def ticket(t: int, version: int) -> dict[str, Any]:
    return {"kind": "Ticket", "metadata": meta(f"team-{t % 20}", f"ticket-{t}", version),
            "spec": {"track": f"track-{t}", "snapshot": {"configCommit": COMMIT}},
            "status": codec.ticket_status_to_dict(model.TicketStatus(
                state=model.TicketState.DEPLOYING, station=f"s{t}-0", journey=(model.JourneyRecord(
                    station=f"s{t}-0", state=model.JourneyState.ENTERED, entered_at=1_795_999_000.0),)))}


class Recorder:
    def execute(self, planned: list[actions.Action], world: model.World, view: View) -> PassResult:
        return PassResult(done=0)


def controller(tracks: int, unrelated: int = 300) -> Controller:
    cache = Cache()
    cache.replace_all("Track", [{"kind": "Track", "metadata": meta(f"team-{t % 20}", f"track-{t}", 1),
                                 "spec": {"stations": [f"s{t}-{s}" for s in range(3)]}} for t in range(tracks)])
    cache.replace_all("Station", [
        {"kind": "Station", "metadata": meta(f"team-{t % 20}", f"s{t}-{s}", 1),
         "spec": {"applications": [{"name": f"app-{t}-{s}", "namespace": "argocd"}]}}
        for t in range(tracks) for s in range(3)])
    cache.replace_all("Ticket", [ticket(t, 1) for t in range(tracks)])
    cache.set_apps([app(f"app-{t}-{s}", authorized=f"team-{t % 20}") for t in range(tracks) for s in range(3)]
                   + [app(f"unmanaged-{u}") for u in range(unrelated)])
    return Controller(kube=None, argo=None, executor=Recorder(), cache=cache,  # type: ignore[arg-type]
                      metrics=Metrics(), clock=lambda: 1_796_000_000.0)


def measure(tracks: int, rounds: int) -> tuple[float, float]:
    """Median CPU ms of an event-driven pass and of a full pass."""
    loop = controller(tracks)
    loop.reconcile(full=True)
    assert not loop.standing.malformed, loop.standing.malformed  # a malformed ticket makes every pass whole
    event, full = [], []
    for i in range(rounds):
        loop.cache.apply("Ticket", "MODIFIED", ticket(i % tracks, 2 + i))
        started = time.thread_time()
        loop.reconcile(full=False)
        event.append(time.thread_time() - started)
        if i % 10 == 0:
            started = time.thread_time()
            loop.reconcile(full=True)
            full.append(time.thread_time() - started)
    return statistics.median(event) * 1000, statistics.median(full) * 1000


def profile(tracks: int, rounds: int) -> None:
    loop = controller(tracks)
    loop.reconcile(full=True)
    profiler = cProfile.Profile()
    for i in range(rounds):
        loop.cache.apply("Ticket", "MODIFIED", ticket(i % tracks, 2 + i))
        profiler.enable()
        loop.reconcile(full=False)
        profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,30,100,1000")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--profile", type=int, default=None, help="cProfile the event-driven passes at N")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.rounds)
        return
    figures = []
    for n in (int(s) for s in args.sizes.split(",")):
        event, full = measure(n, args.rounds)
        figures.append(f"N={n}: event {event:.2f} ms, full {full:.2f} ms")
    print(f"pass {' | '.join(figures)}; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
