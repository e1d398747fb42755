"""``POST /webhooks/image`` through the app with an in-memory Store: a valid push only nudges the
Subscriptions watching its repository (and feeding its Track, when it names one); it never creates a
ticket, its tag and digest reach nothing, and the order pushes arrive in changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from k8sta_daemon.core import codec
from k8sta_daemon.ops import nudges

from .conftest import TOKEN, WEBHOOK_NAMESPACE, offline_app
from .fakestore import FakeStore, install, subscription

REPO = "registry.example:5000/shop/api"
D = "sha256:" + "d" * 64
NEVER = "never create tickets by themselves"


def watching() -> FakeStore:
    return FakeStore(
        subscription("api", REPO, ["api"]),
        subscription("api-web", REPO, ["web"]),
        subscription("hub", "docker.io/acme/api", ["api"]),
        subscription("hub-short", "acme/api", ["api", "web"]),
        subscription("ghcr", "ghcr.io/acme/api", ["api"]),
        subscription("elsewhere", REPO, ["api"], namespace="bank"),
        {"apiVersion": codec.API_VERSION, "kind": "Subscription", "metadata": {"name": "broken", "namespace": "k8sta"},
         "spec": {"tracks": []}},  # malformed: passed over, never nudged
    )


@pytest.fixture
def hooked(unreachable_kubeconfig: Path) -> tuple[FlaskClient, FakeStore]:
    app = offline_app(unreachable_kubeconfig)
    return app.test_client(), install(app, watching())


def post(client: FlaskClient, payload: Any, query: str = "", **headers: str) -> Any:
    return client.post(f"/webhooks/image{query}", data=json.dumps(payload).encode(),
                       headers={"Content-Type": "application/json", "X-K8sTA-Token": TOKEN, **headers})


GHCR = {"action": "published", "package": {
    "name": "API", "package_type": "CONTAINER", "owner": {"login": "Acme"},
    "package_version": {"version": D, "container_metadata": {"tag": {"name": "4.0", "digest": D}}}}}
DOCKERHUB = {"push_data": {"tag": "3.1", "pusher": "ci"}, "repository": {"repo_name": "acme/api"}}


@pytest.mark.parametrize(("payload", "query", "headers", "nudged"), [
    ({"image": f"{REPO}:1.2", "digest": D}, "", {}, ["api", "api-web"]),
    ({"image": f"{REPO}:1.2@{D}", "namespace": WEBHOOK_NAMESPACE, "track": "api"}, "", {}, ["api"]),
    ({"image": f"{REPO}:1.2"}, "?track=web", {}, ["api-web"]),
    (DOCKERHUB, "", {}, ["hub", "hub-short"]),
    (DOCKERHUB, "?track=web", {}, ["hub-short"]),
    (GHCR, f"?namespace={WEBHOOK_NAMESPACE}", {"X-GitHub-Event": "package"}, ["ghcr"]),
], ids=["generic", "generic-track", "generic-query-track", "dockerhub-both-spellings", "dockerhub-track", "ghcr"])
def test_a_push_only_nudges_the_subscriptions_watching_its_repository(
        hooked: tuple[FlaskClient, FakeStore], payload: dict[str, Any], query: str, headers: dict[str, str],
        nudged: list[str]) -> None:
    client, store = hooked
    answer = post(client, payload, query, **headers)
    assert answer.status_code == 202, answer.json
    assert answer.json == {"nudged": nudged}
    assert set(store.nudged()) == {f"{WEBHOOK_NAMESPACE}/{name}" for name in nudged}
    # Only Subscriptions were read and annotated (FakeStore fails on anything else, a ticket included).
    assert {call[0] for call in store.calls} == {"subscriptions", "nudge_subscription"}
    assert all(call[1] == WEBHOOK_NAMESPACE for call in store.calls)


def test_the_order_of_pushes_and_their_tags_change_nothing(hooked: tuple[FlaskClient, FakeStore]) -> None:
    """Older after newer, a redelivery, another digest: one nudge (the rest, moments later, are debounced:
    the poller is already reading), and nothing of the body is kept; which version is newest is left to the
    Subscription's poller."""
    client, store = hooked
    pushes = [{"image": f"{REPO}:2.0", "digest": D}, {"image": f"{REPO}:1.0"}, {"image": f"{REPO}:2.0", "digest": D},
              {"image": f"{REPO}:10.0@sha256:{'e' * 64}"}]
    answers = [post(client, push) for push in pushes]
    assert (answers[0].status_code, answers[0].json) == (202, {"nudged": ["api", "api-web"]})
    for later in answers[1:]:
        assert (later.status_code, later.json["nudged"], later.json["debounced"]) == (200, [], ["api", "api-web"])
    assert [c[2] for c in store.calls if c[0] == "nudge_subscription"] == ["api", "api-web"]
    for stamp in store.nudged().values():
        assert codec.parse_time(stamp) is not None  # a time, never a tag or digest
    kept = json.dumps(store.objects)
    assert not any(text in kept for text in ("2.0", "1.0", "10.0", D, "e" * 64))


