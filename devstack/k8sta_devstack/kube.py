"""etcd and kube-apiserver as processes, the kubeconfig for clients, and server-side apply.

kube-apiserver runs with flags like controller-runtime's envtest: loopback only, real RBAC, the
ServiceAccount admission plugin off (no controller-manager creates service accounts), a client
certificate in ``system:masters`` as the admin identity.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from k8sta_devstack import pki, processes

FIELD_MANAGER = "k8sta-devstack"
# /16: every Application of the sample railway deploys a Service (a /24 holds only 254).
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/16"


@dataclass(frozen=True)
class ApiServer:
    url: str
    kubeconfig: Path
    etcd_url: str


def start_etcd(sup: processes.Supervisor, binary: Path, data_dir: Path, env: Mapping[str, str]) -> str:
    """Start a single-member etcd on two free loopback ports; return its client URL once healthy."""
    client_url = f"http://127.0.0.1:{processes.free_port()}"
    peer_url = f"http://127.0.0.1:{processes.free_port()}"
    argv = [binary, "--name=devstack", f"--data-dir={data_dir}",
            f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=devstack={peer_url}", "--initial-cluster-state=new",
            "--unsafe-no-fsync=true",  # throw-away data: durability costs seconds per test run
            "--log-level=warn"]
    sup.start("etcd", argv, env=env, cwd=data_dir.parent, ready=processes.http_ok(f"{client_url}/health"))
    return client_url


def start_apiserver(sup: processes.Supervisor, binary: Path, certs: pki.Pki, etcd_url: str,
                    state_dir: Path, env: Mapping[str, str]) -> ApiServer:
    """Start kube-apiserver on a free loopback port; return once /readyz answers ok for the admin."""
    port = processes.free_port()
    url = f"https://127.0.0.1:{port}"
    cert_dir = state_dir / "apiserver"
    cert_dir.mkdir(parents=True, exist_ok=True)
    argv = [binary,
            f"--etcd-servers={etcd_url}",
            f"--cert-dir={cert_dir}",
            f"--tls-cert-file={certs.serving_cert}", f"--tls-private-key-file={certs.serving_key}",
            f"--client-ca-file={certs.ca_cert}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
            f"--service-account-issuer={url}",
            f"--service-account-key-file={certs.service_account_key}",
            f"--service-account-signing-key-file={certs.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=RBAC",
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",  # the kubernetes Service cannot point at loopback
            "--profiling=false",
            "--v=1"]
    kubeconfig = write_kubeconfig(state_dir / "kubeconfig", url, certs, namespace="argocd")
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    context.load_cert_chain(str(certs.admin_cert), str(certs.admin_key))
    sup.start("kube-apiserver", argv, env=env, cwd=state_dir,
              ready=processes.http_ok(f"{url}/readyz", context), timeout=120)
    return ApiServer(url=url, kubeconfig=kubeconfig, etcd_url=etcd_url)


def write_kubeconfig(path: Path, server: str, certs: pki.Pki, namespace: str) -> Path:
    """A self-contained kubeconfig (certificates embedded) for the admin; written 0600."""
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "devstack", "cluster": {"server": server,
                                                      "certificate-authority-data": b64(certs.ca_cert)}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64(certs.admin_cert),
                                             "client-key-data": b64(certs.admin_key)}}],
        "contexts": [{"name": "devstack", "context": {"cluster": "devstack", "user": "admin",
                                                      "namespace": namespace}}],
        "current-context": "devstack",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(doc, handle, sort_keys=False)
    return path


def api_client(kubeconfig: Path) -> k8s_client.ApiClient:
    """A Kubernetes client for the stack (no global default configuration is touched)."""
    return k8s_config.new_client_from_config(config_file=str(kubeconfig))


# kind -> (plural, namespaced) for what the launcher applies; anything else is a programming error.
_RESOURCES = {
    "Namespace": ("namespaces", False),
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "CustomResourceDefinition": ("customresourcedefinitions", False),
}


def _path(obj: Mapping[str, Any]) -> str:
    plural, namespaced = _RESOURCES[obj["kind"]]
    group_version = obj["apiVersion"]
    prefix = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    name = obj["metadata"]["name"]
    if namespaced:
        return f"{prefix}/namespaces/{obj['metadata']['namespace']}/{plural}/{name}"
    return f"{prefix}/{plural}/{name}"


def server_side_apply(api: k8s_client.ApiClient, obj: Mapping[str, Any]) -> dict[str, Any]:
    """PATCH with ``application/apply-patch+yaml`` (JSON is YAML), forcing ownership of our fields.

    Server-side apply because Argo CD's CRDs are too large for client-side apply's
    last-applied-configuration annotation (262144 bytes).
    """
    request = api.param_serialize(
        "PATCH", _path(obj), query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
        body=dict(obj), auth_settings=["BearerToken"],
    )
    response = api.call_api(*request)
    response.read()
    if not 200 <= response.status < 300:
        raise k8s_client.ApiException(status=response.status, reason=response.reason,
                                      body=response.data.decode(errors="replace"))
    return dict(json.loads(response.data))


def crd_established(api: k8s_client.ApiClient, name: str) -> bool:
    crd = k8s_client.ApiextensionsV1Api(api).read_custom_resource_definition(name)
    return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or []))


def write_client_kubeconfig(path: Path, server: str, ca_cert: Path, cert: Path, key: Path) -> Path:
    """A kubeconfig for one client identity (certificate files by path, not embedded); written 0600."""
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "devstack", "cluster": {"server": server, "certificate-authority": str(ca_cert)}}],
        "users": [{"name": "client", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "devstack", "context": {"cluster": "devstack", "user": "client"}}],
        "current-context": "devstack",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(doc, handle, sort_keys=False)
    return path
