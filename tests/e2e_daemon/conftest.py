"""Fixtures of the daemon's end-to-end tests: our CRDs on the real API server, a running k8sta-daemon
process, and a fresh sample railway (k8sta_devstack.railway) per test."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from k8sta_cmp.kustomize import Kustomize
from k8sta_devstack import railway as rail
from k8sta_devstack.gitrepo import ConfigRepo
from k8sta_devstack.stack import Stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def namespace(kube_api: k8s.ApiClient, crds: None) -> str:
    name = f"rail-{secrets.token_hex(3)}"
    k8s.CoreV1Api(kube_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


@pytest.fixture
def daemon(stack: Stack, namespace: str, tmp_path: Path) -> Iterator[Path]:
    """``k8sta-daemon`` as a separate process for this test's namespace only (other tests on the shared
    stack create tickets of their own that no daemon must touch); yields its log file."""
    workdir = tmp_path / "daemon"
    workdir.mkdir()
    log = workdir / "daemon.log"
    env = {**os.environ, "K8STA_CACHE": str(workdir / "cache"), "K8STA_LOG_LEVEL": "INFO",
           "K8STA_KUSTOMIZE": str(Kustomize.locate(dict(os.environ)).path)}
    command = [str(Path(sys.executable).parent / "k8sta-daemon"), "--kubeconfig", str(stack.kubeconfig),
               "--argocd-url", stack.argocd_url, "--argocd-token-file", str(stack.token_file),
               "--resync-seconds", "2", "--namespace", namespace, "--lease-namespace", namespace]
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


@pytest.fixture
def railway(kube_api: k8s.ApiClient, namespace: str, daemon: Path, tmp_path: Path) -> Iterator[rail.Railway]:
    world = rail.Railway(kube_api, namespace, ConfigRepo.create(tmp_path / "config.git"),
                         namespace.removeprefix("rail-"))
    yield world
    world.cleanup()
