"""The real node itself: pods run on kubelet + containerd inside the stack's namespaces, and the host is
left exactly as it was found (no rule, route, mount, cgroup, directory or process) once it stops."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kubernetes import client as k8s_client

from k8sta_devstack import kube
from k8sta_devstack.node import cleanup, kubelet, netns
from k8sta_devstack.node import cluster as node_cluster
from k8sta_devstack.node import images as node_images


def _pod(name: str, image: str) -> dict[str, object]:
    """A pod on the real node with a Secret volume (a tmpfs mount kubelet makes) and a Service to it."""
    label, value = kubelet.NODE_LABEL
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"nodeSelector": {label: value},
                     "tolerations": [{"key": label, "operator": "Equal", "value": value, "effect": "NoSchedule"}],
                     "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
                                     "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
                     "volumes": [{"name": "s", "secret": {"secretName": name, "defaultMode": 0o400}}]}}


def _wait_running(core: k8s_client.CoreV1Api, name: str) -> k8s_client.V1Pod:
    deadline = time.monotonic() + 120
    while True:
        pod = core.read_namespaced_pod(name, "default")
        if pod.status.phase == "Running":
            return pod
        assert time.monotonic() < deadline, f"pod {name} not Running: {pod.status}"
        time.sleep(1)


def test_a_pod_runs_on_the_real_node_its_rules_stay_in_the_namespace_and_the_host_is_left_as_found(
        tmp_path: Path, node_image_list: list[node_images.NodeImage]) -> None:
    state = tmp_path / "cluster"
    before = cleanup.host_facts(state)
    pause = node_images.by_short(node_image_list, node_images.PAUSE)
    with node_cluster.running(state, [(pause.archive, pause.ref)], pause.ref) as started:
        api = kube.api_client(started.kubeconfig)
        core = k8s_client.CoreV1Api(api)
        core.create_namespaced_secret("default", {"metadata": {"name": "p"}, "stringData": {"k": "v"}})
        core.create_namespaced_pod("default", _pod("p", pause.ref))
        core.create_namespaced_service("default", {"metadata": {"name": "p"},
                                                   "spec": {"selector": {"app": "p"}, "ports": [{"port": 80}]}})
        pod = _wait_running(core, "p")
        assert pod.spec.node_name == kubelet.NODE_NAME
        assert pod.status.host_ip == netns.NODE_IP
        node = core.read_node(kubelet.NODE_NAME)
        assert node.status.node_info.container_runtime_version.startswith("containerd://")
        assert node.status.node_info.kubelet_version == "v1.34.4"
        # The kubelet's and kube-proxy's rules exist, inside the namespace only; the host's are untouched.
        inside = subprocess.run([*netns.Netns(started.netns).launcher(), "iptables-save"], capture_output=True,
                                text=True, check=True).stdout
        assert "KUBE-SERVICES" in inside and "KUBE-KUBELET-CANARY" in inside
        running = cleanup.host_facts(state)
        assert running["iptables"] == before["iptables"] and running["ip6tables"] == before["ip6tables"]
        assert running["routes"] == before["routes"] and running["links"] == before["links"]
        assert running["sysctls"] == before["sysctls"], "the kubelet's kernel tunables reached the host"
        assert not [m for m in running["mounts"] if "kubelet" in m], "pod volumes mounted in the host's table"
        api.close()
    after = cleanup.host_facts(state)
    assert after == before, {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert cleanup.stray_processes((str(state),)) == []
    assert not any(p.name.startswith("cni-") for p in Path("/run/netns").glob("*"))
