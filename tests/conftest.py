"""Shared fixtures. The real-stack ones (stack, kube_api, argocd, config_repo, kustomize) live in
k8sta_devstack.pytest_plugin so humans' tooling and the tests start the stack the same way."""

from pathlib import Path

import pytest

pytest_plugins = ["k8sta_devstack.pytest_plugin"]


@pytest.fixture
def unreachable_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig whose server refuses connections (port 1), with a context namespace."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n"
        "clusters: [{name: nowhere, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: nobody, user: {token: not-a-secret}}]\n"
        "contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody, namespace: from-context}}]\n")
    return path
