"""Argo CD as its users run it: the pinned release's own manifests, as pods on a real node, images from a
mirror renamed with kustomize ``images:``, K8sTA's plugin as a repo-server sidecar."""

from __future__ import annotations

import subprocess

import pytest
from kubernetes import client as k8s_client

from k8sta_devstack import binaries, kube
from k8sta_devstack.node import argocd_install, kubelet
from k8sta_devstack.node import cluster as node_cluster

from .conftest import ArgoCDOnNode, wait_for

# Argo CD serves its own self-signed certificate, as after a plain install.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def test_argocd_runs_from_its_release_manifests_on_the_real_node(cluster: node_cluster.Cluster,
                                                                 argocd_on_node: ArgoCDOnNode) -> None:
    api = kube.api_client(cluster.kubeconfig)
    pods = k8s_client.CoreV1Api(api).list_namespaced_pod(argocd_install.NAMESPACE).items
    api.close()
    owners = {pod.metadata.name.rsplit("-", 2 if "-0" not in pod.metadata.name else 1)[0] for pod in pods}
    assert {"argocd-server", "argocd-repo-server", "argocd-redis", "argocd-application-controller"} <= owners
    for pod in pods:
        assert pod.spec.node_name == kubelet.NODE_NAME, pod.metadata.name
        for status in pod.status.container_statuses:
            assert status.ready, (pod.metadata.name, status.name)
            assert status.image.startswith("registry.k8sta.test/"), status.image  # renamed by the overlay
    repo_server = next(p for p in pods if p.metadata.name.startswith("argocd-repo-server"))
    assert {c.name for c in repo_server.spec.containers} == {"argocd-repo-server", "k8sta-cmp"}
    version = argocd_on_node.session().get(f"{argocd_on_node.url}/api/version", timeout=30).json()["Version"]
    assert version.startswith(binaries.read_versions()["ARGOCD_VERSION"] + "+") or \
        version == binaries.read_versions()["ARGOCD_VERSION"], version


def test_the_plugin_sidecar_can_read_the_input_key_mounted_from_its_secret(
        cluster: node_cluster.Cluster, argocd_on_node: ArgoCDOnNode) -> None:
    """Argo CD's repo-server pod sets no fsGroup: a Secret file of mode 0400 is root's alone, and the
    sidecar (uid 999) could not read the key K8sTA signs branches with."""
    api = kube.api_client(cluster.kubeconfig)
    core = k8s_client.CoreV1Api(api)
    core.create_namespaced_secret(argocd_install.NAMESPACE, {
        "metadata": {"name": "k8sta-input-key"}, "stringData": {"key": "0123456789abcdef" * 4}})
    for pod in core.list_namespaced_pod(argocd_install.NAMESPACE,
                                        label_selector="app.kubernetes.io/name=argocd-repo-server").items:
        core.delete_namespaced_pod(pod.metadata.name, argocd_install.NAMESPACE)  # remounts with the Secret
    kubectl = binaries.locate_node().kubectl
    probe = "import os; print(os.getuid(), len(open('/var/run/secrets/k8sta/input-key/key').read()))"

    def read_key() -> str:
        done = subprocess.run([str(kubectl), f"--kubeconfig={cluster.kubeconfig}", "-n", argocd_install.NAMESPACE,
                               "exec", "deploy/argocd-repo-server", "-c", "k8sta-cmp", "--", "python3", "-c",
                               probe],
                              capture_output=True, text=True, timeout=60, check=False)
        if "Permission denied" in done.stderr:
            pytest.fail(f"the sidecar cannot read its input key: {done.stderr.strip()}", pytrace=False)
        return done.stdout.strip() if done.returncode == 0 else ""
    try:
        assert wait_for(read_key, 180, "the new repo-server pod's sidecar to read the key") == "999 64"
    finally:
        core.delete_namespaced_secret("k8sta-input-key", argocd_install.NAMESPACE)
        api.close()
