"""Benchmark the daemon: decision latency on the real local stack, and the decision core at scale.

1. Latency: from "Argo CD reports arrival" (the Application event that completes a Station's
   arrival) to "the next Station's branches are pushed", measured inside the controller
   (``k8sta_decision_latency_seconds``), for tickets riding a 5-Station Track on the real stack.
2. Scale: one full re-decision over 1,000 Tracks x 3 Stations with 1,000 tickets in flight,
   in its own process (bench/decide_cost.py) so its peak RSS is the core's alone.

Ends with: decision latency p50 X s, p99 Y s; resync 1000x3 Z s, peak RSS W MB
Goals: p50 <= 0.2 s, p99 <= 1 s; resync <= 10 s, <= 256 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from kubernetes import client as k8s

from k8sta_daemon import main as daemon_main
from k8sta_daemon.adapters import settings
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_devstack import kube as devkube
from k8sta_devstack import railway as rail
from k8sta_devstack import stack as devstack
from k8sta_devstack.gitrepo import ConfigRepo

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ("s1", "s2", "s3", "s4", "s5")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure_latency(tickets: int, workdir: Path) -> list[float]:
    with devstack.running(workdir / "stack") as stack:
        api = devkube.api_client(stack.kubeconfig)
        rail.apply_crds(api, ROOT / "kustomize/crds")
        suffix = secrets.token_hex(3)
        namespace = f"bench-{suffix}"
        k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
        world = rail.Railway(api, namespace, ConfigRepo.create(workdir / "config.git"), suffix)
        files = rail.base()
        for station in STATIONS:
            files.update(rail.overlay(station))
        config = world.commit(files)
        for station in STATIONS:
            world.application(station)
            world.station(station, [station])
        world.track("line", list(STATIONS))

        environ = dict(os.environ)
        config_settings = settings.parse(
            ["--cache-dir", str(workdir / "cache"), "--kubeconfig", str(stack.kubeconfig),
             "--argocd-url", stack.argocd_url, "--argocd-token-file", str(stack.token_file),
             "--namespace", namespace, "--no-leader-election", "--resync-seconds", "5"],
            environ)
        metrics = Metrics()
        controller = daemon_main.build(config_settings, environ, metrics)
        stop = threading.Event()
        runner = threading.Thread(target=controller.run, args=(stop,), daemon=True)
        runner.start()
        try:
            for n in range(tickets):
                world.ticket(f"t-{n}", "line", config, f"1.0.{n}")
                world.wait(f"t-{n} Completed", lambda n=n: world.state(f"t-{n}") == "Completed", timeout=300)
                print(f"ticket {n + 1}/{tickets} completed; {len(metrics.latencies)} latency samples", flush=True)
        finally:
            stop.set()
            runner.join(timeout=10)
        return list(metrics.latencies)


def measure_core() -> dict[str, float]:
    out = subprocess.run([sys.executable, str(ROOT / "bench/decide_cost.py")], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=8, help="tickets riding the 5-Station track")
    args = parser.parse_args()
    core = measure_core()
    print(f"decision core: {json.dumps(core)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="k8sta-bench-") as tmp:
        samples = measure_latency(args.tickets, Path(tmp))
    if not samples:
        raise SystemExit("bench: no latency samples were recorded")
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    print(f"latency samples: {len(samples)}, min {min(samples):.3f} s, max {max(samples):.3f} s")
    print(f"decision latency p50 {p50:.3f} s, p99 {p99:.3f} s; resync 1000x3 {core['resync_seconds']:.2f} s, "
          f"peak RSS {core['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
