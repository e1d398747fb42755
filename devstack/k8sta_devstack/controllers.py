"""What makes the stack a cluster that runs workloads: kube-controller-manager, kube-scheduler, KWOK
(a fake Node whose pods become Ready without a kubelet) and the Argo Rollouts controller.

Chain: Deployment/Rollout -> ReplicaSet (controller-manager / rollouts-controller) -> Pod ->
scheduler binds it to the fake Node -> KWOK marks it Running and Ready. So Argo CD's built-in health
judges Deployments and Rollouts the way it does in a real cluster.

All four run out of cluster with the admin kubeconfig. They are launched side by side (``launch``)
and their readiness is awaited afterwards (``Started.wait``), which keeps the stack start short.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client

from k8sta_devstack import binaries, kube, processes

NODE_NAME = "kwok-node-0"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
POD_CIDR = "10.1.0.0/16"
# The Rollouts CRDs are 3 MB of YAML: the C loader parses them ten times faster.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The controllers K8sTA's workloads need; everything else (endpoints, jobs, certificates, ...) stays off.
# node-lifecycle removes the not-ready taint the API server puts on every new Node (KWOK renews the
# Node's Lease, so it stays Ready).
KCM_CONTROLLERS = ("deployment-controller", "replicaset-controller", "garbage-collector-controller",
                   "namespace-controller", "serviceaccount-controller", "pod-garbage-collector-controller",
                   "node-lifecycle-controller")


@dataclass
class Started:
    """Processes launched but not yet known ready: ``wait`` raises StartError naming the first one
    that exited or missed its deadline."""

    checks: list[tuple[processes.Managed, processes.ReadyCheck, float]] = field(default_factory=list)

    def add(self, proc: processes.Managed, ready: processes.ReadyCheck, timeout: float = 90.0) -> None:
        self.checks.append((proc, ready, timeout))

    def wait(self) -> None:
        for proc, ready, timeout in self.checks:
            processes.wait_ready(proc, ready, timeout)


def _https_healthz(port: int) -> processes.ReadyCheck:
    """``/healthz`` of a component serving a self-signed certificate (anonymous access is allowed)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return processes.http_ok(f"https://127.0.0.1:{port}/healthz", context)


