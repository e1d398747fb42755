"""``/metrics``: Prometheus text from a registry created per app (no module-level collectors).

Ticket counts by state are computed from the Kubernetes API when scraped, cached for
``K8STA_METRICS_CACHE_SECONDS`` so several scrapers cost one list. Webhook requests are counted by
source and outcome. The controller's own metrics (promotions, decision latency, git and Argo CD
errors) belong to the controller process (``k8sta_daemon.adapters.metrics``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from k8sta_daemon.core import model
from k8sta_daemon.ops import errors
from k8sta_daemon.ops.store import Store

from . import kubeclient

EXTENSION = "k8sta.metrics"
log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


class TicketCollector(Collector):
    """``k8sta_tickets{namespace,state}`` from one list of Tickets, at most ``ttl`` seconds old."""

    def __init__(self, store: Callable[[], Store], namespace: str | None, ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._namespace = namespace
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[tuple[str, str], int]] | None = None

    def _counts(self) -> dict[tuple[str, str], int] | None:
        with self._lock:
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._ttl:
                return self._cached[1]
            try:
                tickets = self._store().tickets(self._namespace)
            except errors.K8staError as exc:
                log.warning("ticket metrics unavailable: %s", exc)
                self._cached = None
                return None
            counts: dict[tuple[str, str], int] = {}
            for namespace in sorted({t.namespace for t in tickets}):
                for state in model.TicketState:
                    counts[(namespace, state.value)] = 0
            for ticket in tickets:
                counts[(ticket.namespace, ticket.status.state.value)] += 1
            self._cached = (now, counts)
            return counts

    def collect(self) -> Iterator[Metric]:
        counts = self._counts()
        up = GaugeMetricFamily("k8sta_web_kubernetes_up", "1 when the last ticket count came from the API")
        up.add_metric([], 0 if counts is None else 1)
        yield up
        if counts is None:
            return
        tickets = GaugeMetricFamily("k8sta_tickets", "Tickets by namespace and state", labels=["namespace", "state"])
        for (namespace, state), count in sorted(counts.items()):
            tickets.add_metric([namespace, state], count)
        yield tickets


@dataclass
class WebMetrics:
    registry: CollectorRegistry
    webhook_requests: Counter


def init_app(app: Flask) -> None:
    registry = CollectorRegistry()
    webhook_requests = Counter("k8sta_webhook_requests_total", "Image webhook requests by source and outcome",
                               ["source", "outcome"], registry=registry)
    clients: kubeclient.Clients = app.extensions[kubeclient.EXTENSION]
    registry.register(TicketCollector(clients.store, app.config["NAMESPACE"], app.config["METRICS_CACHE_SECONDS"]))
    app.extensions[EXTENSION] = WebMetrics(registry, webhook_requests)


def get() -> WebMetrics:
    return current_app.extensions[EXTENSION]


@bp.get("/metrics")
def scrape() -> Response:
    return Response(generate_latest(get().registry), content_type=CONTENT_TYPE_LATEST)
