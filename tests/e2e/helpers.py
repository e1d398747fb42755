"""Test data and polling for the smoke tests: app branches as the daemon writes them, Argo CD waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from k8sta_cmp import contract
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_devstack import appbranch
from k8sta_devstack.gitrepo import ConfigRepo

ARGOCD_NS = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
HEALTH_LABEL = "devstack.k8sta.io/health"
# Argo CD reconciles every 10 s on the stack; a render + sync cycle fits well within this.
DEADLINE = 120.0


def _yaml(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False).encode()


def app_inputs(message: str, health: str = "Healthy") -> dict[str, bytes]:
    """Source-branch files: shared base/ plus the env/dev overlay (the convention)."""
    return {
        "base/kustomization.yaml": _yaml({"apiVersion": "kustomize.config.k8s.io/v1beta1",
                                          "kind": "Kustomization", "resources": ["status.yaml"]}),
        "base/status.yaml": _yaml({"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": "smoke-status", "labels": {HEALTH_LABEL: "true"}},
                                   "data": {"health": health, "message": f"test data says {health}"}}),
        "env/dev/kustomization.yaml": _yaml({"apiVersion": "kustomize.config.k8s.io/v1beta1",
                                             "kind": "Kustomization",
                                             "resources": ["../../base", "settings.yaml"]}),
        "env/dev/settings.yaml": _yaml({"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "smoke-settings"}, "data": {"message": message}}),
    }


@dataclass(frozen=True)
class App:
    """An Argo CD Application under test: its name, destination namespace and config repository."""

    name: str
    destination: str
    repo: ConfigRepo

    @property
    def ref(self) -> contract.ObjectRef:
        return contract.ObjectRef(ARGOCD_NS, self.name)

    def manifest(self) -> dict[str, Any]:
        """Automated sync from the app branch env/dev through the k8sta plugin (the convention)."""
        return {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": self.name, "namespace": ARGOCD_NS},
            "spec": {
                "project": "default",
                "source": {"repoURL": self.repo.url, "targetRevision": "env/dev", "path": ".",
                           "plugin": {"name": "k8sta"}},
                "destination": {"server": IN_CLUSTER, "namespace": self.destination},
                "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                               "syncOptions": ["CreateNamespace=true"]},
            },
        }


def push_app_branch(app: App, inputs: dict[str, bytes], kustomize: Kustomize, *, render: bool = True) -> str:
    """Commit ``inputs`` on main, then the app branch env/dev the way the daemon writes it."""
    source = app.repo.commit("main", inputs, "test data on the source branch")
    build = appbranch.build if render else appbranch.unrendered
    files = build(inputs, application=app.ref, kustomization="env/dev", source_commit=source, kustomize=kustomize)
    return app.repo.commit("env/dev", files, f"Move test data to dev\n\nK8sTA-Ticket: {ARGOCD_NS}/{app.name}")


def wait_for_app(argocd: ArgoCD, name: str, check: Callable[[dict[str, Any]], bool], what: str,
                 timeout: float = DEADLINE) -> dict[str, Any]:
    """Poll the Argo CD API until ``check(app)`` holds; on timeout show the last status seen."""
    deadline = time.monotonic() + timeout
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:
        app = argocd.get_application(contract.ObjectRef(ARGOCD_NS, name))
        if check(app):
            return app
        time.sleep(1.0)
    status = app.get("status", {})
    summary = {k: status.get(k) for k in ("sync", "health", "conditions", "operationState")}
    raise AssertionError(f"Application {name}: not {what} within {timeout:.0f} s; last status:\n"
                         f"{yaml.safe_dump(summary, sort_keys=False)}")


def synced_healthy_at(revision: str) -> Callable[[dict[str, Any]], bool]:
    """Synced at ``revision`` by a finished, successful operation, and Healthy (the arrival rule)."""
    def check(app: dict[str, Any]) -> bool:
        status = app.get("status", {})
        operation = status.get("operationState") or {}
        return (status.get("sync", {}).get("status") == "Synced"
                and status.get("sync", {}).get("revision") == revision
                and operation.get("phase") == "Succeeded"
                and (operation.get("syncResult") or {}).get("revision") == revision
                and status.get("health", {}).get("status") == "Healthy")
    return check
