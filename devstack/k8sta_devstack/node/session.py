"""``python -m k8sta_devstack cluster-up|cluster-down``: the real node with Argo CD, detached from the
terminal (``make demo-cluster`` / ``make demo-cluster-down``).

``cluster-up`` starts the cluster in a state directory (``$K8STA_DEVSTACK_CLUSTER_DIR``, default
``<cache>/devstack-cluster``), installs Argo CD from its release manifests and K8sTA by running README.md's
Quickstart (``quickstart``), serves a config repository over HTTPS from the node, rides one ticket
dev -> staging -> prod (``journey``), writes ``cluster.json`` and returns: 0 only when the ticket
completed. Everything keeps running in its own session (also after a failed ride, to be looked at).
``cluster-down`` stops exactly what is recorded there and leaves the host as it was found.
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
from k8sta_devstack.demo import viewer_token
from k8sta_devstack.node import argocd_install, cluster, journey, netns, quickstart
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
        version = binaries.read_versions()["ARGOCD_VERSION"]
        argocd_images = {"argocd": refs[node_images.ARGOCD], "redis": refs[node_images.REDIS],
                         "k8sta-cmp": refs[node_images.K8STA_CMP]}
        overlay = argocd_install.write_overlay(state_dir / "argocd-install", version, argocd_images)
        argocd_install.install(binaries.locate_node().kubectl, started.kubeconfig, overlay)
        api = kube.api_client(started.kubeconfig)
        core = k8s_client.CoreV1Api(api)
        processes.poll(lambda: journey.pods_ready(api, argocd_install.NAMESPACE), 300,
                       "every Argo CD pod Ready on the real node", interval=2)
        argocd_seconds = time.monotonic() - began - node_seconds
        server = core.read_namespaced_service("argocd-server", argocd_install.NAMESPACE)
        argocd_url = "https://" + started.expose("argocd-server", server.spec.cluster_ip, 443)
        print(f"k8sta cluster: node up in {node_seconds:.0f} s, Argo CD Ready {argocd_seconds:.0f} s later; "
              "installing K8sTA by README.md's Quickstart ...", flush=True)
        install_began = time.monotonic()
        journey.steer_namespace(api, journey.K8STA_NAMESPACE)
        password = journey.secret_value(api, argocd_install.NAMESPACE, "argocd-initial-admin-secret", "password")
        shell = quickstart.operator(state_dir / "operator", started.kubeconfig, argocd_url.removeprefix("https://"),
                                    password)
        registry, tag = refs[node_images.K8STA].rsplit(":", 1)
        quickstart.run(quickstart.default_readme(), shell, registry.rsplit("/", 1)[0], tag,
                       lambda component: argocd_install.write_overlay(state_dir / "argocd-install", version,
                                                                      argocd_images, component))
        processes.poll(lambda: journey.pods_ready(api, journey.K8STA_NAMESPACE), 300, "K8sTA's pods Ready",
                       interval=2)
        serving = journey.serve_git(state_dir / "git", sup, ns)
        journey.trust_and_credentials(api, serving)
        journey.wait_trust_mounted(binaries.locate_node().kubectl, started.kubeconfig, serving)
        web = core.read_namespaced_service("k8sta-web", journey.K8STA_NAMESPACE)
        board = started.expose("k8sta-web", web.spec.cluster_ip, 8080)
    except BaseException as exc:
        cluster.teardown(ns, state_dir, list(sup.processes), sup.stop_all)
        print(f"k8sta cluster: start failed: {exc}\n(logs kept in {state_dir / 'logs'})", file=sys.stderr)
        return EXIT_FAILED
    record = {**started.to_json(), "processes": [p.to_json() for p in sup.processes], "argocd_url": argocd_url}
    (state_dir / cluster.STATE_FILE).write_text(json.dumps(record, indent=2) + "\n")
    print(f"""k8sta cluster: K8sTA's pods Ready {time.monotonic() - install_began:.0f} s after the first README step
kubeconfig:   {started.kubeconfig}
Argo CD API:  {argocd_url}  (admin password: kubectl -n argocd get secret argocd-initial-admin-secret)
node:         {started.node_name} ({netns.NODE_IP}, network namespace {ns.name}); logs in {state_dir / 'logs'}
config repo:  {serving.https.repo_url("shop")} (served from the node; bare repository in {serving.repos})
stop with:    make demo-cluster-down""", flush=True)
    return _ride(api, started.kubeconfig, serving, state_dir, board, install_began)


def _ride(api: k8s_client.ApiClient, kubeconfig: Path, serving: journey.GitServing, state_dir: Path, board: str,
          install_began: float) -> int:
    """One ticket dev -> staging -> prod; 0 only when it completed (the cluster stays up either way)."""
    try:
        world = journey.sample_railway(api, "shop", serving.https_repo("shop"), None)
        ticket = journey.create_ticket(kubeconfig, world, "1.0.0")
        print(f"k8sta cluster: ticket {ticket} rides dev -> staging -> prod (watch: KUBECONFIG={kubeconfig} "
              f"k8sta -n shop tracks)", flush=True)
        world.wait(f"ticket {ticket} Completed", lambda: world.state(ticket) == "Completed", 900)
        token = viewer_token(api, "shop", state_dir)
    except Exception as exc:
        print(f"k8sta cluster: the ride did not complete: {exc}\n(the cluster is still up to look at; "
              "make demo-cluster-down stops it)", file=sys.stderr)
        return EXIT_FAILED
    finally:
        api.close()
    stations = journey.k8sta_cli(kubeconfig, "-n", "shop", "stations").stdout
    seconds = time.monotonic() - install_began
    print(f"""k8sta cluster: ticket {ticket} Completed, {seconds:.0f} s after the first README step
{stations.rstrip()}
board:        http://{board}/board/?namespace=shop  (Authorization: Bearer $(cat {token}))""")
    return EXIT_OK


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
