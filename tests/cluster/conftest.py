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
from k8sta_devstack.node import argocd_install, cleanup, journey, netns, quickstart
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
    """The session's node; after its teardown (the end of the suite) the host must be exactly as found:
    iptables, links, routes, rules, mounts, cgroups, namespaces, sysctls, and no process of the node's."""
    pause = node_images.by_short(node_image_list, node_images.PAUSE)
    state = tmp_path_factory.mktemp("cluster")
    before = cleanup.host_facts(state)
    with node_cluster.running(state, [(image.archive, image.ref) for image in node_image_list],
                              pause.ref) as started:
        yield started
    after = cleanup.host_facts(state)
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert not changed, f"the suite left the host changed: {changed}"
    assert cleanup.stray_processes((str(state),)) == [], "the suite left processes of the node running"


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
    try:
        return journey.wait(what, check, timeout, interval)
    except TimeoutError as exc:
        pytest.fail(str(exc), pytrace=False)


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

    wait_for(lambda: journey.pods_ready(api, argocd_install.NAMESPACE), 300, "every Argo CD pod Ready on the real node")
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


@dataclass(frozen=True)
class K8staOnNode:
    """K8sTA installed by the README's Quickstart; what the tests saw while it ran."""

    steps: list[str]
    workdir: Path                    # the operator's working directory (the edited copy of kustomize/)
    events_before_token: list[str]   # the controller pod's Events while its token Secret did not exist
    install_seconds: float           # from the first README step to both Deployments rolled out


@pytest.fixture(scope="session")
def k8sta_on_node(cluster: node_cluster.Cluster, argocd_on_node: ArgoCDOnNode,
                  node_image_list: list[node_images.NodeImage],
                  tmp_path_factory: pytest.TempPathFactory) -> K8staOnNode:
    api = kube.api_client(cluster.kubeconfig)
    journey.steer_namespace(api, journey.K8STA_NAMESPACE)
    refs = {image.short: image.ref for image in node_image_list}
    registry, tag = refs[node_images.K8STA].rsplit(":", 1)
    registry = registry.rsplit("/", 1)[0]
    shell = quickstart.operator(tmp_path_factory.mktemp("operator"), cluster.kubeconfig,
                                argocd_on_node.url.removeprefix("https://"), argocd_on_node.admin_password)
    version = binaries.read_versions()["ARGOCD_VERSION"]
    events: list[str] = []

    def look(step: quickstart.Step) -> None:
        if step.number == 3:  # before step 4 creates the token Secret
            def waiting() -> list[str]:
                found = [e.message or "" for e in k8s_client.CoreV1Api(api).list_namespaced_event(
                    journey.K8STA_NAMESPACE).items if e.reason == "FailedMount"]
                return found if any("k8sta-argocd-token" in m for m in found) else []
            events.extend(wait_for(waiting, 120, "the controller pod to report its missing token Secret"))

    began = time.monotonic()
    done = quickstart.run(quickstart.default_readme(), shell, registry, tag,
                          lambda component: argocd_install.write_overlay(
                              cluster.state_dir / "argocd-install", version, argocd_on_node.images, component),
                          between=look)
    wait_for(lambda: journey.pods_ready(api, journey.K8STA_NAMESPACE), 300, "K8sTA's pods Ready")
    seconds = time.monotonic() - began
    print(f"\nK8sTA installed by the README's steps in {seconds:.0f} s")
    api.close()
    return K8staOnNode([f"{s.number}. {s.title}" for s in done], shell.workdir, events, seconds)


@pytest.fixture(scope="session")
def git_serving(cluster: node_cluster.Cluster, k8sta_on_node: K8staOnNode) -> journey.GitServing:
    serving = journey.serve_git(cluster.state_dir / "git", cluster.supervisor, netns.Netns(cluster.netns))
    api = kube.api_client(cluster.kubeconfig)
    journey.trust_and_credentials(api, serving)
    api.close()
    journey.wait_trust_mounted(binaries.locate_node().kubectl, cluster.kubeconfig, serving)
    return serving
