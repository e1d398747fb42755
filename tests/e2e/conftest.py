"""Fixtures of the smoke tests: unique names per test, Applications created and deleted on the stack."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s_client

from k8sta_devstack.stack import Stack

from .helpers import ARGOCD_NS, App


@pytest.fixture
def app_names() -> Callable[[str], tuple[str, str]]:
    """Unique Application and destination-namespace names (the stack is shared by the session)."""
    def make(prefix: str) -> tuple[str, str]:
        suffix = secrets.token_hex(3)
        return f"{prefix}-{suffix}", f"e2e-{prefix}-{suffix}"
    return make


@pytest.fixture
def create_app(kube_api: k8s_client.ApiClient, stack: Stack) -> Iterator[Callable[[App], dict[str, Any]]]:
    """Create Applications through the Kubernetes API; delete them when the test ends."""
    custom = k8s_client.CustomObjectsApi(kube_api)
    created: list[str] = []

    def make(app: App) -> dict[str, Any]:
        obj = custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications",
                                                     app.manifest())
        created.append(app.name)
        return dict(obj)

    yield make
    for name in created:
        custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications", name)
