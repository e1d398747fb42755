"""``python -m k8sta_devstack cluster-up|cluster-down``: the real node with Argo CD, detached from the
terminal (``make demo-cluster`` / ``make demo-cluster-down``).

``cluster-up`` starts the cluster in a state directory (``$K8STA_DEVSTACK_CLUSTER_DIR``, default
``<cache>/devstack-cluster``), installs Argo CD from its release manifests, writes ``cluster.json`` and
returns; everything keeps running in its own session. ``cluster-down`` stops exactly what is recorded
there and leaves the host as it was found.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from kubernetes import client as k8s_client

from k8sta_devstack import binaries, kube, processes
from k8sta_devstack.node import argocd_install, cluster, netns
from k8sta_devstack.node import images as node_images

EXIT_OK, EXIT_FAILED = 0, 1


def default_state_dir() -> Path:
    explicit = os.environ.get("K8STA_DEVSTACK_CLUSTER_DIR")
    return Path(explicit) if explicit else binaries.cache_dir() / "devstack-cluster"


def _record(state_dir: Path) -> dict[str, object] | None:
    path = state_dir / cluster.STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def up(state_dir: Path) -> int:
    if _record(state_dir) is not None:
        print(f"k8sta cluster: already recorded in {state_dir}; `make demo-cluster-down` first", file=sys.stderr)
        return EXIT_FAILED
    if state_dir.exists():
        if any(state_dir.iterdir()) and not (state_dir / cluster.MARKER_FILE).is_file():
            print(f"k8sta cluster: {state_dir} is not a devstack state directory", file=sys.stderr)
            return EXIT_FAILED
        shutil.rmtree(state_dir)
    images = node_images.load(node_images.index_path(binaries.cache_dir()))
    refs = {image.short: image.ref for image in images}
    sup = processes.Supervisor(state_dir / "logs")
    ns = netns.create()
    began = time.monotonic()
    print(f"k8sta cluster: starting in {state_dir} (network namespace {ns.name}) ...", flush=True)
    try:
        started = cluster.start(state_dir, sup, ns, [(i.archive, i.ref) for i in images], refs[node_images.PAUSE])
        node_seconds = time.monotonic() - began
        overlay = argocd_install.write_overlay(state_dir / "argocd-install", binaries.read_versions()["ARGOCD_VERSION"],
                                               {"argocd": refs[node_images.ARGOCD], "redis": refs[node_images.REDIS],
                                                "k8sta-cmp": refs[node_images.K8STA_CMP]})
        argocd_install.install(binaries.locate_node().kubectl, started.kubeconfig, overlay)
        api = kube.api_client(started.kubeconfig)
        core = k8s_client.CoreV1Api(api)
        processes.poll(lambda: _argocd_ready(core), 300, "every Argo CD pod Ready on the real node", interval=2)
        server = core.read_namespaced_service("argocd-server", argocd_install.NAMESPACE)
        argocd_url = "https://" + started.expose("argocd-server", server.spec.cluster_ip, 443)
        api.close()
    except BaseException as exc:
        cluster.teardown(ns, state_dir, list(sup.processes), sup.stop_all)
        print(f"k8sta cluster: start failed: {exc}\n(logs kept in {state_dir / 'logs'})", file=sys.stderr)
        return EXIT_FAILED
    record = {**started.to_json(), "processes": [p.to_json() for p in sup.processes], "argocd_url": argocd_url}
    (state_dir / cluster.STATE_FILE).write_text(json.dumps(record, indent=2) + "\n")
    print(f"""k8sta cluster: up: node in {node_seconds:.0f} s, Argo CD Ready in {time.monotonic() - began:.0f} s
kubeconfig:   {started.kubeconfig}
Argo CD API:  {argocd_url}  (admin password: kubectl -n argocd get secret argocd-initial-admin-secret)
node:         {started.node_name} ({netns.NODE_IP}, network namespace {ns.name}); logs in {state_dir / 'logs'}
try:          KUBECONFIG={started.kubeconfig} kubectl get pods -A -o wide
stop with:    make demo-cluster-down""")
    return EXIT_OK


def _argocd_ready(core: k8s_client.CoreV1Api) -> bool:
    pods = core.list_namespaced_pod(argocd_install.NAMESPACE).items
    return bool(pods) and all(any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
                              for p in pods)


def down(state_dir: Path) -> int:
    record = _record(state_dir)
    if record is None:
        print(f"k8sta cluster: nothing recorded in {state_dir}; nothing to stop")
        return EXIT_OK
    procs = [processes.Managed.from_json(p) for p in record["processes"]]  # type: ignore[attr-defined]
    cluster.teardown(netns.Netns(str(record["netns"])), state_dir, procs, lambda: processes.stop_groups(procs))
    left = [p.name for p in procs if processes.alive(p.pid, p.start_time)]
    if left:
        print(f"k8sta cluster: still running after stop: {', '.join(left)}", file=sys.stderr)
        return EXIT_FAILED
    shutil.rmtree(state_dir, ignore_errors=True)
    print(f"k8sta cluster: stopped {len(procs)} processes and the node, removed {state_dir}")
    return EXIT_OK
