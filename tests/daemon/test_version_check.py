"""The daemon's start-up look at Argo CD's version (``main.check_argocd_version``), with a stand-in client:
what it logs while Argo CD does not answer, and the verdict once it does. The real daemon against real
and reported versions: tests/e2e_daemon/test_argocd_version.py."""

from __future__ import annotations

import logging
import threading

import pytest

from k8sta_daemon import main
from k8sta_daemon.adapters import argocd
from k8sta_daemon.core import compat


class Answers:
    """``version()`` fails ``failures`` times (Argo CD not up yet), then reports ``version``."""

    def __init__(self, version: str, failures: int = 0) -> None:
        self.version_text, self.failures, self.asked = version, failures, 0

    def version(self) -> str:
        self.asked += 1
        if self.asked <= self.failures:
            raise argocd.ArgoCDUnavailable("Argo CD API GET /api/version: ConnectionError")
        return self.version_text


def test_it_asks_until_argo_cd_answers_backing_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="k8sta.daemon")
    answers = Answers("v3.6.2+abc", failures=3)
    verdict = main.check_argocd_version(answers, threading.Event(), retry_seconds=0.001)  # type: ignore[arg-type]
    assert verdict is not None and verdict.support is compat.Support.TESTED and answers.asked == 4
    waits = [r.getMessage() for r in caplog.records if "cannot read Argo CD's version yet" in r.getMessage()]
    assert [w.rsplit(" ", 1)[1] for w in waits] == ["0.001s", "0.002s", "0.004s"]
    (line,) = [r for r in caplog.records if getattr(r, "argocd_version", None)]
    assert line.levelno == logging.INFO and line.support == "tested"  # type: ignore[attr-defined]


def test_an_incompatible_release_is_an_error_and_the_guard_stops_the_daemon(
        caplog: pytest.LogCaptureFixture) -> None:
    stop, refused = threading.Event(), threading.Event()
    main.guard_argocd_version(Answers("v2.14.3"), stop, refused)  # type: ignore[arg-type]
    assert refused.is_set() and stop.is_set()
    (line,) = [r for r in caplog.records if getattr(r, "argocd_version", None)]
    assert line.levelno == logging.ERROR and "needs Argo CD 3.1 or newer" in line.getMessage()


def test_an_untested_release_lets_the_daemon_run() -> None:
    stop, refused = threading.Event(), threading.Event()
    main.guard_argocd_version(Answers("v3.4.5"), stop, refused)  # type: ignore[arg-type]
    assert not refused.is_set() and not stop.is_set()


def test_a_stop_while_argo_cd_is_down_ends_the_look() -> None:
    stop = threading.Event()
    stop.set()
    assert main.check_argocd_version(Answers("v3.6.2", failures=99), stop) is None
