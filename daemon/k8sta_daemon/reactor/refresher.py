"""Hard refreshes of Argo CD Applications, off the loop's thread.

After a push the loop asks Argo CD to compare the new commit now instead of at its next poll. Argo CD's
``GET /api/v1/applications/{name}?refresh=hard`` answers only once the refresh is done (~0.3 s on the
test stack, longer under load), and a refresh is best effort (a failure only delays arrival until
Argo CD's own poll), so the loop must not wait for it: ``Refresher`` sends them from a few threads of
its own while the loop goes on deciding and pushing (bench/bench_scale.py: with the refresh in line it
took ~70% of the loop's time per promotion). Under load Argo CD takes many seconds per refresh (its
controller's queue), so there are enough threads that a burst of pushes does not queue behind them
(4 were too few at 100 Tracks: refreshes lagged minutes behind the pushes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from k8sta_daemon.adapters import argocd
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import model

log = logging.getLogger("k8sta.controller")


class Refresher:
    def __init__(self, argo: argocd.ArgoCD, metrics: Metrics, workers: int = 16) -> None:
        self.argo = argo
        self.metrics = metrics
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argocd-refresh")

    def submit(self, apps: Iterable[model.AppRef]) -> None:
        for app in apps:
            self.pool.submit(self.refresh, app)

    def refresh(self, app: model.AppRef) -> None:
        """One hard refresh; a failure is logged and counted, never raised."""
        try:
            self.argo.refresh(app, hard=True)
        except argocd.ArgoCDError as exc:
            self.metrics.argocd_errors.labels(call="refresh").inc()
            log.warning("refresh of %s failed: %s", app, exc)
        except Exception:
            log.exception("refresh of %s failed unexpectedly", app)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
