"""pytest fixtures for the real local stack; loaded from tests/conftest.py.

- ``stack`` (session): started once, on first use by a test (mark such tests ``@pytest.mark.stack``),
  stopped at the end of the session, also after failures. ``K8STA_DEVSTACK_REUSE=<state dir>`` runs
  the tests against a stack started by ``python -m k8sta_devstack up`` instead (faster iteration).
- ``kube_api`` / ``argocd``: clients for that stack (admin kubeconfig; the k8sta account's token through
  the daemon's own Argo CD adapter, so the tests and the controller read Argo CD the same way).
- ``crds``: K8sTA's CRDs applied (once) to that stack.
- ``config_repo``: a fresh bare git repository per test, reachable by Argo CD as ``file://``.
- ``kustomize``: the pinned kustomize the plugin renders with.
When a test using the stack fails, its report carries the tail of every process log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s_client

from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters import argocd as argocd_client
from k8sta_devstack import binaries, kube, processes, railway
from k8sta_devstack import stack as stack_mod
from k8sta_devstack.gitrepo import ConfigRepo

REUSE_ENV = "K8STA_DEVSTACK_REUSE"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack_mod.Stack]:
    reuse = os.environ.get(REUSE_ENV)
    if reuse:
        state = Path(reuse) / stack_mod.STATE_FILE
        yield stack_mod.Stack.from_json(json.loads(state.read_text()))
        return
    try:
        binaries.locate()
    except binaries.MissingTool as exc:
        pytest.fail(f"the real stack cannot start: {exc}", pytrace=False)
    # A short base path: unix socket paths (the plugin socket) must stay under 108 bytes.
    with stack_mod.running(tmp_path_factory.mktemp("stack")) as started:
        yield started


@pytest.fixture(scope="session")
def kube_api(stack: stack_mod.Stack) -> Iterator[k8s_client.ApiClient]:
    api = kube.api_client(stack.kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def argocd(stack: stack_mod.Stack) -> Iterator[argocd_client.ArgoCD]:
    client = argocd_client.ArgoCD(argocd_client.ArgoCDSettings(url=stack.argocd_url, token=stack.token()))
    yield client
    client.close()


@pytest.fixture(scope="session")
def crds(kube_api: k8s_client.ApiClient) -> None:
    """K8sTA's own CRDs (kustomize/crds), server-side applied and established, once per session."""
    railway.apply_crds(kube_api, REPO / "kustomize" / "crds")


@pytest.fixture
def config_repo(tmp_path: Path) -> ConfigRepo:
    return ConfigRepo.create(tmp_path / "config.git")


@pytest.fixture(scope="session")
def kustomize() -> Kustomize:
    return Kustomize.locate(dict(os.environ))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    running = getattr(item, "funcargs", {}).get("stack")
    if report.failed and isinstance(running, stack_mod.Stack):
        for proc in running.processes:
            report.sections.append((f"stack log {proc.name} ({proc.log})", processes.log_tail(proc.log, 25)))
    return report
