"""The board's operator actions against the real kube-apiserver: real ServiceAccount tokens, the install's
own ``k8sta-operator`` ClusterRole rules, real SubjectAccessReviews, writes sent with the caller's token,
and Events read back from the API. Through Flask's test client (the browser test drives the same forms)."""

from __future__ import annotations

import html
import re

import pytest
from cli.cluster import Cluster  # tests/ is the rootdir of the test packages
from flask import Flask
from kubernetes import client as k8s

from k8sta_daemon.core import codec, model
from k8sta_daemon.web import asuser

from . import identities
from .identities import bearer

pytestmark = pytest.mark.stack

SNAP = model.Snapshot("c0ffee" * 6 + "c0ff", (model.ImagePin("acme/api", "1.0"),))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def gated(cluster: Cluster) -> Cluster:
    """Track ``api``: dev -> staging (approval required); ticket api-1 waits at dev for the gate."""
    cluster.track("api", ["dev", "staging"], approval=["staging"])
    cluster.ticket("api-1", "api", SNAP, status=model.TicketStatus(
        state=model.TicketState.AWAITING_APPROVAL, station="dev",
        message="waiting for approval to depart into station staging"))
    return cluster


def user(kube_api: k8s.ApiClient, cluster: Cluster, name: str, rules: list[dict[str, list[str]]]) -> dict[str, str]:
    """A token for the web part and the API server both (docs/operations.md: board actions act as the user)."""
    identities.grant(kube_api, cluster.namespace, cluster.namespace, name, rules)
    return bearer(identities.account_token(kube_api, cluster.namespace, name, audiences=identities.acting(kube_api)))


@pytest.fixture
def operator(kube_api: k8s.ApiClient, gated: Cluster) -> dict[str, str]:
    """A user bound to exactly what the install's k8sta-operator ClusterRole grants."""
    return user(kube_api, gated, "board-operator", identities.operator_rules())


@pytest.fixture
def viewer(kube_api: k8s.ApiClient, gated: Cluster) -> dict[str, str]:
    """A user who may read tickets and Tracks (the board shows them) but patch nothing."""
    return user(kube_api, gated, "board-viewer", identities.READER_RULES)


def csrf_of(app: Flask, cluster: Cluster, headers: dict[str, str]) -> str:
    """The CSRF token of the ticket page, as the browser gets it."""
    page = app.test_client().get(f"/board/tickets/{cluster.namespace}/api-1", headers=headers)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None, "the ticket page has no action forms"
    return found.group(1)


def approve(app: Flask, cluster: Cluster, headers: dict[str, str], csrf: str | None) -> tuple[int, str]:
    form = {"ticket": "api-1", "station": "staging", **({"csrf_token": csrf} if csrf is not None else {})}
    answer = app.test_client().post(f"/board/actions/{cluster.namespace}/approve", data=form, headers=headers)
    return answer.status_code, html.unescape(answer.text)


def account(cluster: Cluster, name: str) -> str:
    return f"system:serviceaccount:{cluster.namespace}:{name}"


def unchanged(cluster: Cluster) -> None:
    spec = cluster.get("Ticket", "api-1")["spec"]
    assert "approvedStations" not in spec
    assert [e.reason for e in cluster.events("api-1") if e.reason == "Approved"] == []


def test_an_operator_approves_and_the_event_names_them(app: Flask, gated: Cluster,
                                                        operator: dict[str, str]) -> None:
    page = app.test_client().get(f"/board/tickets/{gated.namespace}/api-1", headers=operator).text
    assert '<option value="staging" selected>' in page  # the gate the ticket waits at is offered first
    status, text = approve(app, gated, operator, csrf_of(app, gated, operator))
    assert status == 200, text
    assert f"ticket api-1: station staging approved by {account(gated, 'board-operator')}" in text
    assert gated.get("Ticket", "api-1")["spec"]["approvedStations"] == ["staging"]
    [event] = [e for e in gated.events("api-1") if e.reason == "Approved"]
    assert event.message == (f"station staging approved by {account(gated, 'board-operator')} "
                             "via the k8sta board")
    assert event.source.component == "k8sta-board"
    # again: idempotent, no second Event
    status, text = approve(app, gated, operator, csrf_of(app, gated, operator))
    assert status == 200 and "was already approved" in text
    assert len([e for e in gated.events("api-1") if e.reason == "Approved"]) == 1


def test_a_user_without_the_verb_gets_403_and_nothing_changes(app: Flask, gated: Cluster,
                                                               viewer: dict[str, str]) -> None:
    status, text = approve(app, gated, viewer, csrf_of(app, gated, viewer))
    assert status == 403
    assert (f"forbidden: user {account(gated, 'board-viewer')} may not patch tickets.k8sta.io in namespace "
            f"{gated.namespace}, which the board action approve needs") in text
    unchanged(gated)


