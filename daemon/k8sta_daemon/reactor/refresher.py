"""Hard refreshes of Argo CD Applications, off the loop's thread.

After a push the loop asks Argo CD to compare the new commit now instead of at its next poll. Argo CD's
``GET /api/v1/applications/{name}?refresh=hard`` answers only once the refresh is done (~0.3 s on the
test stack, longer under load), and a refresh is best effort (a failure only delays arrival until
Argo CD's own poll), so the loop must not wait for it: ``Refresher`` sends them from a few threads of
its own while the loop goes on deciding and pushing (bench/bench_scale.py: with the refresh in line it
took ~70% of the loop's time per promotion). Under load Argo CD takes many seconds per refresh (its
controller's queue), so there are enough threads that a burst of pushes does not queue behind them
(4 were too few at 100 Tracks: refreshes lagged minutes behind the pushes).

The same threads re-read Applications a ticket waits on when their stream went quiet (``reread``): Argo
CD's stream can drop an event under load, and re-reading the few awaited Applications heals that
without listing every Application (bench/bench_scale.py at 100 Tracks: a list of 600 Applications every
15 s was ~12% of the daemon's CPU, all JSON). What a refresh or a read returns goes to ``on_app``
(the cache), so a refresh's answer also counts as news of the Application.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from k8sta_daemon.adapters import argocd
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import model

log = logging.getLogger("k8sta.controller")


class Refresher:
    """``workers=0``: every call is made in the caller's thread (tests, tools: no threads of its own)."""

    def __init__(self, argo: argocd.ArgoCD, metrics: Metrics, workers: int = 16,
                 on_app: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.argo = argo
        self.metrics = metrics
        self.on_app = on_app
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argocd-refresh") if workers else None

    def submit(self, apps: Iterable[model.AppRef]) -> None:
        for app in apps:
            self.run(self.refresh, app)

    def reread(self, apps: Iterable[model.AppRef]) -> None:
        for app in apps:
            self.run(self.read, app)

    def run(self, call: Callable[..., None], *args: Any) -> None:
        """``call(*args)`` on one of the threads (in line without them)."""
        if self.pool is None:
            call(*args)
        else:
            self.pool.submit(call, *args)

    def refresh(self, app: model.AppRef) -> None:
        """One hard refresh; a failure is logged and counted, never raised."""
        self._call("refresh", app, lambda: self.argo.refresh(app, hard=True))

    def read(self, app: model.AppRef) -> None:
        """One read of an Application whose events went quiet; a failure is logged and counted."""
        self._call("get", app, lambda: self.argo.get_application(app))

    def _call(self, call: str, app: model.AppRef, request: Callable[[], dict[str, Any]]) -> None:
        try:
            answer = request()
        except argocd.ArgoCDError as exc:
            self.metrics.argocd_errors.labels(call=call).inc()
            log.warning("%s of %s failed: %s", call, app, exc)
            return
        except Exception:
            log.exception("%s of %s failed unexpectedly", call, app)
            return
        if self.on_app is not None and isinstance(answer, dict) and answer.get("metadata"):
            self.on_app(answer)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
