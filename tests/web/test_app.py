"""The web app against the real API server: readiness, the JSON API, image webhooks (they only nudge
Subscriptions, never create a ticket) and metrics."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from cli.cluster import Cluster  # tests/ is the rootdir of the test packages
from flask.testing import FlaskClient

from k8sta_daemon.core import model, station_status
from k8sta_daemon.web import create_app
from k8sta_devstack.stack import Stack

from .conftest import TOKEN
from .test_nudge import _nudged, _sub

pytestmark = pytest.mark.stack

TS = model.TicketState
Pin = model.ImagePin
CONFIG = "c0ffee" * 6 + "c0ff"
OLD = model.Snapshot(CONFIG, (Pin("acme/api", "1.0"), Pin("acme/web", "1.0")))
DIGEST = "sha256:" + "d" * 64


def post(client: FlaskClient, payload: dict[str, Any], query: str = "", **headers: str) -> Any:
    return client.post(f"/webhooks/image{query}", data=json.dumps(payload),
                       headers={"Content-Type": "application/json", "X-K8sTA-Token": TOKEN, **headers})


def test_ready_when_the_api_answers(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json == {"status": "ready", "checks": ["kubernetes"]}


def test_ready_needs_argocd_too_when_configured(stack: Stack) -> None:
    app = create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig), "ARGOCD_URL": stack.argocd_url,
                      "ARGOCD_INSECURE": True})
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["checks"] == ["argocd", "kubernetes"]


def test_api_lists_tracks_and_tickets(client: FlaskClient, cluster: Cluster) -> None:
    ns = cluster.namespace
    cluster.track("api", ["dev", "prod"])
    cluster.track("web", ["web-dev"])
    cluster.ticket("api-1", "api", OLD, status=model.TicketStatus(state=TS.DEPLOYING, station="dev", journey=(
        model.JourneyRecord("dev", model.JourneyState.ENTERED, entered_at=1764150000.0),)))
    cluster.ticket("web-1", "web", OLD)

    tracks = client.get(f"/api/v1/tracks?namespace={ns}").json["items"]
    assert [t["name"] for t in tracks] == ["api", "web"]
    assert tracks[0]["stations"][0]["tickets"] == [{"name": "api-1", "state": "Deploying"}]
    assert tracks[1]["waiting"] == [{"name": "web-1", "state": "Waiting"}]

    one = client.get(f"/api/v1/tracks/{ns}/api").json
    assert one["name"] == "api" and [s["name"] for s in one["stations"]] == ["dev", "prod"]
    prod = cluster.get("Station", "prod")  # what runs at prod, as the controller writes it
    runs = station_status.StationStatus(station_status.Source.TICKET, OLD, ticket="api-0", track="api",
                                        arrived_at=1764150000.0)
    cluster.custom.replace_namespaced_custom_object_status("k8sta.io", "v1alpha1", ns, "stations", "prod",
                                                           {**prod, "status": station_status.to_dict(runs)})
    one = client.get(f"/api/v1/tracks/{ns}/api").json
    assert [s["runs"] and s["runs"]["ticket"] for s in one["stations"]] == [None, "api-0"]

    tickets = client.get(f"/api/v1/tickets?namespace={ns}&track=api").json["items"]
    assert [(t["name"], t["state"], t["station"]) for t in tickets] == [("api-1", "Deploying", "dev")]
    assert len(client.get(f"/api/v1/tickets?namespace={ns}").json["items"]) == 2

    detail = client.get(f"/api/v1/tickets/{ns}/api-1").json
    assert detail["journey"][0]["enteredAt"] == "2025-11-26T09:40:00Z"
    assert detail["snapshot"]["images"][0] == {"name": "acme/api", "tag": "1.0", "digest": None}


@pytest.mark.parametrize(("path", "message"), [
    ("/api/v1/tickets/{ns}/api-9", "ticket api-9 not found in namespace {ns}"),
    ("/api/v1/tracks/{ns}/nope", "track nope not found in namespace {ns}"),
], ids=["ticket", "track"])
def test_api_unknown_names_are_404(client: FlaskClient, cluster: Cluster, path: str, message: str) -> None:
    response = client.get(path.format(ns=cluster.namespace))
    assert response.status_code == 404
    assert response.json == {"error": message.format(ns=cluster.namespace)}


def test_generic_webhook_only_nudges_the_subscription_watching_its_repository(client: FlaskClient,
                                                                            cluster: Cluster) -> None:
    """Even with a Track whose newest ticket a push could inherit from, no ticket is made: the Subscription
    is annotated once, and a redelivery or an older tag moments later forces no second poll (debounced; which
    version is newest is the poller's decision)."""
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", OLD)
    _sub(cluster, "web-images", {"image": {"repository": "acme/web"}}, tracks=["api"])
    _sub(cluster, "api-images", {"image": {"repository": "acme/api"}}, tracks=["api"])
    payload = {"track": "api", "namespace": cluster.namespace, "image": "acme/web:2.0", "digest": DIGEST}

    response = post(client, payload)

    assert response.status_code == 202, response.json
    assert response.json == {"nudged": ["web-images"]}
    assert _nudged(cluster, "web-images") and not _nudged(cluster, "api-images")
    for later in (payload, {"track": "api", "namespace": cluster.namespace, "image": "acme/web:1.0"}):
        again = post(client, later)
        assert (again.status_code, again.json["nudged"], again.json["debounced"]) == (200, [], ["web-images"])
    assert [t["metadata"]["name"] for t in cluster.tickets()] == ["api-1"]
    assert cluster.events("api-1") == []

    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'k8sta_webhook_requests_total{outcome="nudged",source="generic"} 1.0' in metrics
    assert 'k8sta_webhook_requests_total{outcome="debounced",source="generic"} 2.0' in metrics
    assert 'outcome="created"' not in metrics
    assert f'k8sta_tickets{{namespace="{cluster.namespace}",state="Waiting"}} 1.0' in metrics
    assert "k8sta_web_kubernetes_up 1.0" in metrics


def test_a_push_nothing_watches_says_to_declare_a_subscription(client: FlaskClient, cluster: Cluster) -> None:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", OLD)
    response = post(client, {"track": "api", "namespace": cluster.namespace, "image": "acme/api:1"})
    assert response.status_code == 200
    assert response.json == {"nudged": [], "message": f"no Subscription in namespace {cluster.namespace} feeding "
                             "Track api watches acme/api; declare one (kind: Subscription, spec.tracks: [api], "
                             "spec.image.repository: acme/api) — webhooks never create tickets by themselves"}
    unknown = post(client, {"track": "nope", "namespace": cluster.namespace, "image": "acme/api:1"})
    assert unknown.status_code == 200 and unknown.json["nudged"] == []
    assert [t["metadata"]["name"] for t in cluster.tickets()] == ["api-1"]


def test_dockerhub_webhook_names_its_track_in_the_query(client: FlaskClient, cluster: Cluster) -> None:
    _sub(cluster, "api", {"image": {"repository": "docker.io/acme/api"}}, tracks=["api"])
    _sub(cluster, "web", {"image": {"repository": "docker.io/acme/api"}}, tracks=["web"])
    payload = {"push_data": {"tag": "3.1", "pusher": "ci"}, "repository": {"repo_name": "acme/api"}}
    response = post(client, payload, f"?track=api&namespace={cluster.namespace}")
    assert response.status_code == 202, response.json
    assert response.json == {"nudged": ["api"]}
    assert _nudged(cluster, "api") and not _nudged(cluster, "web")
    assert cluster.tickets() == []


def test_ghcr_webhook_authenticated_by_github_signature(client: FlaskClient, cluster: Cluster) -> None:
    _sub(cluster, "ghcr", {"image": {"repository": "ghcr.io/acme/api"}}, tracks=["api"])
    payload = {"action": "published", "package": {
        "name": "api", "package_type": "CONTAINER", "owner": {"login": "acme"},
        "package_version": {"version": DIGEST, "container_metadata": {"tag": {"name": "4.0", "digest": DIGEST}}}}}
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(f"/webhooks/image?namespace={cluster.namespace}", data=body,
                           headers={"Content-Type": "application/json", "X-GitHub-Event": "package",
                                    "X-Hub-Signature-256": signature})
    assert response.status_code == 202, response.json
    assert response.json == {"nudged": ["ghcr"]} and _nudged(cluster, "ghcr")
    assert cluster.tickets() == []


def test_default_namespace_from_config(stack: Stack, cluster: Cluster) -> None:
    _sub(cluster, "api", {"image": {"repository": "acme/api"}}, tracks=["api"])
    app = create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig), "WEBHOOK_TOKEN": TOKEN,
                      "NAMESPACE": cluster.namespace})
    response = post(app.test_client(), {"image": "acme/api:1"})
    assert (response.status_code, response.json) == (202, {"nudged": ["api"]})
    assert _nudged(cluster, "api") and cluster.tickets() == []
