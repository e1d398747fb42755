"""Scoped webhook secrets and the bearer-token parsing, as pure functions and through the offline app:
a secret nudges only in its namespace (or only its Track's Subscriptions), and is refused before the
cluster is ever asked."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from k8sta_daemon.web.sansio import authz, scopes
from k8sta_daemon.web.settings import SettingsError

from .conftest import TOKEN, offline_app
from .fakestore import FakeStore, install, subscription

SECRETS = """
- {namespace: shop, token: shop-secret}
- {namespace: shop, track: api, token: api-only}
- {namespace: bank, token: 12345}
"""


def test_parse_keeps_scopes_and_never_shows_tokens() -> None:
    parsed = scopes.parse(SECRETS)
    assert [(s.namespace, s.track) for s in parsed] == [("shop", None), ("shop", "api"), ("bank", None)]
    assert parsed[2].token == "12345"  # YAML ints are tokens too
    assert "secret" not in repr(parsed) and "12345" not in repr(parsed)
    assert scopes.parse("") == ()


@pytest.mark.parametrize(("text", "message"), [
    ("{namespace: shop}", "must be a YAML list"),
    ("- {token: x}", "entry 0 needs a namespace"),
    ("- {namespace: shop}", "entry 0 needs a token"),
    ("- {namespace: shop, token: x, role: admin}", "only the keys"),
    ("- {namespace: shop, track: '', token: x}", "track must be a name"),
    ("- {namespace: a, token: x}\n- {namespace: b, token: x}", "share a token"),
    ("- [", "not YAML"),
], ids=["not-a-list", "no-namespace", "no-token", "unknown-key", "empty-track", "shared", "bad-yaml"])
def test_parse_refuses(text: str, message: str) -> None:
    with pytest.raises(scopes.ScopeError, match=message):
        scopes.parse(text)


def test_proven_finds_the_scope_by_token_or_github_signature() -> None:
    parsed = scopes.parse(SECRETS)
    body = b'{"x": 1}'
    signature = "sha256=" + hmac.new(b"api-only", body, hashlib.sha256).hexdigest()
    assert scopes.proven(parsed, token="shop-secret", body=body, github_signature=None) == parsed[0]
    assert scopes.proven(parsed, token=None, body=body, github_signature=signature) == parsed[1]
    assert scopes.proven(parsed, token="12345", body=body, github_signature=None) == parsed[2]
    assert scopes.proven(parsed, token="nope", body=body, github_signature="sha256=00") is None
    assert parsed[0].allows("shop", "web") and not parsed[0].allows("bank", "web")
    assert parsed[1].allows("shop", "api") and not parsed[1].allows("shop", "web")


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc.def", "abc.def"), ("bearer abc", "abc"), ("  Bearer   abc  ", "abc"),
    (None, None), ("", None), ("Basic YWxhZGRpbjpvcGVu", None), ("Bearer", None), ("Bearer a b", None),
    ("Token abc", None),
])
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert authz.bearer_token(header) == token


def test_identity_and_reviews_from_kubernetes_shapes() -> None:
    assert authz.identity({"authenticated": False, "error": "token expired"}) is None
    assert authz.identity(None) is None
    who = authz.identity({"authenticated": True, "user": {
        "username": "system:serviceaccount:shop:ci", "uid": "u-1", "groups": ["system:authenticated"],
        "extra": {"authentication.kubernetes.io/pod-name": ["p"]}}})
    assert who is not None and who.username == "system:serviceaccount:shop:ci"
    spec = authz.access_review(who, "shop")["spec"]
    assert spec["resourceAttributes"] == {"group": "k8sta.io", "resource": "tickets", "verb": "list",
                                          "namespace": "shop"}
    assert spec["uid"] == "u-1" and spec["extra"] == {"authentication.kubernetes.io/pod-name": ["p"]}
    assert authz.allowed({"allowed": True}) and not authz.allowed({"allowed": True, "denied": True})
    assert not authz.allowed({"allowed": False}) and not authz.allowed(None)


def post(client: FlaskClient, payload: dict[str, Any], token: str, query: str = "") -> Any:
    return client.post(f"/webhooks/image{query}", data=json.dumps(payload),
                       headers={"Content-Type": "application/json", "X-K8sTA-Token": token})


@pytest.fixture
def scoped(unreachable_kubeconfig: Path, tmp_path: Path) -> FlaskClient:
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(SECRETS)
    return offline_app(unreachable_kubeconfig, WEBHOOK_TOKEN=None, WEBHOOK_SECRETS_FILE=str(secrets_file)).test_client()


@pytest.mark.parametrize(("token", "payload", "query"), [
    ("shop-secret", {"track": "api", "namespace": "bank", "image": "acme/api:1"}, ""),
    ("shop-secret", {"push_data": {"tag": "1"}, "repository": {"repo_name": "acme/api"}}, "?track=api&namespace=bank"),
    ("api-only", {"track": "web", "namespace": "shop", "image": "acme/web:1"}, ""),
    ("api-only", {"track": "web", "image": "acme/web:1"}, ""),
    ("12345", {"track": "api", "namespace": "shop", "image": "acme/api:1"}, ""),
], ids=["other-namespace", "other-namespace-in-query", "other-track", "other-track-default-namespace", "numeric"])
def test_a_secret_never_acts_outside_its_scope(scoped: FlaskClient, token: str, payload: dict[str, Any],
                                               query: str) -> None:
    response = post(scoped, payload, token, query)
    assert response.status_code == 403
    assert response.json["error"].startswith("this webhook secret cannot nudge Subscriptions ")
    # Refused before the cluster was asked: the (unreachable) API would have made it a 503.
    assert "did not answer" not in response.json["error"]


@pytest.mark.parametrize(("token", "payload", "error"), [
    ("shop-secret", {"namespace": "bank", "image": "acme/api:1"}, "in namespace bank"),
    ("api-only", {"track": "web", "image": "acme/api:1"}, "of track web in namespace shop"),
], ids=["namespace", "track"])
def test_the_refusal_names_what_is_outside_the_scope(scoped: FlaskClient, token: str, payload: dict[str, Any],
                                                     error: str) -> None:
    assert post(scoped, payload, token).json == {"error": f"this webhook secret cannot nudge Subscriptions {error}"}


def test_a_push_without_namespace_goes_to_the_secrets_own(scoped: FlaskClient) -> None:
    response = post(scoped, {"track": "api", "image": "acme/api:1"}, "api-only")
    assert response.status_code == 503  # in scope (shop/api): only the unreachable API stops it
    assert response.json["error"].startswith("listing Subscriptions in namespace shop")
    assert 'outcome="forbidden"' not in scoped.get("/metrics").get_data(as_text=True)


@pytest.mark.parametrize(("token", "payload", "nudged"), [
    ("shop-secret", {"image": "acme/api:1"}, ["api", "web"]),
    ("shop-secret", {"image": "acme/api:1", "track": "web"}, ["web"]),
    ("api-only", {"image": "acme/api:1"}, ["api"]),
    ("api-only", {"image": "acme/api:1", "namespace": "shop", "track": "api"}, ["api"]),
], ids=["namespace-secret", "namespace-secret-one-track", "track-secret", "track-secret-naming-its-track"])
def test_a_secret_nudges_only_inside_its_scope(unreachable_kubeconfig: Path, tmp_path: Path, token: str,
                                               payload: dict[str, Any], nudged: list[str]) -> None:
    """A secret of one Track nudges only the Subscriptions feeding that Track, even when the push names none."""
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(SECRETS)
    app = offline_app(unreachable_kubeconfig, WEBHOOK_TOKEN=None, WEBHOOK_SECRETS_FILE=str(secrets_file))
    store = install(app, FakeStore(subscription("api", "acme/api", ["api"], "shop"),
                                   subscription("web", "acme/api", ["web"], "shop"),
                                   subscription("bank", "acme/api", ["api"], "bank")))
    response = post(app.test_client(), payload, token)
    assert response.status_code == 202, response.json
    assert response.json == {"nudged": nudged}
    assert set(store.nudged()) == {f"shop/{name}" for name in nudged}


def test_metrics_count_out_of_scope_pushes(scoped: FlaskClient) -> None:
    post(scoped, {"track": "api", "namespace": "bank", "image": "acme/api:1"}, "shop-secret")
    text = scoped.get("/metrics").get_data(as_text=True)
    assert 'k8sta_webhook_requests_total{outcome="forbidden",source="generic"} 1.0' in text


def test_an_unscoped_token_is_refused_at_startup(unreachable_kubeconfig: Path) -> None:
    with pytest.raises(SettingsError, match="K8STA_WEBHOOK_TOKEN belongs to one namespace"):
        offline_app(unreachable_kubeconfig, WEBHOOK_NAMESPACE=None)


def test_the_namespace_setting_scopes_the_single_token(unreachable_kubeconfig: Path) -> None:
    client = offline_app(unreachable_kubeconfig, WEBHOOK_NAMESPACE=None, NAMESPACE="shop").test_client()
    assert post(client, {"track": "api", "namespace": "bank", "image": "acme/api:1"}, TOKEN).status_code == 403


def test_without_the_secrets_file_webhooks_are_off_and_the_rest_runs(unreachable_kubeconfig: Path,
                                                                   tmp_path: Path) -> None:
    """The install mounts an optional Secret: until it exists the directory is empty."""
    missing = tmp_path / "secrets.yaml"
    client = offline_app(unreachable_kubeconfig, WEBHOOK_TOKEN=None, WEBHOOK_SECRETS_FILE=str(missing)).test_client()
    response = post(client, {"track": "api", "image": "acme/api:1"}, "anything")
    assert response.status_code == 503
    assert response.json["error"] == f"webhooks are disabled: {missing} does not exist (create the Secret " \
                                     "k8sta-webhook-secrets)"
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(("content", "message"), [
    ("", "cannot read K8STA_WEBHOOK_SECRETS_FILE"),
    ("- {namespace: shop}", "entry 0 needs a token"),
    (f"- {{namespace: shop, token: {TOKEN}}}", "also in K8STA_WEBHOOK_SECRETS_FILE"),
], ids=["unreadable", "invalid", "duplicate-of-the-single-token"])
def test_a_bad_secrets_file_fails_at_startup(unreachable_kubeconfig: Path, tmp_path: Path, content: str,
                                             message: str) -> None:
    path = tmp_path / "secrets.yaml"
    if content:
        path.write_text(content)
    else:
        path.mkdir()  # exists, cannot be read as a file
    with pytest.raises(SettingsError, match=message) as raised:
        offline_app(unreachable_kubeconfig, WEBHOOK_SECRETS_FILE=str(path))
    assert TOKEN not in str(raised.value)