def test_csrf_missing_or_of_another_user_is_403_and_nothing_changes(app: Flask, gated: Cluster,
                                                                    operator: dict[str, str],
                                                                    viewer: dict[str, str]) -> None:
    status, text = approve(app, gated, operator, None)
    assert status == 403 and "the request carries no CSRF token" in text
    status, text = approve(app, gated, operator, csrf_of(app, gated, viewer))
    assert status == 403 and "the CSRF token does not belong to this user or credential" in text
    status, text = approve(app, gated, operator, "12.deadbeef")
    assert status == 403 and "does not belong" in text
    unchanged(gated)
    assert app.test_client().post(f"/board/actions/{gated.namespace}/approve",
                                  data={"ticket": "api-1", "station": "staging"}).status_code == 401


def test_bad_forms_are_400_naming_the_field(app: Flask, gated: Cluster, operator: dict[str, str]) -> None:
    csrf = csrf_of(app, gated, operator)
    client = app.test_client()
    answer = client.post(f"/board/actions/{gated.namespace}/approve", headers=operator,
                         data={"csrf_token": csrf, "ticket": "api-1"})
    assert answer.status_code == 400 and "the form has no station" in html.unescape(answer.text)
    answer = client.post(f"/board/actions/{gated.namespace}/launch", headers=operator, data={"csrf_token": csrf})
    assert answer.status_code == 400 and "unknown board action 'launch'" in html.unescape(answer.text)
    unchanged(gated)


def test_hold_resume_freeze_unfreeze_each_recorded_with_the_user(app: Flask, gated: Cluster,
                                                                 operator: dict[str, str]) -> None:
    client = app.test_client()
    page = client.get(f"/board/actions/{gated.namespace}", headers=operator)
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found is not None
    csrf = found.group(1)
    who = account(gated, "board-operator")

    def post(action: str, **form: str) -> str:
        answer = client.post(f"/board/actions/{gated.namespace}/{action}", headers=operator,
                             data={"csrf_token": csrf, **form})
        assert answer.status_code == 200, answer.text
        return html.unescape(answer.text)

    def track_events(reason: str) -> list[str]:
        items = gated.core.list_namespaced_event(gated.namespace, field_selector="involvedObject.kind=Track").items
        return [e.message for e in items if e.reason == reason]

    assert f"track api held by {who} (release at noon)" in post("hold", track="api", reason="release at noon")
    assert gated.get("Track", "api")["spec"]["hold"]["reason"] == "release at noon"
    assert track_events("Held") == [f"track held by {who} via the k8sta board: release at noon"]
    post("resume", track="api")
    assert "hold" not in gated.get("Track", "api")["spec"]
    assert track_events("Resumed") == [f"track resumed by {who} via the k8sta board"]

    post("freeze", reason="incident 42")
    assert gated.get("Track", "api")["metadata"]["annotations"][codec.FREEZE_ANNOTATION] == "incident 42"
    assert track_events("Frozen") == [f"namespace {gated.namespace} frozen by {who}: incident 42; no ticket enters "
                                      "a Station until k8sta unfreeze"]
    assert "namespace frozen: incident 42" in client.get(f"/board/actions/{gated.namespace}", headers=operator).text
    post("unfreeze")
    assert codec.FREEZE_ANNOTATION not in gated.get("Track", "api")["metadata"].get("annotations", {})
    assert track_events("Unfrozen") == [f"namespace {gated.namespace} unfrozen by {who}"]


def test_the_viewer_may_not_freeze_or_even_open_another_namespace(app: Flask, gated: Cluster, kube_api: k8s.ApiClient,
                                                                  viewer: dict[str, str]) -> None:
    client = app.test_client()
    csrf = csrf_of(app, gated, viewer)
    answer = client.post(f"/board/actions/{gated.namespace}/freeze", headers=viewer,
                         data={"csrf_token": csrf, "reason": "no"})
    assert answer.status_code == 403 and "may not patch tracks.k8sta.io" in html.unescape(answer.text)
    assert codec.FREEZE_ANNOTATION not in gated.get("Track", "api")["metadata"].get("annotations", {})
    other = Cluster(kube_api, "web-actions-other")
    assert client.get(f"/board/actions/{other.namespace}", headers=viewer).status_code == 403


def test_the_action_client_acts_as_the_caller_not_as_the_web_part(kube_api: k8s.ApiClient, gated: Cluster,
                                                                   operator: dict[str, str]) -> None:
    token = operator["Authorization"].removeprefix("Bearer ")
    api = asuser.client_for(kube_api, token)  # kube_api is the stack's admin: none of it may leak through
    try:
        review = k8s.AuthenticationV1Api(api).create_self_subject_review({"apiVersion": "authentication.k8s.io/v1",
                                                                          "kind": "SelfSubjectReview"})
    finally:
        api.close()
    assert review.status.user_info.username == account(gated, "board-operator")
