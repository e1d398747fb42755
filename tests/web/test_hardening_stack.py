"""The web part's callers on the real API server: the token audience (``k8sta`` by default), refused
tokens remembered apart (so random tokens cost one TokenReview each at most, and never evict real users),
the board's stream refused to a caller who may see no namespace, and a replayed webhook debounced on a
real Subscription."""

from __future__ import annotations

import json
import secrets

import pytest
from cli.cluster import GROUP, VERSION, Cluster
from flask import Flask
from flask.testing import FlaskClient
from kubernetes import client as k8s

from k8sta_daemon.core import subscriptions as subs
from k8sta_daemon.web import auth, create_app
from k8sta_devstack.stack import Stack

from . import identities
from .conftest import TOKEN
from .identities import bearer

pytestmark = pytest.mark.stack


def test_the_token_must_be_minted_for_k8sta(app: Flask, cluster: Cluster, kube_api: k8s.ApiClient) -> None:
    identities.grant(kube_api, cluster.namespace, cluster.namespace, "aud")
    route = f"/api/v1/tracks?namespace={cluster.namespace}"
    for_the_api = identities.account_token(kube_api, cluster.namespace, "aud", audiences=())
    assert app.test_client().get(route, headers=bearer(for_the_api)).status_code == 401
    for_k8sta = identities.account_token(kube_api, cluster.namespace, "aud")
    assert app.test_client().get(route, headers=bearer(for_k8sta)).status_code == 200
    # An operator may name other audiences; the API server's own is then one choice among them.
    other = create_app({"TESTING": True, "KUBECONFIG": str(app.config["KUBECONFIG"]), "AUTH_AUDIENCES": "ci, k8sta"})
    for_ci = identities.account_token(kube_api, cluster.namespace, "aud", audiences=("ci",))
    assert other.test_client().get(route, headers=bearer(for_ci)).status_code == 200
    assert other.test_client().get(route, headers=bearer(for_the_api)).status_code == 401


def test_a_refused_token_is_refused_again_without_asking(stack: Stack, cluster: Cluster, reader_token: str) -> None:
    # Answers of valid tokens are not cached at all here; refusals still are.
    app = create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig), "AUTH_CACHE_SECONDS": 0})
    reviews = app.extensions["k8sta.auth"]
    client = app.test_client()
    route = f"/api/v1/tracks?namespace={cluster.namespace}"
    bad = bearer("not-a-kubernetes-token-" + secrets.token_hex(8))
    for _ in range(5):
        assert client.get(route, headers=bad).status_code == 401
    assert reviews.reviews_sent == 1
    assert client.get(route, headers=bearer(reader_token)).status_code == 200
    assert client.get(route, headers=bearer(reader_token)).status_code == 200
    assert reviews.reviews_sent == 1 + 2 * 2  # the valid token is asked about each time (TTL 0): no stale "no"


def test_random_tokens_never_evict_real_users(stack: Stack, cluster: Cluster, reader_token: str) -> None:
    app = create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig)})
    reviews = app.extensions[auth.EXTENSION] = auth.Reviews(10, ("k8sta",), 30, failed_size=8)  # a small bound
    client = app.test_client()
    route = f"/api/v1/tracks?namespace={cluster.namespace}"
    assert client.get(route, headers=bearer(reader_token)).status_code == 200
    asked = reviews.reviews_sent
    for _ in range(20):
        assert client.get(route, headers=bearer(secrets.token_hex(16))).status_code == 401
    assert reviews.reviews_sent == asked + 20
    assert client.get(route, headers=bearer(reader_token)).status_code == 200
    assert reviews.reviews_sent == asked + 20  # the reader's identity and verdict were still cached


def test_an_oversized_token_is_refused_unasked(app: Flask, cluster: Cluster) -> None:
    response = app.test_client().get(f"/api/v1/tracks?namespace={cluster.namespace}",
                                     headers=bearer("x" * 9000))
    assert response.status_code == 401 and app.extensions["k8sta.auth"].reviews_sent == 0


def test_the_board_stream_needs_a_namespace_the_caller_may_see(app: Flask, cluster: Cluster,
                                                               kube_api: k8s.ApiClient, reader_token: str) -> None:
    cluster.track("api", ["dev"])
    stranger = bearer(identities.account_token(kube_api, cluster.namespace, "stranger"))
    client = app.test_client()
    refused = client.get("/board/events", headers=stranger)
    assert refused.status_code == 403 and refused.json["error"].startswith(
        "forbidden: may list tickets.k8sta.io in none of the board's namespaces")
    chosen = client.get(f"/board/events?namespace={cluster.namespace}", headers=stranger)
    assert chosen.status_code == 403
    try:
        allowed = client.get(f"/board/events?namespace={cluster.namespace}", headers=bearer(reader_token),
                             buffered=False)
        assert allowed.status_code == 200 and allowed.mimetype == "text/event-stream"
        allowed.close()
    finally:
        app.extensions["k8sta.board"].stop()


def test_a_replayed_webhook_does_not_nudge_a_real_subscription_again(client: FlaskClient, cluster: Cluster) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
            "metadata": {"name": "api", "namespace": cluster.namespace},
            "spec": {"tracks": ["api"], "image": {"repository": "registry.example:5000/shop/api"}}}
    cluster.custom.create_namespaced_custom_object(GROUP, VERSION, cluster.namespace, "subscriptions", body)

    def stamp() -> tuple[str, str]:
        obj = cluster.custom.get_namespaced_custom_object(GROUP, VERSION, cluster.namespace, "subscriptions", "api")
        return obj["metadata"]["annotations"][subs.NUDGE_ANNOTATION], obj["metadata"]["resourceVersion"]

    payload = json.dumps({"repository": "registry.example:5000/shop/api"})
    headers = {"Content-Type": "application/json", "X-K8sTA-Token": TOKEN}
    first = client.post(f"/webhooks/nudge?namespace={cluster.namespace}", data=payload, headers=headers)
    assert first.status_code == 202 and first.json == {"nudged": ["api"]}
    before = stamp()
    replay = client.post(f"/webhooks/nudge?namespace={cluster.namespace}", data=payload, headers=headers)
    assert replay.status_code == 200 and replay.json["debounced"] == ["api"]
    assert stamp() == before  # not even written: the poller saw nothing new
