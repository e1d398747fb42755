"""Applications that do not render through the k8sta plugin, next to K8sTA's: a plain kustomize
directory and one using Argo CD's Source Hydrator. A Station naming one is refused with a message saying
what the Application uses, and nothing is pushed to its repository."""

from __future__ import annotations

from typing import Any

import pytest

from k8sta_devstack.railway import ARGOCD_NS, IN_CLUSTER, Railway, base, overlay

pytestmark = pytest.mark.stack


def neighbour(rail: Railway, env: str, spec: dict[str, Any]) -> str:
    """An Application of ``spec`` (its source part) deploying into a namespace of its own."""
    name = f"{env}-{rail.suffix}"
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": ARGOCD_NS},
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
