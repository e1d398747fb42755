"""Fixtures for the tests on the real node: a cluster whose system pods run on a kubelet + containerd
node (``k8sta_devstack.node``), started once per session and torn down at its end.

These tests run in their own pytest session (``make test`` runs them after the process-stack suite), so
the two stacks never compete for the machine's two cores.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import urllib3
from kubernetes import client as k8s_client

from k8sta_devstack import binaries, kube
from k8sta_devstack.node import argocd_install
from k8sta_devstack.node import cluster as node_cluster
from k8sta_devstack.node import images as node_images

# Argo CD serves its own self-signed certificate, as after a plain install.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@pytest.fixture(scope="session")
def node_image_list() -> list[node_images.NodeImage]:
    try:
        binaries.locate_node()
        return node_images.load(node_images.index_path(binaries.cache_dir()))
    except (binaries.MissingTool, node_images.NodeImagesMissing) as exc:
        pytest.fail(f"the real node cannot start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            node_image_list: list[node_images.NodeImage]) -> Iterator[node_cluster.Cluster]:
    pause = node_images.by_short(node_image_list, node_images.PAUSE)
    with node_cluster.running(tmp_path_factory.mktemp("cluster"),
                              [(image.archive, image.ref) for image in node_image_list], pause.ref) as started:
        yield started


@dataclass(frozen=True)
class ArgoCDOnNode:
    """Argo CD as pods on the real node, its API reached from the host through a portal."""

    url: str
    admin_password: str
    images: dict[str, str]

    def session(self) -> requests.Session:
        """An admin session on Argo CD's API (its certificate is Argo CD's self-signed one)."""
        http = requests.Session()
        http.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify=False
        http.verify = False
        token = http.post(f"{self.url}/api/v1/session", json={"username": "admin", "password": self.admin_password},
                          timeout=30).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        return http


def wait_for(check: Callable[[], object], timeout: float, what: str, interval: float = 2.0) -> object:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` and the last error."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except Exception as exc:  # a component warming up
            last = exc
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last})", pytrace=False)


@pytest.fixture(scope="session")
def argocd_on_node(cluster: node_cluster.Cluster,
                   node_image_list: list[node_images.NodeImage]) -> ArgoCDOnNode:
    refs = {image.short: image.ref for image in node_image_list}
    images = {"argocd": refs[node_images.ARGOCD], "redis": refs[node_images.REDIS],
              "k8sta-cmp": refs[node_images.K8STA_CMP]}
    version = binaries.read_versions()["ARGOCD_VERSION"]
    overlay = argocd_install.write_overlay(cluster.state_dir / "argocd-install", version, images)
    kubectl = binaries.locate_node().kubectl
    argocd_install.install(kubectl, cluster.kubeconfig, overlay)
    api = kube.api_client(cluster.kubeconfig)
    core = k8s_client.CoreV1Api(api)

    def all_ready() -> bool:
        pods = core.list_namespaced_pod(argocd_install.NAMESPACE).items
        return bool(pods) and all(any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
                                  for p in pods)
    wait_for(all_ready, 300, "every Argo CD pod Ready on the real node")
    server = core.read_namespaced_service("argocd-server", argocd_install.NAMESPACE)
    host = cluster.expose("argocd-server", server.spec.cluster_ip, 443)
    secret = core.read_namespaced_secret("argocd-initial-admin-secret", argocd_install.NAMESPACE)
    password = base64.b64decode(secret.data["password"]).decode()
    api.close()
    found = ArgoCDOnNode(url=f"https://{host}", admin_password=password, images=images)
    wait_for(lambda: found.session(), 120, "Argo CD's API to log the admin in")
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here needs the real stack and the real node (``make test-unit`` leaves them out)."""
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.stack)
            item.add_marker(pytest.mark.cluster)
