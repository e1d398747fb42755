"""``POST /webhooks/nudge`` on the real API server: each format nudges the Subscriptions watching its
repository (an annotation, nothing else); forge signatures; and a hypothesis fuzz over every format:
malformed or unauthenticated bodies get 4xx, never 5xx, and nothing is nudged or created."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import pytest
from cli.cluster import GROUP, VERSION, Cluster
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client as k8s_client

from k8sta_daemon.core import subscriptions as subs
from k8sta_daemon.web.sansio import nudges

from .conftest import TOKEN

pytestmark = pytest.mark.stack

IMAGE = "registry.example:5000/shop/api"
GIT = "https://git.example/shop/config.git"


def _sub(cluster: Cluster, name: str, source: dict[str, Any], tracks: Sequence[str] = ("shop",)) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
            "metadata": {"name": name, "namespace": cluster.namespace}, "spec": {"tracks": list(tracks), **source}}
    cluster.custom.create_namespaced_custom_object(GROUP, VERSION, cluster.namespace, "subscriptions", body)


def _nudged(cluster: Cluster, name: str) -> str | None:
    obj = cluster.custom.get_namespaced_custom_object(GROUP, VERSION, cluster.namespace, "subscriptions", name)
    return (obj["metadata"].get("annotations") or {}).get(subs.NUDGE_ANNOTATION)


@pytest.fixture
def watched(cluster: Cluster) -> Cluster:
    _sub(cluster, "api", {"image": {"repository": IMAGE}})
    _sub(cluster, "ghcr", {"image": {"repository": "ghcr.io/acme/api"}})
    _sub(cluster, "hub", {"image": {"repository": "docker.io/acme/api"}})
    _sub(cluster, "config", {"config": {"repoURL": GIT}})
    return cluster


def _post(client: FlaskClient, body: bytes, namespace: str, headers: dict[str, str] | None = None,
          query: str = "") -> Any:
    return client.post(f"/webhooks/nudge?namespace={namespace}{query}", data=body,
                       headers={"Content-Type": "application/json", **(headers or {})})


def _sign(body: bytes) -> str:
    return hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()


FORMATS: list[tuple[str, dict[str, Any], dict[str, str], str, str]] = [
    # (id, payload, headers besides auth, query, the Subscription it nudges)
    ("generic-image", {"repository": IMAGE}, {}, "", "api"),
    ("generic-git", {"repoURL": GIT}, {}, "", "config"),
    ("github-push", {"ref": "refs/heads/main", "repository": {"clone_url": GIT, "html_url": GIT[:-4]}},
     {"X-GitHub-Event": "push"}, "", "config"),
    ("github-package", {"action": "published", "package": {"name": "api", "namespace": "acme",
                                                            "package_type": "CONTAINER"}},
     {"X-GitHub-Event": "package"}, "", "ghcr"),
    ("gitlab-push", {"ref": "refs/heads/main", "project": {"git_http_url": "https://git.example/shop/config"}},
     {"X-Gitlab-Event": "Push Hook"}, "", "config"),
    ("gitea-push", {"ref": "refs/heads/main", "repository": {"clone_url": GIT}}, {"X-Gitea-Event": "push"}, "",
     "config"),
    ("forgejo-push", {"ref": "refs/heads/main", "repository": {"clone_url": GIT}}, {"X-Forgejo-Event": "push"}, "",
     "config"),
    ("dockerhub", {"push_data": {"tag": "1.2.3"}, "repository": {"repo_name": "acme/api"}}, {}, "", "hub"),
    ("harbor", {"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name": "shop/api"}}}, {},
     "&registry=registry.example:5000", "api"),
    ("quay", {"docker_url": IMAGE, "updated_tags": ["1.2.3"]}, {}, "", "api"),
]


@pytest.mark.parametrize(("payload", "headers", "query", "expected"), [f[1:] for f in FORMATS],
                         ids=[f[0] for f in FORMATS])
def test_each_format_nudges_only_the_matching_subscription(client: FlaskClient, watched: Cluster,
                                                           payload: dict[str, Any], headers: dict[str, str],
                                                           query: str, expected: str) -> None:
    body = json.dumps(payload).encode()
    answer = _post(client, body, watched.namespace, {"X-K8sTA-Token": TOKEN, **headers}, query)
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["nudged"] == [expected]
    assert {n for n in ("api", "ghcr", "hub", "config") if _nudged(watched, n)} == {expected}
    assert not watched.tickets()


@pytest.mark.parametrize(("auth_headers", "status"), [
    ({"X-Gitlab-Token": TOKEN}, 202), ({"X-Gitlab-Token": "wrong"}, 401),
    ({"X-Gitea-Signature": "SIGN"}, 202), ({"X-Forgejo-Signature": "SIGN"}, 202),
    ({"X-Gitea-Signature": "0" * 64}, 401), ({"X-Hub-Signature-256": "sha256=SIGN"}, 202),
    ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 401), ({}, 401), ({"X-K8sTA-Token": "wrong"}, 401),
])
def test_forge_authentication(client: FlaskClient, watched: Cluster, auth_headers: dict[str, str],
                              status: int) -> None:
    body = json.dumps({"repoURL": GIT}).encode()
    headers = {k: v.replace("SIGN", _sign(body)) for k, v in auth_headers.items()}
    answer = _post(client, body, watched.namespace, headers)
    assert answer.status_code == status
    assert bool(_nudged(watched, "config")) == (status == 202)


def test_unwatched_repository_and_ignored_events_nudge_nothing(client: FlaskClient, watched: Cluster) -> None:
    token = {"X-K8sTA-Token": TOKEN}
    answer = _post(client, json.dumps({"repository": "registry.example/other"}).encode(), watched.namespace, token)
    assert answer.status_code == 200 and answer.get_json()["nudged"] == []
    ping = _post(client, b'{"zen": "hi"}', watched.namespace, {**token, "X-GitHub-Event": "ping"})
    assert ping.status_code == 200 and ping.get_json()["ignored"] == "ping"
    assert not any(_nudged(watched, n) for n in ("api", "ghcr", "hub", "config"))


def test_a_secret_never_nudges_outside_its_namespace(client: FlaskClient, watched: Cluster, kube_api: Any) -> None:
    """The web part's secret belongs to the watched namespace; another namespace with the same
    Subscription is refused (403), by token and by a forge's signature alike, and nothing is nudged."""
    other = f"{watched.namespace}-other"
    core = k8s_client.CoreV1Api(kube_api)
    core.create_namespace(k8s_client.V1Namespace(metadata=k8s_client.V1ObjectMeta(name=other)))
    try:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
                "metadata": {"name": "config", "namespace": other},
                "spec": {"tracks": ["shop"], "config": {"repoURL": GIT}}}
        watched.custom.create_namespaced_custom_object(GROUP, VERSION, other, "subscriptions", body)
        payload = json.dumps({"repoURL": GIT}).encode()
        for headers in ({"X-K8sTA-Token": TOKEN}, {"X-Gitea-Signature": _sign(payload)}):
            answer = _post(client, payload, other, headers)
            assert answer.status_code == 403, answer.get_json()
            assert other in answer.get_json()["error"]
        obj = watched.custom.get_namespaced_custom_object(GROUP, VERSION, other, "subscriptions", "config")
        assert subs.NUDGE_ANNOTATION not in (obj["metadata"].get("annotations") or {})
    finally:
        core.delete_namespace(other)


