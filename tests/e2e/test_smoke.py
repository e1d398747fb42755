"""Smoke tests proving the local stack is real: our plugin inside Argo CD's cmp-server, Argo CD's
controller syncing into kube-apiserver, its REST API behind token authentication."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from cmp.httprecorder import recording  # tests/ is the rootdir of the test packages
from kubernetes import client as k8s_client

from k8sta_cmp import contract
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_devstack.gitrepo import ConfigRepo
from k8sta_devstack.stack import INPUT_KEY_FILE, Stack

from .helpers import (
    ARGOCD_NS,
    App,
    app_inputs,
    push_app_branch,
    synced_healthy_at,
    wait_for_app,
)

pytestmark = pytest.mark.stack

REMOTE_BASE = "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.7.1"


def _config_map(kube_api: k8s_client.ApiClient, namespace: str, name: str) -> k8s_client.V1ConfigMap:
    return k8s_client.CoreV1Api(kube_api).read_namespaced_config_map(name, namespace)


def _shows_refusal(found: dict[str, Any]) -> bool:
    """Argo CD shows a plugin refusal among the Application's conditions."""
    conditions = found.get("status", {}).get("conditions") or []
    return any("k8sta: refused:" in c.get("message", "") for c in conditions)


def test_token_authenticates_as_the_automation_account(argocd: ArgoCD) -> None:
    info = argocd.user_info()
    assert info["loggedIn"] is True
    assert info["username"] == "k8sta"


def test_app_branch_renders_through_plugin_and_syncs_healthy(
        argocd: ArgoCD, kube_api: k8s_client.ApiClient, config_repo: ConfigRepo, kustomize: Kustomize,
        create_app: Callable[[App], dict[str, Any]], app_names: Callable[[str], tuple[str, str]]) -> None:
    name, destination = app_names("smoke")
    app = App(name, destination, config_repo)
    revision = push_app_branch(app, app_inputs("first"), kustomize)
    create_app(app)

    status = wait_for_app(argocd, name, synced_healthy_at(revision), f"Synced+Healthy at {revision}")["status"]

    assert status["sourceType"] == "Plugin"
    assert {(r["kind"], r["name"]) for r in status["resources"]} == {
        ("ConfigMap", "smoke-status"), ("ConfigMap", "smoke-settings")}
    settings = _config_map(kube_api, destination, "smoke-settings")
    assert settings.data == {"message": "first"}
    health = _config_map(kube_api, destination, "smoke-status")
    # Argo CD 3's default resource tracking: an annotation naming the Application.
    assert health.metadata.annotations["argocd.argoproj.io/tracking-id"].startswith(f"{name}:")


def test_hostile_branch_is_refused_and_argocd_shows_why(
        argocd: ArgoCD, kube_api: k8s_client.ApiClient, config_repo: ConfigRepo, kustomize: Kustomize,
        create_app: Callable[[App], dict[str, Any]], app_names: Callable[[str], tuple[str, str]]) -> None:
    name, destination = app_names("hostile")
    app = App(name, destination, config_repo)
    inputs = app_inputs("never deployed")
    inputs["env/dev/kustomization.yaml"] = yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["../../base", REMOTE_BASE]}).encode()
    push_app_branch(app, inputs, kustomize, render=False)
    create_app(app)

    status = wait_for_app(argocd, name, _shows_refusal, "showing the plugin's refusal")["status"]

    refusals = [c for c in status["conditions"] if "k8sta: refused:" in c["message"]]
    assert all(c["type"] == "ComparisonError" for c in refusals), refusals
    assert any(REMOTE_BASE in c["message"] for c in refusals), refusals
    assert status["sync"]["status"] != "Synced"
    namespaces = k8s_client.CoreV1Api(kube_api).list_namespace(field_selector=f"metadata.name={destination}")
    assert namespaces.items == []  # nothing was deployed


@pytest.mark.parametrize("form", ["scp", "loopback-http"])
def test_remote_form_is_refused_before_kustomize_starts_and_argocd_shows_it(
        form: str, argocd: ArgoCD, config_repo: ConfigRepo, kustomize: Kustomize,
        create_app: Callable[[App], dict[str, Any]], app_names: Callable[[str], tuple[str, str]]) -> None:
    """Issue 18, finding 7: `deploy@host:org/repo` is refused by name, and a loopback URL (which Go fetches
    past kustomize's proxy sandbox) is never requested: the plugin starts kustomize only after its checks."""
    name, destination = app_names(f"remote-{form}")
    app = App(name, destination, config_repo)
    with recording() as recorder:
        value = "deploy@host:org/repo" if form == "scp" else f"{recorder.url}/evil.yaml"
        inputs = app_inputs("never deployed")
        inputs["env/dev/kustomization.yaml"] = yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [value, "../../base"]}).encode()
        push_app_branch(app, inputs, kustomize, render=False)
        create_app(app)

        status = wait_for_app(argocd, name, _shows_refusal, "showing the plugin's refusal")["status"]
        assert recorder.requests == []
    [condition] = [c for c in status["conditions"] if "k8sta: refused:" in c["message"]]
    assert condition["type"] == "ComparisonError"
    assert f"refused: env/dev/kustomization.yaml: resources[0]: remote input {value!r} (" in condition["message"]
    assert status["sync"]["status"] != "Synced"


