"""A sample railway on the local stack: config repo, Argo CD Applications, Stations, Tracks, Tickets.

Callers: the daemon's end-to-end tests, ``make demo`` and the daemon benchmark, so all three build the
same world the same way. Health of each Application is test data: a ConfigMap in each env overlay that
the stack's Lua health check reads (``devstack.k8sta.io/health``), judged by Argo CD's own health logic.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from k8sta_devstack import kube as devkube
from k8sta_devstack.gitrepo import ConfigRepo

GROUP, VERSION = "k8sta.io", "v1alpha1"
ARGOCD_NS = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
HEALTH_LABEL = "devstack.k8sta.io/health"
IMAGE = "ghcr.io/acme/api"


def apply_crds(api: k8s.ApiClient, crd_dir: Path) -> None:
    """K8sTA's CRDs, server-side applied as `kubectl apply -k kustomize/crds` would, then established."""
    for path in sorted(crd_dir.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            devkube.server_side_apply(api, doc)
            deadline = time.monotonic() + 30
            while not devkube.crd_established(api, doc["metadata"]["name"]):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRD {doc['metadata']['name']} not established within 30 s")
                time.sleep(0.2)


def _yaml(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False).encode()


def overlay(env: str, health: str = "Healthy") -> dict[str, bytes]:
    """An env/<name>/ overlay whose ConfigMap tells Argo CD (through the stack's Lua check) its health."""
    return {
        f"env/{env}/kustomization.yaml": _yaml({"resources": ["../../base", "status.yaml"]}),
        f"env/{env}/status.yaml": _yaml({"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "status", "labels": {HEALTH_LABEL: "true"}},
                                         "data": {"health": health, "message": f"test data says {health}"}}),
    }


def base(version: str = "1") -> dict[str, bytes]:
    """Shared config: a PodTemplate carrying the image (no health of its own) and a shared setting."""
    return {
        "base/kustomization.yaml": _yaml({"resources": ["api.yaml", "shared.yaml"]}),
        "base/api.yaml": _yaml({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "api"},
                                "template": {"spec": {"containers": [{"name": "api", "image": f"{IMAGE}:latest"}]}}}),
        "base/shared.yaml": _yaml({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"},
                                   "data": {"version": version}}),
    }


@dataclass
class Railway:
    """One test's world: a namespace for Tracks/Stations/Tickets, a config repo, Applications."""

    api: k8s.ApiClient
    namespace: str
    repo: ConfigRepo
    suffix: str
    files: dict[str, bytes] = field(default_factory=dict)
    apps: dict[str, str] = field(default_factory=dict)  # env -> Application name

    @property
    def custom(self) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self.api)

    def commit(self, files: dict[str, bytes], message: str = "change") -> str:
        self.files.update(files)
        return self.repo.commit("main", dict(self.files), message)

    def application(self, env: str, automated: bool = True) -> str:
        name = f"{env}-{self.suffix}"
        body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": name, "namespace": ARGOCD_NS},
                "spec": {"project": "default",
                         "source": {"repoURL": self.repo.url, "targetRevision": f"env/{env}", "path": ".",
                                    "plugin": {"name": "k8sta"}},
                         "destination": {"server": IN_CLUSTER, "namespace": f"{name}-ns"},
                         "syncPolicy": {"syncOptions": ["CreateNamespace=true"],
                                        **({"automated": {"prune": True}} if automated else {})}}}
        self.custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications", body)
        self.apps[env] = name
        return name

    def create(self, plural: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        kind = {"stations": "Station", "tracks": "Track", "tickets": "Ticket"}[plural]
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind,
                "metadata": {"name": name, "namespace": self.namespace}, "spec": spec}
        return dict(self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body))

    def station(self, name: str, envs: list[str] = (), tracks: list[str] = (), **extra: Any) -> None:
        apps = [{"name": self.apps[e], "namespace": ARGOCD_NS} for e in envs]
        self.create("stations", name, {"applications": apps, "tracks": list(tracks), **extra})

    def track(self, name: str, stations: list[str], **extra: Any) -> None:
        self.create("tracks", name, {"stations": stations, **extra})

    def ticket(self, name: str, track: str, config: str, tag: str, **extra: Any) -> None:
        self.create("tickets", name, {"track": track, "snapshot": {
            "configCommit": config, "images": [{"name": IMAGE, "tag": tag}]}, **extra})

    def get(self, plural: str, name: str) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name))

    def tickets(self) -> list[dict[str, Any]]:
        return list(self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, "tickets")["items"])

    def patch_ticket(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, "tickets", name, {"spec": spec})

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 240.0,
             observe: Callable[[], None] | None = None) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            if observe:
                observe()
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                states = {t["metadata"]["name"]: (t.get("status") or {}).get("state") for t in self.tickets()}
                raise AssertionError(f"not {what} within {timeout:.0f} s; tickets: {states}")
            time.sleep(0.5)

    def state(self, ticket: str) -> str | None:
        return (self.get("tickets", ticket).get("status") or {}).get("state")

    def cleanup(self) -> None:
        for name in self.apps.values():
            with contextlib.suppress(k8s.ApiException):
                self.custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications",
                                                            name)
        k8s.CoreV1Api(self.api).delete_namespace(self.namespace)
