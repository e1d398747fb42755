"""Signed inputs through the real repo-server (issue 18, finding 4): a branch signed for another
namespace's Application, and an unsigned branch where the sidecar requires signatures, are refused
with a clear message, and nothing is deployed.

The stack runs two plugin sidecars with the same input key: ``k8sta`` and ``k8sta-strict``
(``K8STA_REQUIRE_SIGNED_INPUTS=true``, devstack ``argocd.start_cmp_server``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client as k8s_client

from k8sta_cmp import contract
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_devstack import appbranch
from k8sta_devstack.argocd import STRICT_PLUGIN_NAME
from k8sta_devstack.gitrepo import ConfigRepo
from k8sta_devstack.stack import INPUT_KEY_FILE, Stack

from .helpers import ARGOCD_NS, App, app_inputs, push_app_branch, synced_healthy_at, wait_for_app

pytestmark = pytest.mark.stack


@dataclass(frozen=True)
class StrictApp(App):
    """The same Application, rendered by the sidecar that requires signed inputs."""

    def manifest(self) -> dict[str, Any]:
        found = super().manifest()
        found["spec"]["source"]["plugin"] = {"name": STRICT_PLUGIN_NAME}
        return found


def refused_with(text: str) -> Callable[[dict[str, Any]], bool]:
    def check(found: dict[str, Any]) -> bool:
        return any(text in c.get("message", "") for c in found.get("status", {}).get("conditions") or [])
    return check


def nothing_deployed(kube_api: k8s_client.ApiClient, destination: str) -> bool:
    found = k8s_client.CoreV1Api(kube_api).list_namespace(field_selector=f"metadata.name={destination}")
    return found.items == []


def test_a_branch_signed_for_another_namespaces_application_is_refused(
        argocd: ArgoCD, stack: Stack, kube_api: k8s_client.ApiClient, config_repo: ConfigRepo,
        kustomize: Kustomize, create_app: Callable[[App], dict[str, Any]],
        app_names: Callable[[str], tuple[str, str]]) -> None:
    """Signed by the key for team-a/<name>; Argo CD renders argocd/<name> (ARGOCD_APP_NAME is the bare
    name in Argo CD's own namespace): same name, another Application."""
    name, destination = app_names("tenant")
    app = App(name, destination, config_repo)
    key = (stack.state_dir / INPUT_KEY_FILE).read_bytes().strip()
    inputs = app_inputs("team-a's config")
    source = config_repo.commit("main", inputs, "team-a's config")
    files = appbranch.build(inputs, application=contract.ObjectRef("team-a", name), kustomization="env/dev",
                            source_commit=source, kustomize=kustomize, key=key)
    revision = config_repo.commit("env/dev", files, "signed for team-a")
    assert contract.INPUTS_PATH in config_repo.git(["ls-tree", "-r", "--name-only", revision])
    create_app(app)

    message = (f"refused: this branch was signed for Application team-a/{name} (ticket team-a/{name}-ticket), "
               f"rendered for {ARGOCD_NS}/{name}")
    status = wait_for_app(argocd, name, refused_with(message), "refusing the branch of team-a")["status"]
    assert status["sync"]["status"] != "Synced"
    assert nothing_deployed(kube_api, destination)


def test_an_unsigned_branch_is_refused_when_the_sidecar_requires_signed_inputs(
        argocd: ArgoCD, stack: Stack, kube_api: k8s_client.ApiClient, config_repo: ConfigRepo,
        kustomize: Kustomize, create_app: Callable[[App], dict[str, Any]],
        app_names: Callable[[str], tuple[str, str]]) -> None:
    name, destination = app_names("unsigned")
    app = StrictApp(name, destination, config_repo)
    push_app_branch(app, app_inputs("unsigned"), kustomize)  # valid in every other way
    create_app(app)

    message = ("k8sta: refused: .k8sta/inputs is absent; K8STA_REQUIRE_SIGNED_INPUTS is on, so only branches "
               "K8sTA signed with the input key render")
    status = wait_for_app(argocd, name, refused_with(message), "refusing the unsigned branch")["status"]
    assert status["sync"]["status"] != "Synced"
    assert nothing_deployed(kube_api, destination)

    # the same sidecar renders the branch once K8sTA's key signed it
    key = (stack.state_dir / INPUT_KEY_FILE).read_bytes().strip()
    revision = push_app_branch(app, app_inputs("signed"), kustomize, key=key)
    argocd.refresh(app.ref, hard=True)
    wait_for_app(argocd, name, synced_healthy_at(revision), f"Synced+Healthy at {revision}")