def test_signed_branch_renders_and_one_edited_after_signing_is_refused_naming_the_file(
        argocd: ArgoCD, stack: Stack, config_repo: ConfigRepo, kustomize: Kustomize,
        create_app: Callable[[App], dict[str, Any]], app_names: Callable[[str], tuple[str, str]]) -> None:
    """Contract v2 through the real repo-server: the sidecar holds the stack's input key."""
    name, destination = app_names("signed")
    app = App(name, destination, config_repo)
    key = (stack.state_dir / INPUT_KEY_FILE).read_bytes().strip()
    revision = push_app_branch(app, app_inputs("signed"), kustomize, key=key)
    assert contract.INPUTS_PATH in config_repo.git(["ls-tree", "-r", "--name-only", revision])
    create_app(app)
    wait_for_app(argocd, name, synced_healthy_at(revision), f"Synced+Healthy at {revision}")

    files = {path: config_repo.git(["show", f"{revision}:{path}"]).encode()
             for path in config_repo.git(["ls-tree", "-r", "--name-only", revision]).split()}
    files["env/dev/settings.yaml"] = files["env/dev/settings.yaml"].replace(b"signed", b"edited")
    config_repo.commit("env/dev", files, "edited by hand, signature kept")
    argocd.refresh(app.ref, hard=True)

    def refused(found: dict[str, Any]) -> bool:
        conditions = found.get("status", {}).get("conditions") or []
        return any("was changed after K8sTA signed the inputs" in c.get("message", "") for c in conditions)

    status = wait_for_app(argocd, name, refused, "refusing the edited signed branch")["status"]
    [condition] = [c for c in status["conditions"] if "signed the inputs" in c["message"]]
    assert "refused: env/dev/settings.yaml was changed after K8sTA signed the inputs" in condition["message"]


def test_event_with_application_uid_is_listed_by_argocd(
        argocd: ArgoCD, kube_api: k8s_client.ApiClient, config_repo: ConfigRepo, kustomize: Kustomize,
        create_app: Callable[[App], dict[str, Any]], app_names: Callable[[str], tuple[str, str]]) -> None:
    name, destination = app_names("events")
    app = App(name, destination, config_repo)
    push_app_branch(app, app_inputs("events"), kustomize)
    created = create_app(app)
    uid = created["metadata"]["uid"]
    core = k8s_client.CoreV1Api(kube_api)
    now = datetime.datetime.now(datetime.UTC)
    marker = secrets.token_hex(4)

    def event(event_name: str, involved_uid: str) -> k8s_client.CoreV1Event:
        return k8s_client.CoreV1Event(
            metadata=k8s_client.V1ObjectMeta(name=event_name, namespace=ARGOCD_NS),
            involved_object=k8s_client.V1ObjectReference(
                api_version="argoproj.io/v1alpha1", kind="Application", name=name, namespace=ARGOCD_NS,
                uid=involved_uid),
            reason="TicketArrived", message=f"ticket {marker} arrived at dev", type="Normal",
            source=k8s_client.V1EventSource(component="k8sta"), first_timestamp=now, last_timestamp=now,
            count=1)

    core.create_namespaced_event(ARGOCD_NS, event(f"{name}.{marker}", uid))
    # Same name, another (e.g. a deleted and recreated) Application: must not show up.
    core.create_namespaced_event(ARGOCD_NS, event(f"{name}.{marker}-stale", "00000000-0000-0000-0000-000000000000"))

    ours = [e for e in argocd.application_events(contract.ObjectRef(ARGOCD_NS, name)) if marker in e.get("message", "")]

    assert [e["metadata"]["name"] for e in ours] == [f"{name}.{marker}"]
    assert ours[0]["involvedObject"]["uid"] == uid
    assert ours[0]["reason"] == "TicketArrived"


def test_new_commit_and_hard_refresh_sync_the_new_revision(
        argocd: ArgoCD, kube_api: k8s_client.ApiClient, config_repo: ConfigRepo, kustomize: Kustomize,
        create_app: Callable[[App], dict[str, Any]], app_names: Callable[[str], tuple[str, str]]) -> None:
    name, destination = app_names("refresh")
    app = App(name, destination, config_repo)
    first = push_app_branch(app, app_inputs("first"), kustomize)
    create_app(app)
    wait_for_app(argocd, name, synced_healthy_at(first), f"Synced+Healthy at {first}")

    second = push_app_branch(app, app_inputs("second"), kustomize)
    assert second != first
    argocd.get_application(contract.ObjectRef(ARGOCD_NS, name), refresh="hard")

    status = wait_for_app(argocd, name, synced_healthy_at(second), f"Synced+Healthy at {second}")["status"]

    assert status["history"][-1]["revision"] == second
    assert _config_map(kube_api, destination, "smoke-settings").data == {"message": "second"}


@pytest.mark.parametrize("health", ["Progressing", "Degraded", "Suspended"])
def test_test_data_drives_application_health(
        health: str, argocd: ArgoCD, config_repo: ConfigRepo, kustomize: Kustomize,
        create_app: Callable[[App], dict[str, Any]], app_names: Callable[[str], tuple[str, str]]) -> None:
    name, destination = app_names(f"health-{health.lower()}")
    app = App(name, destination, config_repo)
    revision = push_app_branch(app, app_inputs("health knob", health=health), kustomize)
    create_app(app)

    def synced_with_health(found: dict[str, Any]) -> bool:
        status = found.get("status", {})
        return (status.get("sync", {}).get("revision") == revision
                and status.get("sync", {}).get("status") == "Synced"
                and status.get("health", {}).get("status") == health)

    status = wait_for_app(argocd, name, synced_with_health, f"Synced with health {health}")["status"]

    (resource,) = [r for r in status["resources"] if r["name"] == "smoke-status"]
    assert resource["health"] == {"status": health, "message": f"test data says {health}"}