def _component_flags(kubeconfig: Path, port: int, cert_dir: Path) -> list[str]:
    """Flags kube-controller-manager and kube-scheduler share: the admin kubeconfig for everything,
    no leader election, /healthz served on loopback with a self-signed certificate."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    return [f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}", "--leader-elect=false",
            # No front proxy: do not look up its CA in kube-system (an error line every minute otherwise).
            "--authentication-skip-lookup=true",
            "--bind-address=127.0.0.1", f"--secure-port={port}", f"--cert-dir={cert_dir}",
            "--profiling=false", "--v=1"]


def launch_controller_manager(sup: processes.Supervisor, tools: binaries.Toolchain, kubeconfig: Path,
                              state_dir: Path, env: Mapping[str, str], started: Started, *,
                              names: Sequence[str] = KCM_CONTROLLERS, extra: Sequence[str] = ()) -> None:
    port = processes.free_port()
    argv = [tools.kube_controller_manager, *_component_flags(kubeconfig, port, state_dir / "kcm"),
            f"--controllers={','.join(names)}", *extra,
            # Deployments scale and ReplicaSets create pods at once (defaults batch for large clusters).
            "--concurrent-deployment-syncs=5", "--concurrent-replicaset-syncs=5"]
    proc = sup.launch("kube-controller-manager", argv, env=env, cwd=state_dir)
    started.add(proc, _https_healthz(port))


def launch_scheduler(sup: processes.Supervisor, tools: binaries.Toolchain, kubeconfig: Path,
                     state_dir: Path, env: Mapping[str, str], started: Started) -> None:
    port = processes.free_port()
    argv = [tools.kube_scheduler, *_component_flags(kubeconfig, port, state_dir / "scheduler")]
    proc = sup.launch("kube-scheduler", argv, env=env, cwd=state_dir)
    started.add(proc, _https_healthz(port))


def fake_node(name: str = NODE_NAME) -> dict[str, Any]:
    """A Node KWOK manages (selected by its annotation); roomy enough for every test's pods."""
    resources = {"cpu": "64", "memory": "256Gi", "pods": "500"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {KWOK_ANNOTATION: "fake"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok"}},
            "spec": {},
            "status": {"capacity": resources, "allocatable": resources}}


def launch_kwok(sup: processes.Supervisor, tools: binaries.Toolchain, kubeconfig: Path, state_dir: Path,
                env: Mapping[str, str], started: Started) -> None:
    """KWOK with the module's "fast" stages: nodes initialize at once, pods become Ready at once."""
    stages = tools.kwok_stages
    if not any(stage.name == "node-heartbeat-with-lease.yaml" for stage in stages):
        raise binaries.MissingTool(f"KWOK stages missing next to {tools.kwok}; rebuild with "
                                   f"`rm -rf {tools.kwok.parent} && toolchain/build.sh kwok`")
    port = processes.free_port()
    work = state_dir / "kwok"
    work.mkdir(parents=True, exist_ok=True)
    argv = [tools.kwok, f"--kubeconfig={kubeconfig}", f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
            f"--server-address=127.0.0.1:{port}", f"--cidr={POD_CIDR}", "--node-ip=127.0.0.1",
            # Renew the Node's Lease (kubelet's heartbeat), else the node-lifecycle controller marks it
            # NotReady after its grace period and every pod's Ready condition goes with it.
            "--node-lease-duration-seconds=40",
            *(f"--config={stage}" for stage in stages)]
    # KWOK reads ~/.kwok; keep it inside the state directory.
    proc = sup.launch("kwok", argv, env={**env, "HOME": str(work)}, cwd=work)
    started.add(proc, processes.http_ok(f"http://127.0.0.1:{port}/healthz"))


def node_ready(api: k8s_client.ApiClient, name: str = NODE_NAME) -> bool:
    """Ready (KWOK set it) and untainted (the controller-manager removed the API server's not-ready
    taint), so the scheduler places pods on it."""
    node = k8s_client.CoreV1Api(api).read_node(name)
    ready = any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))
    return ready and not node.spec.taints


def create_fake_node(api: k8s_client.ApiClient) -> None:
    k8s_client.CoreV1Api(api).create_node(fake_node())


def apply_rollouts_crds(api: k8s_client.ApiClient, tools: binaries.Toolchain) -> list[str]:
    """Argo Rollouts' CRDs of the pinned version (copied from its module by toolchain/build.sh)."""
    if not tools.rollouts_crds:
        where = tools.rollouts_controller.parent
        raise binaries.MissingTool(f"Argo Rollouts CRDs missing in {where}; rebuild with "
                                   f"`rm -rf {where} && toolchain/build.sh argo-rollouts`")
    names = []
    for path in tools.rollouts_crds:
        for doc in yaml.load_all(path.read_text(), Loader=_LOADER):
            if doc:
                kube.server_side_apply(api, doc)
                names.append(doc["metadata"]["name"])
    return names


def launch_rollouts(sup: processes.Supervisor, tools: binaries.Toolchain, kubeconfig: Path, state_dir: Path,
                    env: Mapping[str, str], started: Started) -> None:
    """The Rollouts controller out of cluster. Its metrics and healthz servers bind 0.0.0.0
    (hard-coded upstream), on free ports."""
    metrics, healthz = processes.free_port(), processes.free_port()
    work = state_dir / "rollouts"
    work.mkdir(parents=True, exist_ok=True)
    argv = [tools.rollouts_controller, f"--kubeconfig={kubeconfig}", "--leader-elect=false",
            f"--metricsPort={metrics}", f"--healthzPort={healthz}", "--loglevel=info"]
    proc = sup.launch("rollouts-controller", argv, env={**env, "POD_NAMESPACE": "argo-rollouts"}, cwd=work)
    started.add(proc, processes.http_ok(f"http://127.0.0.1:{healthz}/healthz"))


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Like processes.poll, tolerating API errors while a component warms up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except k8s_client.ApiException:
            pass
        if time.monotonic() > deadline:
            raise processes.StartError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
