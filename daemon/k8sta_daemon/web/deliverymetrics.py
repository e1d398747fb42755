"""The delivery figures (DORA) on ``/metrics``, per namespace, Track and terminal Station.

Callers: ``create_app`` (``init_app`` registers the collector in the metrics registry); Prometheus at each
scrape. Each figure is recomputed from the tickets the API holds (``ops.delivery.read``), at most
``K8STA_METRICS_CACHE_SECONDS`` old, so a restarted web part or controller loses nothing: the counters
are totals over the tickets that exist (a deleted ticket leaves them, which Prometheus reads as a
counter reset). The rules are ``core.delivery``'s; the metric names are in docs/operations.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from flask import Flask
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from k8sta_daemon.core import delivery
from k8sta_daemon.ops import delivery as reading
from k8sta_daemon.ops import errors
from k8sta_daemon.ops.store import Store

from . import kubeclient, metrics

log = logging.getLogger(__name__)
LABELS = ["namespace", "track", "station"]


def _buckets(values: tuple[float, ...], bounds: tuple[float, ...]) -> list[tuple[str, float]]:
    counts = delivery.cumulative(values, bounds)
    return [*((floatToGoString(bound), count) for bound, count in zip(bounds, counts, strict=False)),
            ("+Inf", counts[-1])]


def families(figures: delivery.Figures) -> list[Metric]:
    """The Prometheus metric families of ``figures`` (pure: what a scrape shows)."""
    deployments = CounterMetricFamily("k8sta_delivery_deployments", "Arrivals of a change at a terminal Station "
                                      "(deployment frequency: rate of this)", labels=LABELS)
    changes = CounterMetricFamily("k8sta_delivery_changes", "Changes that were deployed to or failed on the way "
                                  "to a terminal Station", labels=LABELS)
    failures = CounterMetricFamily("k8sta_delivery_change_failures", "Changes that failed, were rolled back or "
                                   "abandoned after entering a Station", labels=[*LABELS, "reason"])
    lead = HistogramMetricFamily("k8sta_delivery_lead_time_seconds", "From the change (config commit time, image "
                                 "created time, else ticket creation) to arrival at the terminal Station",
                                 labels=LABELS)
    restore = HistogramMetricFamily("k8sta_delivery_time_to_restore_seconds", "From a change failure to the next "
                                    "completed ticket at the same terminal Station", labels=LABELS)
    for series in figures.series:
        labels = [series.key.namespace, series.key.track, series.key.station]
        deployments.add_metric(labels, series.deployments)
        changes.add_metric(labels, series.changes)
        for kind in delivery.FailureKind:
            failures.add_metric([*labels, kind.value], series.failures.get(kind, 0))
        lead.add_metric(labels, _buckets(series.lead_times, delivery.LEAD_TIME_BUCKETS), sum(series.lead_times))
        restore.add_metric(labels, _buckets(series.restores, delivery.RESTORE_BUCKETS), sum(series.restores))
    return [deployments, changes, failures, lead, restore]


class DeliveryCollector(Collector):
    """The delivery families from one read of the API, at most ``ttl`` seconds old."""

    def __init__(self, store: Callable[[], Store], namespace: str | None, ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._namespace = namespace
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def _read(self) -> list[Metric] | None:
        with self._lock:
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._ttl:
                return self._cached[1]
            try:
                found = families(reading.read(self._store(), self._namespace))
            except errors.K8staError as exc:
                log.warning("delivery metrics unavailable: %s", exc)
                self._cached = None
                return None
            self._cached = (now, found)
            return found

    def collect(self) -> Iterator[Metric]:
        found = self._read()
        up = GaugeMetricFamily("k8sta_delivery_up", "1 when the delivery figures were read from the API")
        up.add_metric([], 0 if found is None else 1)
        yield up
        yield from found or ()


def init_app(app: Flask) -> None:
    clients: kubeclient.Clients = app.extensions[kubeclient.EXTENSION]
    registry = app.extensions[metrics.EXTENSION].registry
    registry.register(DeliveryCollector(lambda: clients.store(), app.config["NAMESPACE"],
                                        app.config["METRICS_CACHE_SECONDS"]))
