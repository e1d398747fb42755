"""Benchmark the controller at scale on the real stack: N Tracks x 3 Stations, one ticket per Track.

For each N (``--sizes``, default 10,30,100) in a namespace of its own: N Tracks of 3 Stations, each
Station one Argo CD Application (a one-replica Deployment on the KWOK node plus a Service, rendered by
our plugin from a real git repository, automated sync), beside ``--unrelated`` (300) Applications K8sTA
does not manage (one ConfigMap each, a plain directory source, automated sync). A fresh ``k8sta-daemon``
process per N, so its CPU (``/proc/<pid>/stat``: itself, and its waited-for children: git, kustomize) and
peak RSS (``VmHWM``) are its own; its counters come from its ``/metrics`` (adapters/metrics.py).

1. **Unrelated Applications.** With no ticket in flight: 15 s idle, then 15 s during which every
   unrelated Application is refreshed (annotation ``argocd.argoproj.io/refresh``, so Argo CD reconciles
   it and streams events): passes and CPU of both windows, and how many events were unmanaged.
2. **Promotions.** One ticket per Track, created at once; wait until every ticket is Completed.
   Total time is from just before the first ticket was created to the last ticket's completion (its
   final journey record's ``departedAt``, written by the controller).

Argo CD's own time for the same Applications, from each one's ``status.operationState`` (one sync per
Application: the ticket's): **critical path** = the longest Track's sum of its 3 operations'
``finishedAt - startedAt`` (what the total could be if nothing but Argo CD's syncs took time and
Tracks ran fully in parallel) and **span** = first ``startedAt`` to last ``finishedAt`` over all of
them (Argo CD's busy window, which includes our work between Stations). Each visit is also broken
down (medians): entered -> K8sTA's commit (git committer time) -> operation started -> finished ->
arrival seen -> next Station entered. Argo CD's times have 1 s resolution.

Prints one ``scale N=...`` line per N. Goals (issue 11): CPU and requests per promotion flat in N,
unrelated Applications cost nothing measurable, peak RSS <= 256 MB at N = 100, total time within 10% of
Argo CD's own. Figures only: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from prometheus_client.parser import text_string_to_metric_families

from k8sta_daemon.core import codec, sources
from k8sta_devstack import argocd as devargocd
from k8sta_devstack import binaries, processes
from k8sta_devstack import kube as devkube
from k8sta_devstack import railway as rail
from k8sta_devstack import stack as devstack
from k8sta_devstack.gitrepo import ConfigRepo

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ("s1", "s2", "s3")
UNRELATED_NS = "unrelated"
ARGO = ("argoproj.io", "v1alpha1")
CLK_TCK = os.sysconf("SC_CLK_TCK")
STUCK = ("Failed", "Superseded", "Abandoned")  # a ticket in one of these never completes


def dump(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False).encode()


# -- the world ------------------------------------------------------------------------------------


def config_files() -> dict[str, bytes]:
    """The railway's base plus one overlay per Station position (a one-replica Deployment): every
    Track's Station k deploys env/s<k> (annotation ``k8sta.io/overlay``) onto its own app branch."""
    files = rail.base()
    for station in STATIONS:
        files[f"env/{station}/kustomization.yaml"] = dump({"resources": ["../../base", "workload.yaml"]})
        files[f"env/{station}/workload.yaml"] = dump(rail.deployment(replicas=1))
    return files


def application(name: str, source: dict[str, Any], namespace: str,
                annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": rail.ARGOCD_NS, "annotations": annotations or {}},
            "spec": {"project": "default", "source": source,
                     "destination": {"server": rail.IN_CLUSTER, "namespace": namespace},
                     "syncPolicy": {"syncOptions": ["CreateNamespace=true"], "automated": {"prune": True}}}}


def create_all(api: k8s.ApiClient, bodies: Iterable[Callable[[], Any]]) -> None:
    """Run the creations side by side (4 at a time: the client's connection pool)."""
    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(body) for body in bodies]:
            future.result()


def create_app(api: k8s.ApiClient, body: dict[str, Any]) -> None:
    k8s.CustomObjectsApi(api).create_namespaced_custom_object(*ARGO, rail.ARGOCD_NS, "applications", body)


