"""Applications that do not render through the k8sta plugin, next to K8sTA's: a plain kustomize
directory and one using Argo CD's Source Hydrator. A Station naming one is refused with a message saying
what the Application uses, and nothing is pushed to its repository."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s

from k8sta_devstack.railway import ARGOCD_NS, AUTHORIZED_NAMESPACES, IN_CLUSTER, Railway, base, overlay

pytestmark = pytest.mark.stack


def neighbour(rail: Railway, env: str, spec: dict[str, Any]) -> str:
    """An Application of ``spec`` (its source part) deploying into a namespace of its own."""
    name = f"{env}-{rail.suffix}"
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": ARGOCD_NS,
                         "annotations": {AUTHORIZED_NAMESPACES: rail.namespace}},
            "spec": {"project": "default", "destination": {"server": IN_CLUSTER, "namespace": f"{name}-ns"},
                     "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}, **spec}}
    rail.custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications", body)
    rail.apps[env] = name
    return name


def test_stations_naming_applications_outside_the_plugin_are_refused_and_nothing_is_pushed(
        railway: Railway) -> None:
    config = railway.commit({**base(), **overlay("dev")})
    plain = neighbour(railway, "plain", {"source": {"repoURL": railway.repo.url, "targetRevision": "env/plain",
                                                    "path": "env/dev"}})
    hydrated = neighbour(railway, "hydrated", {"sourceHydrator": {
        "drySource": {"repoURL": railway.repo.url, "targetRevision": "main", "path": "env/dev"},
        "syncSource": {"targetBranch": "env/hydrated", "path": "dev"}}})
    for env in ("plain", "hydrated"):
        railway.station(env, [env])
        railway.track(f"{env}-line", [env])
        railway.ticket(f"{env}-1", f"{env}-line", config, "1.0.0")
    for env, name, uses in (("plain", plain, "Argo CD's built-in rendering"),
                            ("hydrated", hydrated, "Argo CD's Source Hydrator")):
        railway.wait(f"{env}-1 Failed", lambda e=env: railway.state(f"{e}-1") == "Failed", timeout=120)
        message = railway.get("tickets", f"{env}-1")["status"]["message"]
        assert f"Application {ARGOCD_NS}/{name} does not render through the k8sta plugin" in message, message
        assert uses in message, message
        assert railway.repo.head(f"env/{env}") is None  # nothing pushed
    assert railway.repo.head("main") == config


def test_a_station_in_another_namespace_than_the_application_opted_into_is_refused_and_nothing_is_touched(
        railway: Railway) -> None:
    """Application ``dev`` opted in to namespace A only; a Station in this namespace (B) names it. The
    Track says why (naming the Application and the annotation), the ticket is Blocked before boarding,
    and nothing is pushed, synced or put on the Application. Once its owners add B, the ticket rides."""
    config = railway.commit({**base(), **overlay("dev")})
    elsewhere = f"team-a-{railway.suffix}"
    app = railway.application("dev", authorized=elsewhere)
    railway.station("dev", ["dev"])
    railway.track("line", ["dev"])
    railway.ticket("line-1", "line", config, "1.0.0")

    def refused() -> dict | None:
        conditions = (railway.get("tracks", "line").get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "Ready" and c["status"] == "False"), None)

    condition = railway.wait("track line refused", refused, timeout=90)
    assert condition["reason"] == "ApplicationNotAuthorized"
    expected = (f"station dev: Application {ARGOCD_NS}/{app} authorizes only namespace(s) {elsewhere} "
                f"({AUTHORIZED_NAMESPACES}), not {railway.namespace}")
    assert expected in condition["message"], condition["message"]
    ticket = railway.wait("the ticket says why", lambda: (
        (s := railway.get("tickets", "line-1").get("status") or {}) and expected in (s.get("message") or "") and s))
    assert [(c["type"], c["reason"]) for c in ticket["conditions"]] == [("Blocked", "ApplicationNotAuthorized")]
    assert ticket["state"] == "Waiting" and not ticket.get("journey")
    assert railway.repo.head("env/dev") is None  # nothing pushed
    application = railway.custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS,
                                                              "applications", app)
    assert "operation" not in application and "operationState" not in (application.get("status") or {})
    events = k8s.CoreV1Api(railway.api).list_namespaced_event(
        ARGOCD_NS, field_selector=f"involvedObject.kind=Application,involvedObject.name={app}").items
    assert [e.reason for e in events if (e.source.component or "").startswith("k8sta")] == []
    # Its owners opt in to this namespace too: the same ticket boards and rides.
    railway.custom.patch_namespaced_custom_object(
        "argoproj.io", "v1alpha1", ARGOCD_NS, "applications", app,
        {"metadata": {"annotations": {AUTHORIZED_NAMESPACES: f"{elsewhere}, {railway.namespace}"}}})
    railway.wait("line-1 Completed once the Application opted in", lambda: railway.state("line-1") == "Completed")
    assert railway.repo.head("env/dev") is not None
    assert not (railway.get("tickets", "line-1")["status"].get("conditions") or [])
