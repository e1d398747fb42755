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


class Daemon:
    """``k8sta-daemon`` as a separate process for one test namespace (other tests on the shared stack
    create tickets of their own that no daemon must touch). ``crash`` kills it with SIGKILL."""

    def __init__(self, stack: Stack, namespace: str, workdir: Path) -> None:
        self.stack, self.namespace, self.workdir = stack, namespace, workdir
        self.log = workdir / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        env = {**os.environ, "K8STA_LOG_LEVEL": "INFO",
               "K8STA_KUSTOMIZE": str(Kustomize.locate(dict(os.environ)).path)}
        command = [str(Path(sys.executable).parent / "k8sta-daemon"), "--kubeconfig", str(self.stack.kubeconfig),
                   "--argocd-url", self.stack.argocd_url, "--argocd-token-file", str(self.stack.token_file),
                   "--resync-seconds", "2", "--drift-seconds", "2", "--namespace", self.namespace,
                   "--lease-namespace", self.namespace,
                   # a new cache per start: a restarted pod has lost its emptyDir too
                   "--cache-dir", str(self.workdir / f"cache-{self.starts}")]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)

    def crash(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


@pytest.fixture
def daemon(stack: Stack, namespace: str, tmp_path: Path) -> Iterator[Daemon]:
    running = Daemon(stack, namespace, tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    daemon = getattr(item, "funcargs", {}).get("daemon")
    if report.failed and isinstance(daemon, Daemon) and daemon.log.exists():
        report.sections.append(("k8sta-daemon log (tail)", "\n".join(daemon.log.read_text().splitlines()[-60:])))
    return report


@pytest.fixture
def railway(kube_api: k8s.ApiClient, namespace: str, daemon: Daemon, tmp_path: Path) -> Iterator[rail.Railway]:
    world = rail.Railway(kube_api, namespace, ConfigRepo.create(tmp_path / "config.git"),
                         namespace.removeprefix("rail-"))
    yield world
    world.cleanup()
