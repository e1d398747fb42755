"""Benchmark: the same app-branch content rendered by Argo CD's repo-server, through our plugin and natively.

On the local real stack (k8sta_devstack): two Applications per size on one config repository and one
app branch ``env/bench``, written as the daemon writes it (signed with the stack's input key):
- ``bench-plugin-<n>``: ``path: .``, ``plugin: {name: k8sta}`` (the argocd-cmp-server sidecar runs a
  wheel-installed k8sta-cmp, as the plugin image does);
- ``bench-native-<n>``: ``path: .k8sta``, ``kustomize: {version: <pin>}``, i.e. Argo CD's native
  kustomize running the same pinned binary through ``kustomize.path.<pin>`` in argocd-cm.
Each round makes a new commit (same tree, new message: no repo-server cache can answer) and times
``GET /api/v1/applications/{name}/manifests?revision=<commit>`` for both, order alternating (ABBA).
The Applications track a branch that never moves (``bench/base``); the rounds' commits go to
``env/bench``, so Argo CD's application controller never renders them first (it reconciles every
Application every few seconds: tracking ``env/bench``, it would warm the cache for whichever of the
two is asked second).

Prints per-size medians (with the load average) and a final line:
    argocd plugin/native median ratio: 50 resources X.XX, 2000 resources Y.YY
Targets: <= 1.30 at 50 resources, <= 1.05 at 2,000.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_cmp import make_branch, plugin_venv  # the same content as bench-cmp
from kubernetes import client as k8s_client

from k8sta_cmp import pins
from k8sta_cmp.kustomize import Kustomize, default_cache_dir
from k8sta_daemon.adapters.argocd import ArgoCD, ArgoCDSettings
from k8sta_devstack import gitrepo, kube, stack

NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"


def application(name: str, repo: gitrepo.ConfigRepo, *, native: bool) -> dict[str, object]:
    source: dict[str, object] = {"repoURL": repo.url, "targetRevision": "bench/base"}
    if native:
        source.update({"path": ".k8sta", "kustomize": {"version": pins.kustomize_version()}})
    else:
        source.update({"path": ".", "plugin": {"name": "k8sta"}})
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"project": "default", "source": source,
                     "destination": {"server": IN_CLUSTER, "namespace": "bench"}}}


def branch_files(count: int, app_name: str, key: bytes, kustomize: Kustomize, tmp: Path) -> dict[str, bytes]:
    root = tmp / f"branch-{count}"
    make_branch(root, count, kustomize, key=key, application=app_name)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def manifests_seconds(argo: ArgoCD, name: str, revision: str, timeout: float) -> float:
    started = time.perf_counter()
    response = argo._request("GET", f"/api/v1/applications/{name}/manifests",
                             params={"revision": revision}, timeout=timeout)
    elapsed = time.perf_counter() - started
    if not response.json().get("manifests"):
        raise SystemExit(f"bench: {name} at {revision[:12]} returned no manifests")
    return elapsed


def measure(count: int, rounds: int, argo: ArgoCD, api: k8s_client.ApiClient, key: bytes, kustomize: Kustomize,
            tmp: Path) -> float:
    repo = gitrepo.ConfigRepo.create(tmp / f"repo-{count}")
    plugin_app, native_app = f"bench-plugin-{count}", f"bench-native-{count}"
    files = branch_files(count, plugin_app, key, kustomize, tmp)
    repo.commit("bench/base", files, "bench: what the Applications track (never moves)")
    custom = k8s_client.CustomObjectsApi(api)
    for name, native in ((plugin_app, False), (native_app, True)):
        custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", NAMESPACE, "applications",
                                               application(name, repo, native=native))
    timeout = 1800.0
    revision = repo.commit("env/bench", files, "bench: warm-up")
    manifests_seconds(argo, plugin_app, revision, timeout)
    manifests_seconds(argo, native_app, revision, timeout)
    times: dict[str, list[float]] = {plugin_app: [], native_app: []}
    loads = [os.getloadavg()[0]]
    for i in range(rounds):
        revision = repo.commit("env/bench", files, f"bench: round {i}")  # same tree, new commit
        order = [plugin_app, native_app] if i % 2 == 0 else [native_app, plugin_app]
        for name in order:
            times[name].append(manifests_seconds(argo, name, revision, timeout))
        loads.append(os.getloadavg()[0])
        print(f"  {count} resources round {i + 1}/{rounds}: plugin {times[plugin_app][-1] * 1000:.0f} ms, "
              f"native {times[native_app][-1] * 1000:.0f} ms", flush=True)
    plugin, native = statistics.median(times[plugin_app]), statistics.median(times[native_app])
    print(f"{count:>5} resources: plugin median {plugin * 1000:8.1f} ms, native median {native * 1000:8.1f} ms, "
          f"ratio {plugin / native:.2f} ({rounds} rounds, load average {min(loads):.1f}-{max(loads):.1f})",
          flush=True)
    return plugin / native


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,2000")
    parser.add_argument("--rounds-small", type=int, default=11)
    parser.add_argument("--rounds-large", type=int, default=3)
    parser.add_argument("--keep-logs", type=Path, help="copy the stack's process logs here (for the breakdown)")
    parser.add_argument("--cmp-workdir-on-disk", action="store_true",
                        help="unpack checkouts for the plugin on disk (default: tmpfs, as the install's "
                             "memory-backed /tmp of the sidecar)")
    parser.add_argument("--tar-exclusions", default=".git",
                        help="repo-server's ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS as the install sets it "
                             "(kustomize/components/cmp-sidecar); '' for Argo CD's default (the whole checkout)")
    args = parser.parse_args()
    if args.tar_exclusions:
        os.environ["K8STA_DEVSTACK_PLUGIN_TAR_EXCLUSIONS"] = args.tar_exclusions
    environ = dict(os.environ)
    kustomize = Kustomize.locate(environ)
    plugin = plugin_venv(default_cache_dir(environ))
    os.environ["K8STA_DEVSTACK_CMP_BIN"] = str(plugin.parent)
    sizes = [int(n) for n in args.sizes.split(",")]
    memory = Path("/dev/shm")
    on_tmpfs = not args.cmp_workdir_on_disk and memory.is_dir() and os.access(memory, os.W_OK)
    with tempfile.TemporaryDirectory(prefix="k8sta-bench-argocd-") as tmp, \
            tempfile.TemporaryDirectory(prefix="k8sta-bench-cmp-work-", dir=memory if on_tmpfs else None) as work:
        os.environ["K8STA_DEVSTACK_CMP_WORKDIR"] = work
        with stack.running(Path(tmp) / "stack") as running:
            print(f"stack up in {running.startup_seconds:.0f} s; the plugin unpacks checkouts on "
                  f"{'tmpfs' if on_tmpfs else 'disk'}", flush=True)
            ratios = run(args, sizes, running, kustomize, Path(tmp))
    figures = ", ".join(f"{n} resources {r:.2f}" for n, r in zip(sizes, ratios, strict=True))
    print(f"argocd plugin/native median ratio: {figures}")


def run(args: argparse.Namespace, sizes: list[int], running: stack.Stack, kustomize: Kustomize,
        tmp: Path) -> list[float]:
    """The ratio per size, measured on one started stack."""
    key = (running.state_dir / stack.INPUT_KEY_FILE).read_bytes().strip()
    argo = ArgoCD(ArgoCDSettings(url=running.argocd_url, token=running.token()))
    api = kube.api_client(running.kubeconfig)
    try:
        return [measure(n, args.rounds_small if n <= 100 else args.rounds_large, argo, api, key, kustomize, tmp)
                for n in sizes]
    finally:
        if args.keep_logs:
            shutil.copytree(running.log_dir, args.keep_logs, dirs_exist_ok=True)


if __name__ == "__main__":
    main()
