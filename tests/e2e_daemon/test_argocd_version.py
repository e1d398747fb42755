"""The daemon reads Argo CD's version at start: it logs it, warns for an untested release and refuses one it
cannot work with. The real Argo CD of the stack (the pin, or the oldest tested release in CI's smoke run);
the releases this machine cannot run (2.x, an untested 3.x) are a loopback endpoint answering
``GET /api/version`` as argocd-server does (``{"Version": ...}``; server/version/version.go)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests
from git.httpgit import loopback  # tests/git (tests/ is the rootdir of the test packages)

from k8sta_devstack import binaries
from k8sta_devstack.stack import Stack

from .conftest import Daemon

pytestmark = pytest.mark.stack


def version_lines(daemon: Daemon) -> list[dict[str, Any]]:
    if not daemon.log.exists():
        return []
    lines = [json.loads(line) for line in daemon.log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if "argocd_version" in line]


def wait_for_version_line(daemon: Daemon, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = version_lines(daemon)
        if lines:
            return lines[0]
        time.sleep(0.2)
    raise AssertionError(f"no Argo CD version line in {daemon.log}:\n{daemon.log.read_text()[-3000:]}")


@contextmanager
def argocd_reporting(version: str) -> Iterator[str]:
    """An endpoint that answers ``GET /api/version`` like argocd-server, and 404 to everything else."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"Version": version}).encode() if self.path == "/api/version" else b"{}"
            self.send_response(200 if self.path == "/api/version" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    with loopback(Handler) as url:
        yield url


def pointed_at(stack: Stack, url: str) -> Stack:
    """The stack with another Argo CD address (the kubeconfig and the token file stay)."""
    return dataclasses.replace(stack, argocd_url=url)


def test_the_stacks_argocd_is_logged_as_tested(stack: Stack, namespace: str, tmp_path: Path) -> None:
    daemon = Daemon(stack, namespace, tmp_path)
    daemon.start()
    try:
        line = wait_for_version_line(daemon)
    finally:
        daemon.stop()
    reported = requests.get(f"{stack.argocd_url}/api/version", timeout=10).json()["Version"]
    assert reported.startswith(binaries.read_versions()["ARGOCD_VERSION"] + "+")  # the release the stack runs
    assert line["argocd_version"] == reported
    assert line["support"] == "tested" and line["level"] == "info"
    assert line["msg"] == f"Argo CD {reported}: a release line K8sTA is tested with"


def test_an_untested_release_is_a_warning_and_the_daemon_runs_on(stack: Stack, namespace: str,
                                                                 tmp_path: Path) -> None:
    with argocd_reporting("v3.4.5+1a2b3c4") as url:
        daemon = Daemon(pointed_at(stack, url), namespace, tmp_path)
        daemon.start()
        try:
            line = wait_for_version_line(daemon)
            time.sleep(2)
            assert daemon.proc is not None and daemon.proc.poll() is None  # still running
        finally:
            daemon.stop()
    assert line["support"] == "untested" and line["level"] == "warning"
    assert "Argo CD v3.4.5+1a2b3c4 is untested" in line["msg"] and "tested minors: 3.2, 3.6" in line["msg"]


def test_an_incompatible_release_stops_the_daemon_before_it_acts(stack: Stack, namespace: str,
                                                                tmp_path: Path) -> None:
    with argocd_reporting("v2.14.3+abc") as url:
        daemon = Daemon(pointed_at(stack, url), namespace, tmp_path)
        daemon.start()
        assert daemon.proc is not None
        code = daemon.proc.wait(timeout=60)
        daemon.proc = None
    log = daemon.log.read_text()
    line = version_lines(daemon)[0]
    assert code == 1
    assert line["support"] == "incompatible" and line["level"] == "error"
    assert "Argo CD v2.14.3+abc is not supported: K8sTA needs Argo CD 3.1 or newer" in line["msg"]
    assert "k8sta-daemon: stopped: the Argo CD it talks to is not supported" in log
    assert "became leader" not in log and "claimed namespace" not in log  # it never started to act


def test_an_argocd_that_does_not_answer_yet_is_asked_again(stack: Stack, namespace: str, tmp_path: Path) -> None:
    with argocd_reporting("v3.6.2") as url:
        closed = url  # the port is free again once the endpoint is gone
    daemon = Daemon(pointed_at(stack, closed), namespace, tmp_path)
    daemon.start()
    try:
        deadline = time.monotonic() + 60
        while not daemon.logged("cannot read Argo CD's version yet") and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        daemon.stop()
    assert daemon.logged("cannot read Argo CD's version yet (Argo CD API GET /api/version: ConnectionError)")
