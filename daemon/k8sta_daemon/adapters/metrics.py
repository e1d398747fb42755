"""Prometheus metrics of the controller, on a registry passed in (no module-level collectors)."""

from __future__ import annotations

from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.tickets = Gauge("k8sta_tickets", "Tickets by state", ["state"], registry=self.registry)
        self.promotions = Counter("k8sta_promotions_total", "App-branch pushes for a ticket at a Station",
                                  ["track", "station"], registry=self.registry)
        self.decision_latency = Histogram(
            "k8sta_decision_latency_seconds",
            "From the Argo CD event that completed an arrival to the next Station's branches pushed",
            buckets=(0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30), registry=self.registry)
        self.reconcile_seconds = Histogram("k8sta_reconcile_seconds", "One decide-and-act pass",
                                           registry=self.registry)
        self.git_errors = Counter("k8sta_git_push_errors_total", "Failed promotions", ["kind"],
                                  registry=self.registry)
        self.argocd_errors = Counter("k8sta_argocd_api_errors_total", "Failed Argo CD API calls", ["call"],
                                     registry=self.registry)
        self.latencies: deque[float] = deque(maxlen=10_000)  # recent raw samples, for percentiles

    def observe_latency(self, seconds: float) -> None:
        self.decision_latency.observe(seconds)
        self.latencies.append(seconds)
