"""The decision core's cost at scale: one full resync over 1,000 Tracks x 3 Stations, 1,000 tickets.

Run as its own process by bench_daemon.py so its peak RSS is the core's alone. Prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import time

from k8sta_cmp.contract import ImagePin
from k8sta_daemon.core import decide, model

TRACKS, STATIONS = 1000, 3


def commit(*parts: object) -> str:
    return ((f"{abs(hash(parts)):040x}") * 2)[:40]


def build_world(now: float) -> model.World:
    tracks, stations, tickets, apps = [], [], [], {}
    for t in range(TRACKS):
        ns = f"team-{t % 20}"
        names = [f"s{t}-{s}" for s in range(STATIONS)]
        tracks.append(model.TrackSpec(ns, f"track-{t}", tuple(names)))
        for s, name in enumerate(names):
            app = model.AppRef("argocd", f"app-{t}-{s}")
            stations.append(model.StationSpec(ns, name, applications=(app,)))
        # One ticket per track, in flight at a station that varies; its app arrived or still syncing.
        at = t % STATIONS
        app = model.AppRef("argocd", f"app-{t}-{at}")
        sha = commit(t, at)
        record = model.JourneyRecord(station=names[at], state=model.JourneyState.ENTERED, entered_at=now - 30,
                                     pushed=(model.PushedCommit(app, "file:///repo", f"env/{t}-{at}", sha),))
        status = model.TicketStatus(state=model.TicketState.DEPLOYING, station=names[at], journey=(record,))
        tickets.append(model.Ticket(ns, f"ticket-{t}", f"uid-{t}", now - 60, f"track-{t}",
                                    model.Snapshot(commit("cfg", t), (ImagePin("ghcr.io/acme/api", f"1.{t}"),)),
                                    status=status))
        arrived = t % 2 == 0
        apps[app] = model.AppStatus(
            sync_status=model.SyncStatus.SYNCED if arrived else model.SyncStatus.OUT_OF_SYNC,
            synced_revision=sha if arrived else commit("old", t),
            operation_phase=model.OperationPhase.SUCCEEDED, operation_revision=sha if arrived else None,
            operation_started_at=now - 20, operation_finished_at=now - 10, reconciled_at=now - 5,
            health=model.HealthStatus.HEALTHY)
    return model.World.build(now, tracks, stations, tickets, apps)


def main() -> None:
    now = time.time()
    started = time.perf_counter()
    world = build_world(now)
    built = time.perf_counter() - started
    started = time.perf_counter()
    actions = decide.decide(world)
    resync = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tracks": TRACKS, "stations": TRACKS * STATIONS, "tickets": len(world.tickets),
                      "actions": len(actions), "build_seconds": round(built, 3), "resync_seconds": round(resync, 3),
                      "peak_rss_mb": round(rss_mb, 1)}))


if __name__ == "__main__":
    main()
