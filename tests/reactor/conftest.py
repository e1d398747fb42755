"""Fixtures of the reactor's tests: the real API server and Argo CD, a sample railway (real config repo,
real Applications), and the daemon's own cache, executor and loop wired as ``main.build`` wires them,
minus the watch threads: a test fills the cache the way the watches do (a list, then events) and runs
passes itself, so it can land a change "mid-pass" at an exact point."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from k8sta_cmp import safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.git.credentials import ANONYMOUS
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import decide, model
from k8sta_daemon.reactor import units
from k8sta_daemon.reactor.cache import KINDS, Cache, View
from k8sta_daemon.reactor.execution import Executor, Fence, PassResult
from k8sta_daemon.reactor.loop import Controller
from k8sta_devstack import railway as rail
from k8sta_devstack.gitrepo import ConfigRepo


class Reactor:
    """The daemon's reactor for one namespace, driven pass by pass by the test."""

    def __init__(self, api: k8s.ApiClient, argo: argocd.ArgoCD, namespace: str, workdir: Path,
                 kustomize: Kustomize) -> None:
        self.kube = kube.Kube(api, namespace)
        self.argo = argo
        self.cache = Cache()
        self.fenced: str | None = None
        git = units.GitSettings(mirrors=workdir / "mirrors", credentials=lambda _url, _project=None: ANONYMOUS,
                                kustomize=kustomize, limits=safety.Limits(), default_source_branch="main")
        self.context = units.Context(kube=self.kube, argo=argo, cache=self.cache, metrics=Metrics(), git=git)
        fence: Fence = lambda _namespace: self.fenced  # noqa: E731
        self.executor = Executor(self.context, fence=fence)
        self.controller = Controller(kube=self.kube, argo=argo, executor=self.executor, cache=self.cache,
                                     metrics=self.context.metrics)

    def sync(self) -> None:
        """What the watches deliver: every kind listed, every Application as Argo CD reports it."""
        for kind in KINDS:
            self.cache.replace_all(kind, self.kube.list(kind)[0])
        self.cache.set_apps(self.argo.list_applications())

    def deliver(self, kind: str, obj: dict[str, Any]) -> None:
        """One watch event."""
        self.cache.apply(kind, "MODIFIED", obj)

    def decide(self) -> tuple[View, model.World, list[Any]]:
        view = self.cache.view()
        world = self.controller.world(view)
        return view, world, decide.decide(world)

    def execute(self, view: View, world: model.World, planned: list[Any]) -> PassResult:
        return self.executor.execute(planned, world, view)


@pytest.fixture
def namespace(kube_api: k8s.ApiClient, crds: None) -> Iterator[str]:
    name = f"reactor-{secrets.token_hex(3)}"
    k8s.CoreV1Api(kube_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name


@pytest.fixture
def railway(kube_api: k8s.ApiClient, namespace: str, tmp_path: Path) -> Iterator[rail.Railway]:
    world = rail.Railway(kube_api, namespace, ConfigRepo.create(tmp_path / "config.git"),
                         namespace.removeprefix("reactor-"))
    yield world
    world.cleanup()


@pytest.fixture
def reactor(kube_api: k8s.ApiClient, argocd: argocd.ArgoCD, namespace: str, tmp_path: Path,
            kustomize: Kustomize) -> Reactor:
    return Reactor(kube_api, argocd, namespace, tmp_path, kustomize)
