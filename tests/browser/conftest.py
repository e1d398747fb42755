"""Fixtures of the browser tests: the web part under real gunicorn (a subprocess on a free port, watching
the real stack), Debian's chromium driven by Playwright, and the daemon + sample railway of the
daemon's end-to-end tests (one namespace per test)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from e2e_daemon.conftest import Daemon, daemon, namespace, railway  # tests/ is the rootdir of test packages
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from k8sta_devstack import processes
from k8sta_devstack.stack import Stack

__all__ = ["Daemon", "daemon", "namespace", "railway"]  # the daemon suite's fixtures, used as they are

CHROMIUM = "/usr/bin/chromium"  # Debian's (toolchain/browser-deps.sh); Playwright's own download is not used
RIDE_SECONDS = 240  # a ride on the real stack takes tens of seconds on a busy machine; waits are that patient
expect.set_options(timeout=RIDE_SECONDS * 1000)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@dataclass
class Web:
    """The web part as the install runs it: ``gunicorn -c python:k8sta_daemon.web.gunicorn_conf``."""

    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def board(self, namespace: str) -> str:
        return f"{self.url}/board/?namespace={namespace}"


@pytest.fixture
def web(stack: Stack, namespace: str, tmp_path: Path) -> Iterator[Web]:
    port = processes.free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "K8STA_KUBECONFIG": str(stack.kubeconfig), "K8STA_NAMESPACE": namespace,
           "K8STA_BOARD_KEEPALIVE_SECONDS": "1", "K8STA_LOG_LEVEL": "INFO"}
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:k8sta_daemon.web.gunicorn_conf",
               "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8", "--graceful-timeout", "3",
               "k8sta_daemon.web:create_app()"]
    with log.open("ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:  # whatever happens from here on, the server goes away with the test
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # refused while binding, slow while the worker imports
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer /healthz: {log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.2)
        yield Web(url, log, proc)
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited by itself
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1280, "height": 800})
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    opened = context.new_page()
    opened.set_default_timeout(RIDE_SECONDS * 1000)
    return opened


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    args = getattr(item, "funcargs", {})
    if report.failed:
        for name, log in (("k8sta-daemon", getattr(args.get("daemon"), "log", None)),
                          ("gunicorn", getattr(args.get("web"), "log", None))):
            if isinstance(log, Path) and log.exists():
                report.sections.append((f"{name} log (tail)", "\n".join(log.read_text().splitlines()[-60:])))
    return report