# -- the fuzz -------------------------------------------------------------------------------------

def _nested(depth: int) -> bytes:
    return b'{"repository": ' + b"[" * depth + b"]" * depth + b"}"


BAD_REFERENCES = ["repo:tag@", " registry.example/shop/api", "registry.example/shop/api\n",
                  "registry.example:0/shop/api", "registry.example:65536/shop/api", "registry.example:99999/a",
                  "Registry.Example/Shop/API", "shop/api:1.0", "shop/api@sha256:" + "a" * 64, "", "a b", "a\tb"]
junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children,
                                                                                      max_size=3), max_leaves=8)
bad_value = st.sampled_from(BAD_REFERENCES) | junk


def _mutations(payload: Any, value: Any) -> list[Any]:
    """``payload`` with each leaf (and each object) replaced by ``value``, one at a time."""
    out: list[Any] = []
    if isinstance(payload, dict):
        for key, child in payload.items():
            out.append({**payload, key: value})
            out.extend({**payload, key: m} for m in _mutations(child, value))
    elif isinstance(payload, list):
        for i, child in enumerate(payload):
            out.extend([*payload[:i], m, *payload[i + 1:]] for m in _mutations(child, value))
    return out


@st.composite
def hostile(draw: st.DrawFn) -> tuple[bytes, dict[str, str], str]:
    _, payload, headers, query, _ = draw(st.sampled_from(FORMATS))
    kind = draw(st.sampled_from(["mutate", "deep", "bigint", "garbage", "drop"]))
    if kind == "deep":
        body = _nested(draw(st.integers(33, 6000)))
    elif kind == "bigint":
        body = b'{"repository": ' + b"9" * draw(st.integers(21, 6000)) + b"}"
    elif kind == "garbage":
        body = draw(st.binary(max_size=200))
    elif kind == "drop":
        keys = sorted(payload)
        dropped = draw(st.sampled_from(keys))
        body = json.dumps({k: v for k, v in payload.items() if k != dropped}).encode()
    else:
        options = _mutations(payload, draw(bad_value))
        body = json.dumps(draw(st.sampled_from(options))).encode()
    return body, headers, query


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=hostile(), authenticated=st.booleans())
def test_fuzz_no_5xx_and_nothing_from_invalid_bodies(client: FlaskClient, watched: Cluster,
                                                     case: tuple[bytes, dict[str, str], str],
                                                     authenticated: bool) -> None:
    body, headers, query = case
    auth = {"X-K8sTA-Token": TOKEN} if authenticated else {"X-K8sTA-Token": "nope"}
    answer = _post(client, body, watched.namespace, {**auth, **headers}, query)
    assert answer.status_code < 500, (answer.status_code, answer.get_json(), body[:200])
    if not authenticated:
        assert answer.status_code == 401
    try:
        parsed = nudges.parse(nudges.decode(body), headers, {"registry": "registry.example:5000"})
        valid = isinstance(parsed, nudges.Nudge)
    except nudges.PayloadError:
        valid = False
    if not valid:  # an invalid or ignored body nudges nothing
        assert answer.status_code in (200, 400, 401) and not (answer.get_json() or {}).get("nudged")
    assert not watched.tickets()
