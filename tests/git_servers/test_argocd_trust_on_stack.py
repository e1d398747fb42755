"""The daemon reads Argo CD's repository Secret and known hosts from the real API server, and fetches
over SSH with them (the reading half of test_adapter_transports, which gives that data directly)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s_client

from k8sta_daemon.adapters import kube, repo_credentials
from k8sta_daemon.adapters.git import errors
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_devstack import stack as stack_mod

from .servers import Served

pytestmark = pytest.mark.stack
OTHER_HOST = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"


def _put_config_map(core: k8s_client.CoreV1Api, namespace: str, name: str, data: dict[str, str]) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}
    try:
        core.replace_namespaced_config_map(name, namespace, body)
    except k8s_client.ApiException as exc:
        if exc.status != 404:
            raise
        core.create_namespaced_config_map(namespace, body)


@pytest.fixture
def argocd_objects(stack: stack_mod.Stack, kube_api: k8s_client.ApiClient) -> Iterator[k8s_client.CoreV1Api]:
    """Leaves Argo CD's known hosts and TLS ConfigMaps as they were, and removes the test's Secret."""
    core = k8s_client.CoreV1Api(kube_api)
    before = {}
    for name in (repo_credentials.KNOWN_HOSTS_CONFIGMAP, repo_credentials.TLS_CERTS_CONFIGMAP):
        try:
            before[name] = core.read_namespaced_config_map(name, stack.namespace).data or {}
        except k8s_client.ApiException:
            before[name] = None
    yield core
    core.delete_namespaced_secret("repo-config-ssh", stack.namespace)
    for name, data in before.items():
        if data is None:
            core.delete_namespaced_config_map(name, stack.namespace)
        else:
            _put_config_map(core, stack.namespace, name, data)


def test_ssh_trust_and_key_come_from_argo_cds_namespace(stack: stack_mod.Stack, kube_api: k8s_client.ApiClient,
                                                       argocd_objects: k8s_client.CoreV1Api, served: Served,
                                                       tmp_path: Path) -> None:
    url = served.ssh.repo_url("config")
    argocd_objects.create_namespaced_secret(stack.namespace, {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "repo-config-ssh", "labels": {repo_credentials.SECRET_TYPE_LABEL: "repository"}},
        "stringData": {"type": "git", "url": url, "sshPrivateKey": served.ssh.client_key.read_text()}})
    lookup = repo_credentials.FromArgoCDSecrets(kube.Kube(kube_api), stack.namespace)

    _put_config_map(argocd_objects, stack.namespace, repo_credentials.KNOWN_HOSTS_CONFIGMAP,
                    {"ssh_known_hosts": OTHER_HOST})
    with pytest.raises(errors.HostKeyRejected, match="argocd-ssh-known-hosts-cm"):
        Mirror.open(url, cache_dir=tmp_path / "mirrors", creds=lookup(url)).fetch()

    _put_config_map(argocd_objects, stack.namespace, repo_credentials.KNOWN_HOSTS_CONFIGMAP,
                    {"ssh_known_hosts": served.ssh.known_hosts_line + "\n"})
    mirror = Mirror.open(url, cache_dir=tmp_path / "mirrors", creds=lookup(url))
    mirror.fetch()
    assert mirror.branch_head("main") is not None


def test_an_absent_tls_certs_config_map_reads_as_no_ca(stack: stack_mod.Stack, kube_api: k8s_client.ApiClient,
                                                      argocd_objects: k8s_client.CoreV1Api) -> None:
    argocd_objects.create_namespaced_secret(stack.namespace, {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "repo-config-ssh", "labels": {repo_credentials.SECRET_TYPE_LABEL: "repository"}},
        "stringData": {"type": "git", "url": "https://git.example.com/a.git", "username": "u", "password": "p"}})
    with contextlib.suppress(k8s_client.ApiException):
        argocd_objects.delete_namespaced_config_map(repo_credentials.TLS_CERTS_CONFIGMAP, stack.namespace)
    found = repo_credentials.FromArgoCDSecrets(kube.Kube(kube_api), stack.namespace)("https://git.example.com/a.git")
    assert (found.username, found.password, found.tls_ca_pem) == ("u", "p", None)