@pytest.mark.parametrize(("payload", "query", "message"), [
    ({"image": "registry.example/other:1.0"}, "",
     "no Subscription in namespace k8sta watches registry.example/other; declare one (kind: Subscription, "
     "spec.image.repository: registry.example/other)"),
    ({"image": f"{REPO}:1.0", "track": "db"}, "",
     f"no Subscription in namespace k8sta feeding Track db watches {REPO}; declare one (kind: Subscription, "
     f"spec.tracks: [db], spec.image.repository: {REPO})"),
    ({"push_data": {"tag": "1"}, "repository": {"repo_name": "nginx"}}, "",
     "no Subscription in namespace k8sta watches docker.io/library/nginx or library/nginx or nginx; declare one "
     "(kind: Subscription, spec.image.repository: docker.io/library/nginx)"),
], ids=["unwatched", "watched-for-other-tracks", "dockerhub-official-image"])
def test_an_unwatched_push_says_how_to_declare_a_subscription(hooked: tuple[FlaskClient, FakeStore],
                                                              payload: dict[str, Any], query: str,
                                                              message: str) -> None:
    client, store = hooked
    answer = post(client, payload, query)
    assert answer.status_code == 200
    assert answer.json == {"nudged": [], "message": f"{message} — webhooks {NEVER}"}
    assert store.nudged() == {}


def test_a_push_never_reaches_another_namespace(hooked: tuple[FlaskClient, FakeStore]) -> None:
    client, store = hooked
    answer = post(client, {"image": f"{REPO}:1.0", "namespace": "bank"})
    assert answer.status_code == 403
    assert answer.json == {"error": "this webhook secret cannot nudge Subscriptions in namespace bank"}
    assert store.calls == []  # refused before anything was read


def test_metrics_count_nudged_unmatched_and_ignored_pushes(hooked: tuple[FlaskClient, FakeStore]) -> None:
    client, _ = hooked
    post(client, {"image": f"{REPO}:1.0"})
    post(client, DOCKERHUB)
    post(client, {"image": "registry.example/other:1.0"})
    post(client, {"zen": "hi"}, **{"X-GitHub-Event": "ping"})
    text = client.get("/metrics").get_data(as_text=True)
    for outcome, source in (("nudged", "generic"), ("nudged", "dockerhub"), ("unmatched", "generic"),
                            ("ignored", "ghcr")):
        assert f'k8sta_webhook_requests_total{{outcome="{outcome}",source="{source}"}} 1.0' in text
    assert 'outcome="created"' not in text


def test_nudge_filters_by_track_and_passes_malformed_subscriptions_over() -> None:
    store = watching()
    assert nudges.nudge(store, "k8sta", images=[REPO]).nudged == ["api", "api-web"]  # type: ignore[arg-type]
    assert nudges.nudge(store, "k8sta", images=[REPO], track="web").nudged == ["api-web"]  # type: ignore[arg-type]
    assert nudges.nudge(store, "k8sta", images=[REPO], track="db").nudged == []  # type: ignore[arg-type]
    assert nudges.nudge(store, "bank", images=[REPO], track="api").nudged == ["elsewhere"]  # type: ignore[arg-type]
    assert "k8sta/broken" not in store.nudged()
