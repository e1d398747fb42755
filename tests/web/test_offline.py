"""The web app through its test client while the Kubernetes API does not answer: liveness stays up,
readiness says why it is down, webhooks authenticate and validate before any API call."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from k8sta_daemon.web import create_app
from k8sta_daemon.web.settings import SettingsError

from .conftest import TOKEN, offline_app

GENERIC = {"track": "api", "namespace": "k8sta", "image": "acme/api:1.2"}


def test_create_app_builds_a_new_app_each_time(unreachable_kubeconfig: Path) -> None:
    first, second = offline_app(unreachable_kubeconfig), offline_app(unreachable_kubeconfig)
    assert first is not second
    assert first.extensions["k8sta.metrics"].registry is not second.extensions["k8sta.metrics"].registry


def test_healthz_is_always_ok(offline: FlaskClient) -> None:
    response = offline.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_names_the_dependency_that_is_down(offline: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="k8sta_daemon.web.health"):
        response = offline.get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "not ready", "reasons": {
        "kubernetes": "the Kubernetes API did not answer (details in the web part's log)"}}
    # The error itself (it can carry addresses or kubeconfig paths) goes to the log only.
    assert "not ready: kubernetes: Kubernetes API did not answer" in caplog.text


def test_readyz_checks_argocd_when_configured(unreachable_kubeconfig: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = offline_app(unreachable_kubeconfig, ARGOCD_URL="http://127.0.0.1:1").test_client()
    with caplog.at_level(logging.WARNING, logger="k8sta_daemon.web.health"):
        reasons = client.get("/readyz").json["reasons"]
    assert reasons == {"kubernetes": "the Kubernetes API did not answer (details in the web part's log)",
                       "argocd": "Argo CD's API did not answer (details in the web part's log)"}
    assert "not ready: argocd: Argo CD API did not answer: ConnectionError" in caplog.text


def test_readyz_without_any_kubernetes_configuration(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = create_app({"TESTING": True, "KUBECONFIG": str(tmp_path / "missing")}).test_client()
    with caplog.at_level(logging.WARNING, logger="k8sta_daemon.web.health"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert str(tmp_path) not in response.get_data(as_text=True)  # no path, no internal error text
    assert "cannot configure a Kubernetes client from kubeconfig" in caplog.text


def test_api_without_a_token_is_401_before_any_api_call(offline: FlaskClient) -> None:
    response = offline.get("/api/v1/tickets/k8sta/api-1")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="k8sta"'
    assert "k8sta" not in response.json["error"] and "api-1" not in response.json["error"]


def test_api_errors_are_json_503_when_credentials_cannot_be_checked(offline: FlaskClient) -> None:
    response = offline.get("/api/v1/tickets/k8sta/api-1", headers={"Authorization": "Bearer some-token"})
    assert response.status_code == 503
    assert response.json == {"error": "cannot check credentials: the Kubernetes API did not answer a TokenReview"}


def post(client: FlaskClient, payload: Any, *, token: str | None = TOKEN, query: str = "",
         headers: dict[str, str] | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["X-K8sTA-Token"] = token
    return client.post(f"/webhooks/image{query}", data=body, headers=all_headers)


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong", 401), ("", 401), (TOKEN.upper(), 401)],
                         ids=["missing", "wrong", "empty", "wrong-case"])
def test_webhook_refuses_without_the_token(offline: FlaskClient, token: str | None, status: int) -> None:
    response = post(offline, GENERIC, token=token)
    assert response.status_code == status
    assert "X-K8sTA-Token" in response.json["error"]


def test_webhooks_are_disabled_without_a_configured_token(unreachable_kubeconfig: Path) -> None:
    client = offline_app(unreachable_kubeconfig, WEBHOOK_TOKEN=None).test_client()
    response = post(client, GENERIC, token="")
    assert response.status_code == 503
    assert "webhooks are disabled" in response.json["error"]


def test_the_token_can_come_from_a_file(unreachable_kubeconfig: Path, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    client = offline_app(unreachable_kubeconfig, WEBHOOK_TOKEN=None, WEBHOOK_TOKEN_FILE=str(secret)).test_client()
    assert post(client, {"image": "x"}, token="from-a-file").status_code == 400
    assert post(client, {"image": "x"}, token=TOKEN).status_code == 401


def test_a_numeric_token_from_the_environment_still_works(unreachable_kubeconfig: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8STA_WEBHOOK_TOKEN", "123456")  # from_prefixed_env decodes it as a JSON int
    monkeypatch.setenv("K8STA_WEBHOOK_NAMESPACE", "k8sta")
    client = create_app({"TESTING": True, "KUBECONFIG": str(unreachable_kubeconfig)}).test_client()
    assert post(client, {"image": "x"}, token="123456").status_code == 400


def test_a_missing_token_file_fails_at_startup(unreachable_kubeconfig: Path, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read K8STA_WEBHOOK_TOKEN_FILE"):
        offline_app(unreachable_kubeconfig, WEBHOOK_TOKEN=None, WEBHOOK_TOKEN_FILE=str(tmp_path / "nope"))


@pytest.mark.parametrize(("payload", "query", "message"), [
    (b"{not json", "", "payload is not JSON"),
    ({"track": "api", "namespace": "k8sta"}, "", "image is required"),
    ({"namespace": "k8sta", "image": "acme/api"}, "?track=api", "has no tag"),
    ({"push_data": {"tag": "1"}, "repository": {"repo_name": "acme/api"}}, "?track=Api", "track name 'Api'"),
    ({"namespace": "k8sta", "image": "a..b/api:1"}, "", "image: 'a..b/api' is not an image repository"),
], ids=["not-json", "no-image", "no-tag", "dockerhub-bad-track", "repository-breaks-the-crd"])
def test_webhook_validates_before_touching_the_cluster(offline: FlaskClient, payload: Any, query: str,
                                                       message: str) -> None:
    response = post(offline, payload, query=query)
    assert response.status_code == 400
    assert message in response.json["error"]


def test_github_ping_is_answered_after_checking_its_signature(offline: FlaskClient) -> None:
    body = json.dumps({"zen": "Design for failure.", "hook_id": 7}).encode()
    signature = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    response = post(offline, body, token=None, headers={"X-GitHub-Event": "ping", "X-Hub-Signature-256": signature})
    assert response.status_code == 200
    assert response.json == {"ignored": "ping"}
    forged = post(offline, body, token=None, headers={"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=00"})
    assert forged.status_code == 401


@pytest.mark.parametrize("payload", [GENERIC, {"image": "acme/api:1.2"}], ids=["with-track", "without-track"])
def test_a_valid_push_to_an_unreachable_api_is_503(offline: FlaskClient, payload: dict[str, str]) -> None:
    response = post(offline, payload)
    assert response.status_code == 503
    assert response.json["error"].startswith("listing Subscriptions in namespace k8sta: ")  # nothing else tried
    assert "did not answer" in response.json["error"]
    metrics = offline.get("/metrics").get_data(as_text=True)
    assert 'k8sta_webhook_requests_total{outcome="error",source="generic"} 1.0' in metrics


def test_metrics_count_webhook_outcomes_and_report_the_api_down(offline: FlaskClient) -> None:
    post(offline, GENERIC, token="wrong")
    post(offline, GENERIC, token="wrong")
    post(offline, {"track": "api"})
    response = offline.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    assert 'k8sta_webhook_requests_total{outcome="unauthorized",source="unknown"} 2.0' in text
    assert 'k8sta_webhook_requests_total{outcome="invalid",source="unknown"} 1.0' in text
    assert "k8sta_web_kubernetes_up 0.0" in text
    assert "k8sta_tickets{" not in text


def test_the_token_never_reaches_the_logs(offline: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    post(offline, GENERIC)
    post(offline, GENERIC, token=TOKEN + "-wrong")
    offline.get("/metrics")
    assert TOKEN not in caplog.text