def list_apps(api: k8s.ApiClient) -> dict[str, dict[str, Any]]:
    items = k8s.CustomObjectsApi(api).list_namespaced_custom_object(*ARGO, rail.ARGOCD_NS, "applications")["items"]
    return {a["metadata"]["name"]: a for a in items}


def unrelated_apps(api: k8s.ApiClient, workdir: Path, count: int) -> list[str]:
    """``count`` Applications nobody's Station names: a ConfigMap each from a plain directory."""
    repo = ConfigRepo.create(workdir / "unrelated.git")
    names = [f"unrelated-{i:03d}" for i in range(count)]
    repo.commit("main", {f"apps/{n}/configmap.yaml": dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}, "data": {"who": "not k8sta"}})
        for n in names}, "unrelated")
    with contextlib.suppress(k8s.ApiException):
        k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=UNRELATED_NS)))
    create_all(api, [lambda n=n: create_app(api, application(
        n, {"repoURL": repo.url, "targetRevision": "main", "path": f"apps/{n}"}, UNRELATED_NS)) for n in names])
    return names


def wait_apps(api: k8s.ApiClient, names: list[str], what: str, ready: Callable[[dict[str, Any]], bool],
              timeout: float, required: bool = True) -> float:
    """Seconds until every one of ``names`` is ``ready``; past ``timeout`` raise, or (not ``required``)
    say so and go on."""
    began = time.monotonic()
    wanted = set(names)
    while True:
        apps = list_apps(api)
        done = sum(1 for n in wanted if n in apps and ready(apps[n]))
        if done == len(wanted):
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            message = f"only {done}/{len(wanted)} Applications {what} within {timeout:.0f} s"
            if required:
                raise TimeoutError(message)
            print(f"  ({message}; going on)", flush=True)
            return time.monotonic() - began
        time.sleep(3)


def synced_healthy(app: dict[str, Any]) -> bool:
    status = app.get("status") or {}
    return ((status.get("sync") or {}).get("status") == "Synced"
            and (status.get("health") or {}).get("status") == "Healthy")


def reconciled(app: dict[str, Any]) -> bool:
    """Argo CD has looked at it once (its app branch does not exist yet: a ComparisonError is an answer)."""
    status = app.get("status") or {}
    return bool(status.get("reconciledAt") or status.get("conditions"))


def refresh_all(api: k8s.ApiClient, names: list[str]) -> None:
    custom = k8s.CustomObjectsApi(api)
    patch = {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}
    create_all(api, [lambda n=n: custom.patch_namespaced_custom_object(*ARGO, rail.ARGOCD_NS, "applications", n,
                                                                       patch) for n in names])


# -- the controller -------------------------------------------------------------------------------


