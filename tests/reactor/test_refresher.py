"""Hard refreshes go out from the Refresher's threads: the loop never waits for Argo CD to finish one."""

from __future__ import annotations

import threading

from k8sta_daemon.adapters import argocd
from k8sta_daemon.adapters.metrics import Metrics, total
from k8sta_daemon.core import model
from k8sta_daemon.reactor.refresher import Refresher

APP = model.AppRef("argocd", "dev")


class SlowArgo:
    """Argo CD answering a refresh only once the test lets it (as the real one answers once it is done)."""

    def __init__(self, fail: bool = False) -> None:
        self.release = threading.Event()
        self.refreshed: list[tuple[model.AppRef, bool]] = []
        self.done = threading.Event()
        self.fail = fail

    def refresh(self, app: model.AppRef, hard: bool = True) -> dict[str, object]:
        self.release.wait(10)
        self.refreshed.append((app, hard))
        self.done.set()
        if self.fail:
            raise argocd.ArgoCDUnavailable("Argo CD API GET /api/v1/applications/dev: HTTP 503")
        return {}


def test_submitting_a_refresh_does_not_wait_for_argocd() -> None:
    argo = SlowArgo()
    refresher = Refresher(argo, Metrics())  # type: ignore[arg-type]
    refresher.submit([APP])  # returns at once although Argo CD has not answered
    assert argo.refreshed == []
    argo.release.set()
    assert argo.done.wait(5)
    assert argo.refreshed == [(APP, True)]
    refresher.close()


def test_a_failed_refresh_is_counted_not_raised() -> None:
    argo = SlowArgo(fail=True)
    argo.release.set()
    metrics = Metrics()
    refresher = Refresher(argo, metrics)  # type: ignore[arg-type]
    refresher.submit([APP])
    assert argo.done.wait(5)
    refresher.pool.shutdown(wait=True)
    assert total(metrics.argocd_errors) == 1

