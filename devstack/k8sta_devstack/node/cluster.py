"""The local stack with a real node: the order of its start, and a teardown that leaves the host as found.

What runs where:

- in the node's network namespace (``netns``): etcd and kube-apiserver (``control_plane``), and, in the
  node's mount namespace too (``mounts``), containerd, kubelet and kube-proxy; CoreDNS; pods on a CNI
  bridge (``cni``);
- on the host: the portal (the host's only way in, 127.0.0.1 -> the namespace), kube-controller-manager,
  kube-scheduler, KWOK (a fake node for the sample workloads' cheap pods) and the Argo Rollouts
  controller, all through the portal with the admin kubeconfig, as the process stack runs them.

Argo CD and K8sTA are not part of this: they are installed onto it as pods (``argocd_install``; K8sTA
next), the way users install them.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import signal
import ssl
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from kubernetes import client as k8s_client

from k8sta_devstack import binaries, controllers, kube, pki, processes
from k8sta_devstack.node import cleanup, cni, containerd, control_plane, coredns, kubelet, mirror, mounts, netns, portal

STATE_FILE = "cluster.json"
MARKER_FILE = ".k8sta-devstack"
# The controllers a real node's pods need besides the workload ones: Service endpoints (kube-proxy,
# CoreDNS), each namespace's kube-root-ca.crt (projected ServiceAccount tokens), StatefulSets (Argo CD's
# application controller).
CLUSTER_KCM_CONTROLLERS = (*controllers.KCM_CONTROLLERS, "endpointslice-controller", "endpoints-controller",
                           "endpointslice-mirroring-controller", "root-ca-certificate-publisher-controller",
                           "statefulset-controller", "ttl-after-finished-controller", "job-controller")


@dataclass(frozen=True)
class Cluster:
    """What a client of the running cluster needs: the admin kubeconfig works from the host."""

    state_dir: Path
    kubeconfig: Path
    apiserver_url: str
    netns: str
    containerd_socket: Path
    node_name: str
    processes: tuple[processes.Managed, ...]
    startup_seconds: float
    supervisor: processes.Supervisor = field(repr=False, compare=False)

    def expose(self, name: str, host: str, port: int) -> str:
        """A new portal from the host to ``host:port`` inside the node's namespace (a Service's
        ClusterIP, a pod); returns the host side, ``127.0.0.1:<port>``."""
        local = processes.free_port()
        start_portal(self.supervisor, f"portal-{name}", netns.Netns(self.netns), [f"127.0.0.1:{local}={host}:{port}"],
                     {"PATH": "/usr/bin:/bin"}, self.state_dir)
        return f"127.0.0.1:{local}"

    @property
    def netns_path(self) -> Path:
        return netns.Netns(self.netns).path

    def to_json(self) -> dict[str, Any]:
        return {"state_dir": str(self.state_dir), "kubeconfig": str(self.kubeconfig),
                "apiserver_url": self.apiserver_url, "netns": self.netns,
                "containerd_socket": str(self.containerd_socket), "node_name": self.node_name,
                "startup_seconds": round(self.startup_seconds, 1),
                "processes": [p.to_json() for p in self.processes]}


def _portal_ready(log: Path) -> processes.ReadyCheck:
    return lambda: "portal: ready" in log.read_text(errors="replace") if log.exists() else False


def start_portal(sup: processes.Supervisor, name: str, ns: netns.Netns, routes: Sequence[str],
                 env: dict[str, str], cwd: Path) -> processes.Managed:
    """A portal process (``portal.py``) for ``routes`` (``127.0.0.1:P=ADDR:PORT``)."""
    argv = [sys.executable, portal.__file__, "--netns", str(ns.path), *routes]  # stdlib only: runs as a script
    log = sup.log_dir / f"{name}.log"
    return sup.start(name, argv, env=env, cwd=cwd, ready=_portal_ready(log), timeout=20, grace=2)


def start(state_dir: Path, sup: processes.Supervisor, ns: netns.Netns, images: Sequence[tuple[Path, str]],
          sandbox_image: str) -> Cluster:
    """Start everything into ``sup`` and the namespace ``ns`` (the caller tears both down, also when
    this raises). ``images``: (OCI archive, reference) pairs, pushed to the node's mirror and imported
    into containerd before the kubelet starts."""
    began = time.monotonic()
    tools = binaries.locate()
    node_tools = binaries.locate_node()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    (state_dir / MARKER_FILE).write_text("state directory of a K8sTA devstack cluster; removed by `down`\n")
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(state_dir),
           "LANG": "C.UTF-8"}
    in_net = ns.launcher()

    certs = pki.generate(state_dir / "pki", extra_ips=[netns.NODE_IP])
    api_port = processes.free_port()
    start_portal(sup, "portal-apiserver", ns, [f"127.0.0.1:{api_port}=127.0.0.1:{control_plane.APISERVER_PORT}"],
                 env, state_dir)
    etcd_url = control_plane.start_etcd(sup, tools.etcd, state_dir / "etcd", ns.path, in_net, env)
    kubelet_client = pki.issue(certs, "apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                               organization="system:masters")
    cert_dir = state_dir / "apiserver"
    cert_dir.mkdir(parents=True, exist_ok=True)
    url = f"https://127.0.0.1:{api_port}"
    kubeconfig = kube.write_kubeconfig(state_dir / "kubeconfig", url, certs, namespace="default")
    internal = kube.write_kubeconfig(state_dir / "kubeconfig-in-node",
                                     f"https://{netns.NODE_IP}:{control_plane.APISERVER_PORT}", certs,
                                     namespace="default")
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    context.load_cert_chain(str(certs.admin_cert), str(certs.admin_key))
    sup.start("kube-apiserver",
              [*in_net, *control_plane.apiserver_argv(tools.kube_apiserver, certs, etcd_url, cert_dir,
                                                      netns.NODE_IP, kubelet_client)],
              env=env, cwd=state_dir, ready=processes.http_ok(f"{url}/readyz", context), timeout=120)

    api = kube.api_client(kubeconfig)
    try:
        for name in controllers.apply_rollouts_crds(api, tools):
            processes.poll(lambda n=name: kube.crd_established(api, n), 60, f"CRD {name} to be established")
        started = controllers.Started()
        controllers.launch_controller_manager(
            sup, tools, kubeconfig, state_dir, env, started, names=CLUSTER_KCM_CONTROLLERS,
            extra=[f"--service-account-private-key-file={certs.service_account_key}",
                   f"--root-ca-file={certs.ca_cert}", "--use-service-account-credentials=true"])
        for launch in (controllers.launch_scheduler, controllers.launch_kwok, controllers.launch_rollouts):
            launch(sup, tools, kubeconfig, state_dir, env, started)
        controllers.create_fake_node(api)

        node_dir = state_dir / "node"
        held = mounts.start(sup, node_dir / "mounts", env)
        (state_dir / "created-dirs.json").write_text(json.dumps([str(p) for p in held.created]))
        in_node = held.launcher(ns.path)
        cni_conf = node_dir / "cni" / "net.d"
        cni.write_config(cni_conf, node_dir / "cni" / "ipam")
        mirror_url = mirror.start(sup, node_dir / "mirror", netns.NODE_IP, ns.path, in_net, env)
        runtime = containerd.start(sup, node_dir / "containerd", runtime_dir(ns), in_node, env, sandbox_image, cni_conf,
                                   {mirror.REGISTRY: mirror_url})
        for archive, reference in images:
            mirror.push(archive, reference, netns.NODE_IP, in_net)
            runtime.import_archive(archive)
        kubelet.start_kubelet(sup, node_tools.kubelet, node_dir / "kubelet", certs,
                              f"https://{netns.NODE_IP}:{control_plane.APISERVER_PORT}", netns.NODE_IP,
                              runtime.endpoint, ns.path, in_node, env, root_dir=runtime_dir(ns) / "kubelet")
        kubelet.start_kube_proxy(sup, node_tools.kube_proxy, node_dir / "kube-proxy", certs,
                                 f"https://{netns.NODE_IP}:{control_plane.APISERVER_PORT}", cni.POD_CIDR,
                                 ns.path, in_node, env)
        coredns.start(sup, node_tools.coredns, node_dir / "coredns", internal, netns.NODE_IP, ns.path, in_net, env)
        started.wait()
        controllers.wait_for(lambda: controllers.node_ready(api), 60,
                             f"node {controllers.NODE_NAME} Ready (managed by KWOK)")
        controllers.wait_for(lambda: real_node_ready(api), 120, f"node {kubelet.NODE_NAME} Ready (kubelet)")
    finally:
        api.close()
    return Cluster(state_dir=state_dir, kubeconfig=kubeconfig, apiserver_url=url, netns=ns.name,
                   containerd_socket=runtime.socket, node_name=kubelet.NODE_NAME,
                   processes=tuple(sup.processes), startup_seconds=time.monotonic() - began, supervisor=sup)


def runtime_dir(ns: netns.Netns) -> Path:
    """containerd's sockets: a short path of the node's own (unix socket paths are limited)."""
    return Path("/tmp") / ns.name


def real_node_ready(api: k8s_client.ApiClient) -> bool:
    node = k8s_client.CoreV1Api(api).read_node(kubelet.NODE_NAME)
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def running(state_dir: Path, images: Sequence[tuple[Path, str]], sandbox_image: str) -> Iterator[Cluster]:
    """A started cluster that is torn down on every way out, the host left as it was found."""
    sup = processes.Supervisor(state_dir / "logs")
    ns = netns.create()
    stop = _teardown(sup, ns, state_dir)
    atexit.register(stop)
    previous = {sig: signal.signal(sig, _raise_exit) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield start(state_dir, sup, ns, images, sandbox_image)
    finally:
        stop()
        atexit.unregister(stop)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def teardown(ns: netns.Netns, state_dir: Path, running: Sequence[processes.Managed],
             stop_processes: Callable[[], None]) -> None:
    """Stop the node and everything of the stack, then remove what it made on the host: the kubelet
    first (else it starts again the containers being killed), then the containers (they outlive
    containerd), then the processes, then directories, cgroups and the namespace."""
    processes.stop_groups([proc for proc in running if proc.name == "kubelet"])
    problems = cleanup.stop_containers(runtime_dir(ns), state_dir / "node" / "containerd")
    if problems:
        (state_dir / "logs").mkdir(parents=True, exist_ok=True)
        with (state_dir / "logs" / "teardown.log").open("a") as log:
            log.write("\n".join(problems) + "\n")
    stop_processes()
    cleanup.after_node(state_dir)
    shutil.rmtree(runtime_dir(ns), ignore_errors=True)
    netns.delete(ns)


def _teardown(sup: processes.Supervisor, ns: netns.Netns, state_dir: Path) -> Callable[[], None]:
    done = False

    def stop() -> None:
        nonlocal done
        if not done:
            done = True
            teardown(ns, state_dir, list(sup.processes), sup.stop_all)
    return stop
