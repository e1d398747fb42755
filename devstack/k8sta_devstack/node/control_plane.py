"""etcd and kube-apiserver inside the node's network namespace, reached from the host through a portal.

The API server must reach the kubelet (logs, exec, port-forward: Argo CD's Logs tab) at the node's
address, and pods must reach the API server through the ``kubernetes`` Service, whose endpoint is the
advertised address: so both live in the namespace, on fixed ports. Unlike the process stack's API
server it runs as a real cluster's does: ServiceAccount admission on (kubelet mounts projected tokens),
the Node authorizer and NodeRestriction for the kubelet's identity, the ``kubernetes`` Service's endpoints
kept by the lease reconciler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from k8sta_devstack import pki, processes
from k8sta_devstack.kube import SERVICE_CLUSTER_IP_RANGE
from k8sta_devstack.node import portal

ETCD_PORT = 2379
APISERVER_PORT = 6443


def start_etcd(sup: processes.Supervisor, binary: Path, data_dir: Path, netns: Path, launcher: Sequence[str],
               env: Mapping[str, str]) -> str:
    client_url = f"http://127.0.0.1:{ETCD_PORT}"
    peer_url = "http://127.0.0.1:2380"
    argv = [*launcher, binary, "--name=devstack", f"--data-dir={data_dir}",
            f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=devstack={peer_url}", "--initial-cluster-state=new",
            "--unsafe-no-fsync=true", "--log-level=warn"]
    sup.start("etcd", argv, env=env, cwd=data_dir.parent,
              ready=lambda: portal.http_status_in(str(netns), "127.0.0.1", ETCD_PORT, "/health") == 200)
    return client_url


def apiserver_argv(binary: Path, certs: pki.Pki, etcd_url: str, cert_dir: Path, node_ip: str,
                   kubelet_client: tuple[Path, Path]) -> list[str]:
    return [str(binary),
            f"--etcd-servers={etcd_url}",
            f"--cert-dir={cert_dir}",
            f"--tls-cert-file={certs.serving_cert}", f"--tls-private-key-file={certs.serving_key}",
            f"--client-ca-file={certs.ca_cert}",
            "--bind-address=0.0.0.0", f"--advertise-address={node_ip}", f"--secure-port={APISERVER_PORT}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={certs.service_account_key}",
            f"--service-account-signing-key-file={certs.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=Node,RBAC",
            # PodNodeSelector + PodTolerationRestriction: a namespace's annotations steer its pods to a node
            # pool, as a cluster operator does; the tests steer the system namespaces (k8sta, argocd) to the
            # real node this way, so the product's install runs unchanged.
            "--enable-admission-plugins=NodeRestriction,PodNodeSelector,PodTolerationRestriction",
            f"--kubelet-client-certificate={kubelet_client[0]}", f"--kubelet-client-key={kubelet_client[1]}",
            "--kubelet-preferred-address-types=InternalIP",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1"]
