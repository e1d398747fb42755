"""Fixtures of the daemon's end-to-end tests: our CRDs on the real API server, a running k8sta-daemon,
and a "railway" builder that creates config repo, Argo CD Applications, Stations and Tracks."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8sta_devstack import kube as devkube
from k8sta_devstack.gitrepo import ConfigRepo
from k8sta_devstack.stack import Stack
from kubernetes import client as k8s

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = "k8sta.io", "v1alpha1"
ARGOCD_NS = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
HEALTH_LABEL = "devstack.k8sta.io/health"
IMAGE = "ghcr.io/acme/api"


@pytest.fixture(scope="session")
def crds(kube_api: k8s.ApiClient) -> None:
    """K8sTA's CRDs, server-side applied as `kubectl apply -k kustomize/crds` would."""
    for path in sorted((ROOT / "kustomize/crds").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                devkube.server_side_apply(kube_api, doc)
                deadline = time.monotonic() + 30
                while not devkube.crd_established(kube_api, doc["metadata"]["name"]):
                    assert time.monotonic() < deadline, f"CRD {doc['metadata']['name']} not established"
                    time.sleep(0.2)


@pytest.fixture(scope="session")
def daemon(stack: Stack, crds: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``k8sta-daemon`` as a separate process, watching every namespace; yields its log file."""
    workdir = tmp_path_factory.mktemp("daemon")
    log = workdir / "daemon.log"
    env = {**os.environ, "K8STA_CACHE": str(workdir / "cache"), "K8STA_LOG_LEVEL": "INFO"}
    env.setdefault("K8STA_KUSTOMIZE", str(Path.home() / ".cache/k8sta/bin/kustomize-v5.7.1/kustomize"))
    command = [str(Path(sys.executable).parent / "k8sta-daemon"), "--kubeconfig", str(stack.kubeconfig),
               "--argocd-url", stack.argocd_url, "--argocd-token-file", str(stack.token_file),
               "--resync-seconds", "2", "--lease-namespace", "default"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        yield log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    log = getattr(item, "funcargs", {}).get("daemon")
    if report.failed and isinstance(log, Path) and log.exists():
        report.sections.append(("k8sta-daemon log (tail)", "\n".join(log.read_text().splitlines()[-60:])))
    return report


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


@pytest.fixture
def railway(kube_api: k8s.ApiClient, daemon: Path, tmp_path: Path) -> Iterator[Railway]:
    suffix = secrets.token_hex(3)
    namespace = f"rail-{suffix}"
    k8s.CoreV1Api(kube_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    world = Railway(kube_api, namespace, ConfigRepo.create(tmp_path / "config.git"), suffix)
    yield world
    world.cleanup()
