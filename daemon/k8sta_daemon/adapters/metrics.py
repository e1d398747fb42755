"""Prometheus metrics of the controller, on a registry passed in (no module-level collectors).

Besides the domain's figures (tickets, promotions, latency) it counts what the controller costs the
systems it talks to: every HTTP request to the kube-apiserver (``count_kube_requests`` wraps the
kubernetes client's one request function) and to Argo CD's API (``argocd_request``, the hook of
``argocd.ArgoCD``), and every decision pass with its CPU time, so ``bench/bench_scale.py`` can show
that work per promotion stays flat as the number of Tracks grows.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_APP_PATH = re.compile(r"^/api/v1/applications/[^/]+")


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
        self.decision_seconds = Histogram(
            "k8sta_decision_pass_seconds", "One decision (World build + decide, no I/O), wall time; "
            "its _count is the number of decision passes", registry=self.registry)
        self.decision_cpu = Counter("k8sta_decision_pass_cpu_seconds_total",
                                    "CPU time of the decisions (World build + decide), this thread's",
                                    registry=self.registry)
        self.decided_tracks = Counter("k8sta_decided_tracks_total", "Tracks decided, summed over passes",
                                      registry=self.registry)
        self.kube_requests = Counter("k8sta_kube_requests_total",
                                     "HTTP requests to the kube-apiserver (a watch counts once per connection)",
                                     ["verb"], registry=self.registry)
        self.argocd_requests = Counter("k8sta_argocd_requests_total",
                                       "HTTP requests to Argo CD's API (the stream counts once per connection)",
                                       ["call"], registry=self.registry)
        self.app_events = Counter("k8sta_argocd_app_events_total",
                                  "Application events from Argo CD's stream; only managed ones wake the loop",
                                  ["managed"], registry=self.registry)
        self.git_errors = Counter("k8sta_git_push_errors_total", "Failed promotions", ["kind"],
                                  registry=self.registry)
        self.argocd_errors = Counter("k8sta_argocd_api_errors_total", "Failed Argo CD API calls", ["call"],
                                     registry=self.registry)
        self.latencies: deque[float] = deque(maxlen=10_000)  # recent raw samples, for percentiles

    def observe_latency(self, seconds: float) -> None:
        self.decision_latency.observe(seconds)
        self.latencies.append(seconds)

    def observe_decision(self, wall: float, cpu: float, tracks: int) -> None:
        """One decision pass: its wall and CPU time and how many Tracks it decided."""
        self.decision_seconds.observe(wall)
        self.decision_cpu.inc(cpu)
        self.decided_tracks.inc(tracks)

    def argocd_request(self, method: str, path: str) -> None:
        """Count one Argo CD API request, labelled by route (an Application's name is not a label)."""
        route = _APP_PATH.sub("/api/v1/applications/{name}", path)
        self.argocd_requests.labels(call=f"{method} {route}").inc()

    def count_kube_requests(self, api: Any) -> None:
        """Count every request a kubernetes ``ApiClient`` sends, from now on.

        Every generated API method, the watch's long poll included, ends in ``rest_client.request``:
        wrapping that one function (on this client only) counts them all, errors included.
        """
        rest = api.rest_client
        inner = rest.request
        counter = self.kube_requests

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            counter.labels(verb=str(method).upper()).inc()
            return inner(method, url, *args, **kwargs)

        rest.request = request


def total(counter: Counter | Histogram, suffix: str = "_total") -> float:
    """The sum over every label of one counter (or a histogram's ``_count``/``_sum``): what a bench prints."""
    return sum(sample.value for metric in counter.collect() for sample in metric.samples
               if sample.name.endswith(suffix))
