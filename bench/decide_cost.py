"""The decision core's cost at scale: one full resync over N Tracks x 3 Stations, one ticket per Track.

``--tracks N`` measures one size in this process and prints one JSON line (bench_daemon.py runs it
with 1,000 so the peak RSS is the core's alone). Without it, each of 1,000 and 10,000 runs in its own
process and the figures are printed side by side:
    decide 1000x3: ... | 10000x3: ...
Targets at 10,000: resync (World build + decide) <= 3 s, peak RSS <= 512 MB, ~linear (ratio ~10).
Times are CPU seconds of this process (``time.process_time``), steadier than wall time on a shared
machine; wall seconds are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from k8sta_cmp.contract import ImagePin
from k8sta_daemon.core import decide, model
from k8sta_daemon.reactor.loop import cyclic_gc_paused

STATIONS = 3


def commit(*parts: object) -> str:
    return ((f"{abs(hash(parts)):040x}") * 2)[:40]


def build_world(now: float, tracks_count: int) -> model.World:
    tracks, stations, tickets, apps = [], [], [], {}
    for t in range(tracks_count):
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
            health=model.HealthStatus.HEALTHY, authorized_namespaces=ns)  # opted in (core.authorization)
    return model.World.build(now, tracks, stations, tickets, apps)


def measure(tracks: int) -> dict[str, float]:
    now = time.time()
    with cyclic_gc_paused():  # as the reactor's pass runs (reactor/loop.py)
        cpu, wall = time.process_time(), time.perf_counter()
        world = build_world(now, tracks)
        built_cpu, built_wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu, wall = time.process_time(), time.perf_counter()
        actions = decide.decide(world)
        decide_cpu, decide_wall = time.process_time() - cpu, time.perf_counter() - wall
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"tracks": tracks, "stations": tracks * STATIONS, "tickets": len(world.tickets), "actions": len(actions),
            "build_seconds": round(built_cpu, 3), "resync_seconds": round(decide_cpu, 3),
            "total_seconds": round(built_cpu + decide_cpu, 3), "wall_seconds": round(built_wall + decide_wall, 3),
            "peak_rss_mb": round(rss_mb, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, help="measure this size only; print one JSON line")
    args = parser.parse_args()
    if args.tracks:
        print(json.dumps(measure(args.tracks)))
        return
    results = []
    for tracks in (1000, 10_000):
        out = subprocess.run([sys.executable, __file__, "--tracks", str(tracks)], capture_output=True, text=True,
                             check=True)
        results.append(json.loads(out.stdout))
        print(out.stdout.strip(), flush=True)
    small, large = results

    def show(r: dict[str, float]) -> str:
        return (f"{r['tracks']}x{STATIONS}: build {r['build_seconds']:.2f} s + decide {r['resync_seconds']:.2f} s "
                f"= {r['total_seconds']:.2f} s CPU ({r['wall_seconds']:.2f} s wall), "
                f"peak RSS {r['peak_rss_mb']:.0f} MB")

    ratio = large["total_seconds"] / max(small["total_seconds"], 1e-9)
    print(f"decide {show(small)} | {show(large)}; 10k/1k ratio {ratio:.1f} (linear: 10); "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
