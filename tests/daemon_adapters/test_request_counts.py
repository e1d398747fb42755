"""The controller counts what it costs the APIs it talks to: every kube-apiserver and Argo CD request.

Both clients talk to a local HTTP server that answers every request with an empty JSON list, so the
counts are of requests really sent over a socket (retries, errors and watches included), not of calls.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.metrics import Metrics, total
from k8sta_daemon.core import model


class Answers:
    """A loopback HTTP server that records each request line and answers 200 ``{"items": []}``
    (or ``status`` for every request)."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[str] = []
        answers = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                answers.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps({"items": [], "metadata": {"resourceVersion": "1"}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def answers() -> Iterator[Answers]:
    server = Answers()
    yield server
    server.close()


def kube_client(url: str) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    configuration.host = url
    return k8s.ApiClient(configuration)


def counts(counter: Any) -> dict[str, float]:
    return {"/".join(s.labels.values()): s.value for m in counter.collect() for s in m.samples
            if s.name.endswith("_total")}


def test_every_kube_apiserver_request_is_counted_by_verb(answers: Answers) -> None:
    metrics = Metrics()
    api = kube_client(answers.url)
    metrics.count_kube_requests(api)
    client = kube.Kube(api, "ns")
    client.list("Ticket")
    client.list("Track")
    client.get("Ticket", "ns", "t1")
    client.replace_status("Ticket", {"metadata": {"name": "t1", "namespace": "ns", "resourceVersion": "1"}}, {})
    assert len(answers.requests) == 4
    assert counts(metrics.kube_requests) == {"GET": 3, "PUT": 1}
    assert total(metrics.kube_requests) == 4


def test_a_client_not_instrumented_is_not_counted(answers: Answers) -> None:
    metrics = Metrics()
    metrics.count_kube_requests(kube_client(answers.url))
    kube.Kube(kube_client(answers.url), "ns").list("Ticket")  # another client: the bench's own, a test's
    assert total(metrics.kube_requests) == 0


def test_every_argocd_request_is_counted_by_route_without_the_application_name(answers: Answers) -> None:
    metrics = Metrics()
    argo = argocd.ArgoCD(argocd.ArgoCDSettings(url=answers.url, token="t"), on_request=metrics.argocd_request)
    app_a, app_b = model.AppRef("argocd", "a"), model.AppRef("argocd", "b")
    argo.list_applications()
    argo.refresh(app_a)
    argo.refresh(app_b)
    argo.resource_tree(app_a)
    argo.sync(app_b, "0" * 40, prune=False)
    assert len(answers.requests) == 5
    assert counts(metrics.argocd_requests) == {
        "GET /api/v1/applications": 1,
        "GET /api/v1/applications/{name}": 2,
        "GET /api/v1/applications/{name}/resource-tree": 1,
        "POST /api/v1/applications/{name}/sync": 1,
    }


def test_a_refused_argocd_request_is_counted_too() -> None:
    server = Answers(status=503)
    try:
        metrics = Metrics()
        argo = argocd.ArgoCD(argocd.ArgoCDSettings(url=server.url, token="t"), on_request=metrics.argocd_request)
        with pytest.raises(argocd.ArgoCDUnavailable):
            argo.list_applications()
        assert total(metrics.argocd_requests) == 1
    finally:
        server.close()


def test_decision_passes_and_their_cost_add_up() -> None:
    metrics = Metrics()
    metrics.observe_decision(0.5, 0.25, tracks=10)
    metrics.observe_decision(0.25, 0.5, tracks=3)
    assert total(metrics.decision_seconds, "_count") == 2
    assert total(metrics.decision_seconds, "_sum") == 0.75
    assert total(metrics.decision_cpu) == 0.75
    assert total(metrics.decided_tracks) == 13
