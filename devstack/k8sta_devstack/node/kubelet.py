"""kubelet and kube-proxy of the real node, built from the pinned k8s.io/kubernetes module.

Both run inside the node's network and mount namespaces. kubelet: cgroupfs driver (the host is cgroup
v1 in hybrid mode), no QoS cgroups or node-allocatable enforcement (no systemd slices here), its root,
pod logs and certificates under the state directory, a client certificate in ``system:nodes`` (the API
server authorizes it with the Node authorizer and NodeRestriction, as in a real cluster), a serving
certificate for the node's address. kube-proxy: iptables mode, inside the namespace; it masquerades all
Service traffic (pods share one bridge and there is no br_netfilter to see bridged replies) and leaves the
host-wide conntrack table size alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from k8sta_devstack import kube, pki, processes
from k8sta_devstack.node import portal

NODE_NAME = "k8sta-node"
# System pods (Argo CD, K8sTA) are steered here by the test's own overlay; sample workloads stay on KWOK.
NODE_LABEL = ("k8sta.io/node", "real")
NODE_TAINT = {"key": "k8sta.io/node", "value": "real", "effect": "NoSchedule"}
CLUSTER_DOMAIN = "cluster.local"
KUBELET_PORT = 10250
HEALTHZ_PORT = 10248


@dataclass(frozen=True)
class Kubelet:
    proc: processes.Managed
    root_dir: Path
    pod_logs: Path


def _write_yaml(path: Path, doc: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(doc), sort_keys=False))
    return path


def kubelet_config(directory: Path, certs: pki.Pki, serving: tuple[Path, Path], runtime_endpoint: str,
                   dns_ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs", "cgroupsPerQOS": False, "enforceNodeAllocatable": [],
        "failSwapOn": False, "containerRuntimeEndpoint": runtime_endpoint,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(certs.ca_cert)}},
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(serving[0]), "tlsPrivateKeyFile": str(serving[1]),
        "port": KUBELET_PORT, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": HEALTHZ_PORT,
        "clusterDNS": [dns_ip], "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(directory / "resolv.conf"),
        "podLogsDir": str(directory / "pod-logs"),
        "registerWithTaints": [NODE_TAINT],
        # A shared build machine's disk and memory are not the node's to guard: no evictions, no image GC.
        "evictionHard": {"memory.available": "0%", "nodefs.available": "0%", "imagefs.available": "0%",
                         "nodefs.inodesFree": "0%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "localStorageCapacityIsolation": False,
        "serializeImagePulls": False, "maxPods": 60,
        "staticPodPath": "", "rotateCertificates": False, "serverTLSBootstrap": False,
    }


def start_kubelet(sup: processes.Supervisor, binary: Path, directory: Path, certs: pki.Pki, apiserver_url: str,
                  node_ip: str, runtime_endpoint: str, netns: Path, launcher: Sequence[str],
                  env: Mapping[str, str], root_dir: Path) -> Kubelet:
    """Start kubelet; ready once its healthz answers (the Node's Ready condition is awaited later)."""
    directory.mkdir(parents=True, exist_ok=True)
    client = pki.issue(certs, "kubelet-client", f"system:node:{NODE_NAME}", organization="system:nodes")
    serving = pki.issue(certs, "kubelet-serving", NODE_NAME, ips=[node_ip], dns=[NODE_NAME], server=True)
    kubeconfig = kube.write_client_kubeconfig(directory / "kubeconfig", apiserver_url, certs.ca_cert, *client)
    (directory / "resolv.conf").write_text(f"nameserver {node_ip}\n")
    config = _write_yaml(directory / "config.yaml",
                         kubelet_config(directory, certs, serving, runtime_endpoint, node_ip))
    root = root_dir
    argv = [*launcher, binary, f"--config={config}", f"--kubeconfig={kubeconfig}", f"--root-dir={root}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={node_ip}",
            f"--node-labels={NODE_LABEL[0]}={NODE_LABEL[1]}", "--v=1"]
    proc = sup.start("kubelet", argv, env=env, cwd=directory,
                     ready=_healthz_in(netns, HEALTHZ_PORT),
                     timeout=90, grace=20)
    return Kubelet(proc=proc, root_dir=root, pod_logs=directory / "pod-logs")


def _healthz_in(netns: Path, port: int) -> processes.ReadyCheck:
    """Ready once ``127.0.0.1:port/healthz`` answers 200 inside the node's network namespace."""
    return lambda: portal.http_status_in(str(netns), "127.0.0.1", port, "/healthz") == 200


def start_kube_proxy(sup: processes.Supervisor, binary: Path, directory: Path, certs: pki.Pki,
                     apiserver_url: str, cluster_cidr: str, netns: Path, launcher: Sequence[str],
                     env: Mapping[str, str]) -> processes.Managed:
    directory.mkdir(parents=True, exist_ok=True)
    client = pki.issue(certs, "kube-proxy", "system:kube-proxy")
    kubeconfig = kube.write_client_kubeconfig(directory / "kubeconfig", apiserver_url, certs.ca_cert, *client)
    config = _write_yaml(directory / "config.yaml", {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables", "clusterCIDR": cluster_cidr, "hostnameOverride": NODE_NAME,
        "iptables": {"masqueradeAll": True},
        # nf_conntrack_max is host-wide: leave it (0 = do not set); the timeouts are per namespace.
        "conntrack": {"maxPerCore": 0, "min": 0},
        "healthzBindAddress": "127.0.0.1:10256", "metricsBindAddress": "127.0.0.1:10249",
    })
    return sup.start("kube-proxy", [*launcher, binary, f"--config={config}", "--v=1"], env=env, cwd=directory,
                     ready=_healthz_in(netns, 10256), timeout=60)
