"""``POST /webhooks/image`` under a hypothesis fuzz on the real API server: every payload format with each
field replaced by a wrong type or a bad image reference, nested 5,000 deep, 5,000-digit integers,
garbage: never a 5xx, never a ticket (valid or not), nothing nudged by an invalid body, and a valid one
nudges exactly the Subscriptions watching its repository."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from cli.cluster import Cluster
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8sta_daemon.core import model
from k8sta_daemon.web.sansio import nudges, payloads

from .conftest import TOKEN
from .test_nudge import BAD_REFERENCES, _mutations, _nudged, _sub, junk

pytestmark = pytest.mark.stack

D = "sha256:" + "a" * 64


def _formats(namespace: str) -> list[tuple[dict[str, Any], dict[str, str], str]]:
    return [
        ({"track": "shop", "namespace": namespace, "image": "registry.example:5000/shop/api:1.2.3", "digest": D},
         {}, ""),
        ({"push_data": {"tag": "1.2.3"}, "repository": {"repo_name": "acme/api"}}, {},
         f"?track=shop&namespace={namespace}"),
        ({"action": "published", "package": {"name": "api", "namespace": "acme", "package_type": "CONTAINER",
                                             "owner": {"login": "acme"},
                                             "package_version": {"version": D, "container_metadata": {
                                                 "tag": {"name": "1.2.3", "digest": D}}}}},
         {"X-GitHub-Event": "package"}, f"?track=shop&namespace={namespace}"),
    ]


SUBSCRIPTIONS = {"generic": "registry.example:5000/shop/api", "hub": "docker.io/acme/api", "ghcr": "ghcr.io/acme/api"}


@pytest.fixture
def app(app: Flask) -> Flask:
    """The conftest's app without the webhook debounce: here every valid hit must nudge its Subscription
    (the debounce of redeliveries has its own tests, tests/web/test_hardening*.py)."""
    app.config["WEBHOOK_DEBOUNCE_SECONDS"] = 0.0
    return app


@pytest.fixture
def track(cluster: Cluster) -> Cluster:
    """A Track with a ticket a push could inherit from (as the old webhook did), and a Subscription of it
    watching each format's repository."""
    cluster.track("shop", ["dev"])
    cluster.ticket("shop-1", "shop", model.Snapshot("c" * 40))
    for name, repository in SUBSCRIPTIONS.items():
        _sub(cluster, name, {"image": {"repository": repository}})
    return cluster


def _expected(body: bytes, headers: dict[str, str], query: str, namespace: str) -> tuple[int, list[str]] | None:
    """What a push should answer (status, nudged), by the pure parser; None for an invalid or ignored one."""
    try:
        push = payloads.parse(nudges.decode(body), dict(parse_qsl(query.lstrip("?"))), default_namespace=namespace,
                              github_event=headers.get("X-GitHub-Event"))
    except payloads.PayloadError:
        return None
    if isinstance(push, payloads.Ignored):
        return None
    if push.namespace != namespace:
        return 403, []
    nudged = sorted(name for name, repository in SUBSCRIPTIONS.items()
                    if repository in push.repositories and push.track in (None, "shop"))
    return (202 if nudged else 200), nudged


@st.composite
def hostile(draw: st.DrawFn, namespace: str) -> tuple[bytes, dict[str, str], str]:
    payload, headers, query = draw(st.sampled_from(_formats(namespace)))
    kind = draw(st.sampled_from(["mutate", "mutate", "reference", "deep", "bigint", "garbage"]))
    if kind == "deep":
        depth = draw(st.integers(33, 6000))
        body = b'{"image": ' + b"[" * depth + b"]" * depth + b"}"
    elif kind == "bigint":
        body = b'{"track": "shop", "image": ' + b"7" * draw(st.integers(21, 6000)) + b"}"
    elif kind == "garbage":
        body = draw(st.binary(max_size=200))
    elif kind == "reference":
        body = json.dumps({"track": "shop", "namespace": namespace, "image": draw(st.sampled_from(BAD_REFERENCES))
                           + draw(st.sampled_from(["", ":1.0"]))}).encode()
    else:
        body = json.dumps(draw(st.sampled_from(_mutations(payload, draw(st.sampled_from(BAD_REFERENCES) | junk)))
                               )).encode()
    return body, headers, query


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_no_5xx_never_a_ticket_and_only_the_watching_subscription_nudged(
        client: FlaskClient, track: Cluster, data: st.DataObject) -> None:
    body, headers, query = data.draw(hostile(track.namespace))
    answer = client.post(f"/webhooks/image{query}", data=body,
                         headers={"X-K8sTA-Token": TOKEN, "Content-Type": "application/json", **headers})
    assert answer.status_code < 500, (answer.status_code, answer.get_json(), body[:300])
    assert {t["metadata"]["name"] for t in track.tickets()} == {"shop-1"}, body[:300]
    nudged = (answer.get_json() or {}).get("nudged")
    expected = _expected(body, headers, query, track.namespace)
    if expected is None:  # invalid or ignored: nothing nudged
        assert answer.status_code in (200, 400) and not nudged, (answer.status_code, answer.get_json(), body[:300])
    else:
        assert (answer.status_code, nudged or []) == expected, (answer.get_json(), body[:300])


@pytest.mark.parametrize("reference", ["registry.example/shop/api:1.0@", " registry.example/shop/api:1.0",
                                       "registry.example/shop/api:1.0\n", "registry.example:0/shop/api:1.0",
                                       "registry.example:65536/shop/api:1.0"])
def test_bad_references_named_in_a_400(client: FlaskClient, track: Cluster, reference: str) -> None:
    body = json.dumps({"track": "shop", "namespace": track.namespace, "image": reference}).encode()
    answer = client.post("/webhooks/image", data=body, headers={"X-K8sTA-Token": TOKEN,
                                                                "Content-Type": "application/json"})
    assert answer.status_code == 400 and "image" in answer.get_json()["error"]
    assert {t["metadata"]["name"] for t in track.tickets()} == {"shop-1"}
    assert not any(_nudged(track, name) for name in SUBSCRIPTIONS)


@pytest.mark.parametrize("metadata", ["a string", ["a", "list"], 7])
def test_ghcr_wrong_types_are_400(client: FlaskClient, track: Cluster, metadata: Any) -> None:
    for field in ("container_metadata", "owner"):
        package: dict[str, Any] = {"name": "api", "package_type": "CONTAINER", "package_version": {
            "container_metadata": {"tag": {"name": "1.0", "digest": 5}}}}
        if field == "owner":
            package["owner"] = metadata
        else:
            package["package_version"]["container_metadata"] = metadata
        answer = client.post(f"/webhooks/image?track=shop&namespace={track.namespace}",
                             data=json.dumps({"action": "published", "package": package}).encode(),
                             headers={"X-K8sTA-Token": TOKEN, "X-GitHub-Event": "package"})
        assert answer.status_code == 400, (field, answer.get_json())
    assert {t["metadata"]["name"] for t in track.tickets()} == {"shop-1"}
    assert not _nudged(track, "ghcr")