@dataclass
class Daemon:
    """``k8sta-daemon`` of this checkout as a process of its own, for one namespace."""

    proc: subprocess.Popen[bytes]
    metrics_url: str

    @classmethod
    def start(cls, stack: devstack.Stack, namespace: str, workdir: Path) -> Daemon:
        port = processes.free_port()
        env = {**os.environ, "K8STA_LOG_LEVEL": "INFO", "K8STA_KUSTOMIZE": str(binaries.locate().kustomize),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "daemon"), str(ROOT / "cmp"),
                                              os.environ.get("PYTHONPATH", "")])}
        argv = [sys.executable, "-m", "k8sta_daemon.main", "--kubeconfig", str(stack.kubeconfig),
                "--argocd-url", stack.argocd_url, "--argocd-token-file", str(stack.token_file),
                "--input-key-file", str(stack.state_dir / devstack.INPUT_KEY_FILE),
                "--namespace", namespace, "--lease-namespace", namespace, "--no-leader-election",
                "--cache-dir", str(workdir / "cache"), "--metrics-port", str(port)]
        with (workdir / "daemon.log").open("ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        return cls(proc, f"http://127.0.0.1:{port}/metrics")

    def scrape(self) -> dict[str, float]:
        """Every sample, keyed ``name{label=value,...}``, plus ``name`` summed over its labels."""
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            text = response.read().decode()
        found: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()) if k != "le")
                if "le" in sample.labels:
                    continue
                found[f"{sample.name}{{{labels}}}"] = sample.value
                found[sample.name] = found.get(sample.name, 0.0) + sample.value
        return found

    def cpu(self) -> tuple[float, float]:
        """(its own user+sys, its waited-for children's) in seconds."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def wait_ready(self, timeout: float = 120) -> None:
        """Until its first decision pass: every kind listed, the namespace claimed."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"k8sta-daemon exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                if self.scrape().get("k8sta_decision_pass_seconds_count", 0) >= 1:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("k8sta-daemon made no decision pass")
            time.sleep(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@dataclass
class Window:
    """What the controller did between two readings."""

    seconds: float
    cpu: float
    children_cpu: float
    counters: dict[str, float]

    def get(self, name: str) -> float:
        return self.counters.get(name, 0.0)


def measure(daemon: Daemon, action: Callable[[], Any]) -> tuple[Window, Any]:
    before, (cpu0, child0), began = daemon.scrape(), daemon.cpu(), time.monotonic()
    result = action()
    after, (cpu1, child1) = daemon.scrape(), daemon.cpu()
    return Window(time.monotonic() - began, cpu1 - cpu0, child1 - child0,
                  {k: v - before.get(k, 0.0) for k, v in after.items()}), result


# -- one size -------------------------------------------------------------------------------------


def wait_completed(world: rail.Railway, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        tickets = world.tickets()
        states = [(t.get("status") or {}).get("state") for t in tickets]
        if len(tickets) == count and all(s == "Completed" for s in states):
            return tickets
        stuck = [t["metadata"]["name"] for t, s in zip(tickets, states, strict=True) if s in STUCK]
        if stuck or time.monotonic() > deadline:
            summary = {s: states.count(s) for s in set(states)}
            raise RuntimeError(f"tickets not all Completed ({summary}); stuck: {stuck[:5]}")
        time.sleep(1)


def operation(app: dict[str, Any]) -> tuple[float, float] | None:
    state = (app.get("status") or {}).get("operationState") or {}
    if not state.get("startedAt") or not state.get("finishedAt"):
        return None
    return codec.parse_time(state["startedAt"]), codec.parse_time(state["finishedAt"])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run_size(n: int, stack: devstack.Stack, api: k8s.ApiClient, unrelated: list[str], workdir: Path,
             timeout: float) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    suffix = secrets.token_hex(3)
    namespace = f"scale{n}-{suffix}"
    k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    repo = ConfigRepo.create(workdir / "config.git")
    world = rail.Railway(api, namespace, repo, suffix)
    config = world.commit(config_files())
    tracks = [f"t{i:03d}" for i in range(n)]
    apps: dict[str, list[str]] = {}  # track -> its Applications, in Station order
    bodies = []
    for track in tracks:
        for station in STATIONS:
            name = f"{track}-{station}-{suffix}"
            apps.setdefault(track, []).append(name)
            world.apps[f"{track}-{station}"] = name
            bodies.append(application(name, {"repoURL": repo.url, "targetRevision": f"env/{track}-{station}",
                                             "path": ".", "plugin": {"name": devargocd.PLUGIN_NAME}},
                                      f"{name}-ns", {sources.OVERLAY_ANNOTATION: f"env/{station}",
                                                     rail.AUTHORIZED_NAMESPACES: namespace}))
    began = time.monotonic()
    create_all(api, [lambda b=b: create_app(api, b) for b in bodies])
    create_all(api, [lambda t=t, s=s: world.station(f"{t}-{s}", [f"{t}-{s}"]) for t in tracks for s in STATIONS])
    create_all(api, [lambda t=t: world.track(t, [f"{t}-{s}" for s in STATIONS]) for t in tracks])
    managed = [a for names in apps.values() for a in names]
    settle = wait_apps(api, managed, "reconciled once", reconciled, 300, required=False)
    print(f"  N={n}: {len(managed)} Applications, {n * 3} Stations, {n} Tracks created; Argo CD reconciled them "
          f"in {time.monotonic() - began:.0f} s (last {settle:.0f} s)", flush=True)

    daemon = Daemon.start(stack, namespace, workdir)
    try:
        daemon.wait_ready()
        idle, _ = measure(daemon, lambda: time.sleep(15))
        touched, _ = measure(daemon, lambda: (refresh_all(api, unrelated), time.sleep(15)))
        t0 = time.time()

        def promote() -> list[dict[str, Any]]:
            create_all(api, [lambda t=t: world.ticket(f"{t}-1", t, config, "1.0.1") for t in tracks])
            return wait_completed(world, n, timeout)

        run, tickets = measure(daemon, promote)
        peak = daemon.peak_rss_mb()
    finally:
        daemon.stop()

    ends = [codec.parse_time(r["departedAt"]) for t in tickets
            if (r := (t["status"].get("journey") or [{}])[-1]).get("departedAt")]
    total = (max(ends) if len(ends) == n else time.time()) - t0
    live = list_apps(api)
    ops = {name: operation(live.get(name, {})) for name in managed}
    sums = [sum(op[1] - op[0] for a in names if (op := ops[a]) is not None) for names in apps.values()]
    known = [op for op in ops.values() if op is not None]
    heads = dict(line.split() for line in repo.git(
        ["for-each-ref", "--format=%(refname:short) %(committerdate:unix)", "refs/heads/env/"]).splitlines())
    gaps: dict[str, list[float]] = {"entered->commit": [], "commit->op start": [], "op start->finish": [],
                                    "op finish->arrived": [], "arrived->next entered": []}
    for ticket in tickets:
        track = ticket["spec"]["track"]
        journey = ticket["status"].get("journey") or []
        for k, record in enumerate(journey):
            op = ops.get(apps[track][k]) if k < len(apps[track]) else None
            entered, arrived = record.get("enteredAt"), record.get("arrivedAt")
            head = heads.get(f"env/{track}-{STATIONS[k]}") if k < len(STATIONS) else None
            if entered and head:
                gaps["entered->commit"].append(float(head) - codec.parse_time(entered))
            if op and head:
                gaps["commit->op start"].append(op[0] - float(head))
            if op:
                gaps["op start->finish"].append(op[1] - op[0])
            if op and arrived:
                gaps["op finish->arrived"].append(codec.parse_time(arrived) - op[1])
            if arrived and k + 1 < len(journey) and journey[k + 1].get("enteredAt"):
                gaps["arrived->next entered"].append(codec.parse_time(journey[k + 1]["enteredAt"])
                                                     - codec.parse_time(arrived))
    promotions = run.get("k8sta_promotions_total") or float("nan")
    passes = run.get("k8sta_decision_pass_seconds_count")
    result = {
        "n": n, "promotions": promotions, "total": total,
        "critical": max(sums) if sums else float("nan"),
        "span": (max(f for _, f in known) - min(s for s, _ in known)) if known else float("nan"),
        "cpu": (run.cpu + run.children_cpu) / promotions, "cpu_self": run.cpu / promotions,
        "passes": passes, "pass_ms": 1000 * run.get("k8sta_decision_pass_seconds_sum") / max(passes, 1),
        "pass_cpu_ms": 1000 * run.get("k8sta_decision_pass_cpu_seconds_total") / max(passes, 1),
        "tracks_per_pass": run.get("k8sta_decided_tracks_total") / max(passes, 1),
        "kube": run.get("k8sta_kube_requests_total") / promotions,
        "argocd": run.get("k8sta_argocd_requests_total") / promotions,
        "rss": peak, "load": os.getloadavg()[0],
        "busy": run.get("k8sta_reconcile_seconds_sum"),
    }
    print(f"  N={n} unrelated: idle {idle.seconds:.0f} s: {idle.get('k8sta_decision_pass_seconds_count'):.0f} "
          f"passes, {idle.cpu + idle.children_cpu:.2f} s CPU; refreshing {len(unrelated)} unrelated Applications "
          f"{touched.seconds:.0f} s: {touched.get('k8sta_argocd_app_events_total{managed=false}'):.0f} unmanaged / "
          f"{touched.get('k8sta_argocd_app_events_total{managed=true}'):.0f} managed events, "
          f"{touched.get('k8sta_decision_pass_seconds_count'):.0f} passes, "
          f"{touched.cpu + touched.children_cpu:.2f} s CPU", flush=True)
    print("  N={} requests by kind: {}".format(n, ", ".join(
        f"{k.split('{', 1)[1].removesuffix('}')} {v:.0f}" for k, v in sorted(run.counters.items())
        if k.startswith(("k8sta_kube_requests_total{", "k8sta_argocd_requests_total{")) and v)), flush=True)
    print("  N={} per visit (medians, s): {}".format(n, ", ".join(
        f"{k} {median(v):.1f}" for k, v in gaps.items())), flush=True)
    print(f"  N={n} the loop was busy {result['busy']:.1f} s of {run.seconds:.1f} s (decide + act, pushes "
          f"included); {run.children_cpu:.1f} s CPU in its children (git, kustomize)", flush=True)
    print(line(result), flush=True)
    for name in managed:  # the next size's Argo CD carries only its own and the unrelated ones
        with contextlib.suppress(k8s.ApiException):
            k8s.CustomObjectsApi(api).delete_namespaced_custom_object(*ARGO, rail.ARGOCD_NS, "applications", name)
    return result


def line(r: dict[str, Any]) -> str:
    return (f"scale N={r['n']}: {r['promotions']:.0f} promotions, total {r['total']:.1f} s vs Argo CD's own: "
            f"critical path {r['critical']:.0f} s, span {r['span']:.0f} s; CPU {r['cpu']:.3f} s/promotion "
            f"(daemon {r['cpu_self']:.3f}); {r['passes']:.0f} decision passes, mean {r['pass_ms']:.1f} ms "
            f"({r['pass_cpu_ms']:.1f} ms CPU, {r['tracks_per_pass']:.0f} Tracks); requests/promotion "
            f"kube {r['kube']:.1f}, argocd {r['argocd']:.1f}; peak RSS {r['rss']:.0f} MB; load {r['load']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,30,100", help="numbers of Tracks, comma-separated")
    parser.add_argument("--unrelated", type=int, default=300, help="Applications K8sTA does not manage")
    parser.add_argument("--argocd-resync", type=int, default=180,
                        help="Argo CD's reconciliation interval (s) for this stack; the devstack's is 10")
    parser.add_argument("--timeout", type=float, default=1800, help="per size, for every ticket to complete")
    parser.add_argument("--keep", type=Path, default=None, help="keep the work directory (logs) here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    os.environ[devargocd.RESYNC_ENV] = str(args.argocd_resync)
    print(f"bench-scale: sizes {sizes}, {args.unrelated} unrelated Applications, Argo CD reconciliation "
          f"{args.argocd_resync} s, processors (status, operation) {devargocd.processors()}", flush=True)
    with contextlib.ExitStack() as cleanup:
        if args.keep is None:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="k8sta-scale-")))
        else:
            workdir = args.keep
            workdir.mkdir(parents=True, exist_ok=True)
        stack = cleanup.enter_context(devstack.running(workdir / "stack"))
        api = devkube.api_client(stack.kubeconfig)
        rail.apply_crds(api, ROOT / "kustomize/crds")
        began = time.monotonic()
        unrelated = unrelated_apps(api, workdir, args.unrelated)
        took = wait_apps(api, unrelated, "Synced and Healthy", synced_healthy, 900, required=False)
        print(f"{len(unrelated)} unrelated Applications Synced and Healthy after {time.monotonic() - began:.0f} s "
              f"(last {took:.0f} s)", flush=True)
        results = []
        for n in sizes:
            try:
                results.append(run_size(n, stack, api, unrelated, workdir / f"n{n}", args.timeout))
            except Exception as exc:  # one size's trouble must not cost the others' figures
                print(f"scale N={n}: FAILED: {type(exc).__name__}: {exc}", flush=True)
    print("bench-scale summary:")
    for result in results:
        print(line(result))


if __name__ == "__main__":
    main()
