"""Authentication and authorization of /api/v1 against the real kube-apiserver: real ServiceAccount
tokens checked by real TokenReviews, namespaces opened by real SubjectAccessReviews, through Flask's
test client and through gunicorn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cli.cluster import Cluster  # tests/ is the rootdir of the test packages
from flask import Flask
from kubernetes import client as k8s

from k8sta_daemon.core import model
from k8sta_daemon.web import create_app
from k8sta_devstack import processes
from k8sta_devstack.stack import Stack

from . import identities
from .identities import bearer

pytestmark = pytest.mark.stack

Pin = model.ImagePin
SNAP = model.Snapshot("c0ffee" * 6 + "c0ff", (Pin("acme/api", "1.0"),))
ROUTES = ["/api/v1/tracks", "/api/v1/tickets", "/api/v1/tracks/{ns}/api", "/api/v1/tickets/{ns}/api-1"]


@pytest.fixture
def other(kube_api: k8s.ApiClient, crds: None) -> Cluster:
    """A second namespace with its own Track and Ticket, which the reader may not see."""
    world = Cluster(kube_api, "web-other")
    world.track("api", ["dev"])
    world.ticket("api-1", "api", SNAP)
    return world


@pytest.fixture
def mine(cluster: Cluster) -> Cluster:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", SNAP)
    return cluster


def uncached(stack: Stack) -> Flask:
    return create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig), "AUTH_CACHE_SECONDS": 0})


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer not-a-kubernetes-token", "Basic YWRtaW46YWRtaW4=", "Bearer "],
                         ids=["missing", "unknown-token", "basic", "empty"])
def test_without_a_valid_token_every_api_route_is_401(app: Flask, mine: Cluster, route: str,
                                                      header: str | None) -> None:
    response = app.test_client().get(route.format(ns=mine.namespace),
                                     headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="k8sta"'
    assert response.json == {"error": "unauthorized: send a valid Kubernetes bearer token (Authorization: Bearer ...)"}


def test_health_and_metrics_stay_open(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_a_reader_sees_only_the_namespaces_it_may_list(app: Flask, mine: Cluster, other: Cluster,
                                                       reader_token: str) -> None:
    client = app.test_client()
    headers = bearer(reader_token)
    assert [t["name"] for t in client.get(f"/api/v1/tickets?namespace={mine.namespace}", headers=headers
                                          ).json["items"]] == ["api-1"]
    # Across namespaces: only the reader's own, though the other namespace has the same names.
    everywhere = client.get("/api/v1/tickets", headers=headers).json["items"]
    assert {t["namespace"] for t in everywhere} == {mine.namespace}
    tracks = client.get("/api/v1/tracks", headers=headers).json["items"]
    assert {t["namespace"] for t in tracks} == {mine.namespace}
    assert client.get(f"/api/v1/tickets/{mine.namespace}/api-1", headers=headers).status_code == 200


@pytest.mark.parametrize("route", ["/api/v1/tickets?namespace={ns}", "/api/v1/tracks?namespace={ns}",
                                   "/api/v1/tracks/{ns}/api", "/api/v1/tickets/{ns}/api-1",
                                   "/api/v1/tickets/{ns}/no-such-ticket", "/api/v1/tracks/{ns}/no-such-track"])
def test_another_namespace_is_403_and_reveals_nothing(app: Flask, mine: Cluster, other: Cluster,
                                                      reader_token: str, route: str) -> None:
    response = app.test_client().get(route.format(ns=other.namespace), headers=bearer(reader_token))
    assert response.status_code == 403
    # The same answer whether the object exists or not.
    assert response.json == {"error": f"forbidden: user may not list tickets.k8sta.io in namespace {other.namespace}"}


def test_a_cluster_wide_reader_sees_every_namespace(app: Flask, kube_api: k8s.ApiClient, mine: Cluster,
                                                    other: Cluster) -> None:
    token = identities.account_token(kube_api, mine.namespace, "auditor")
    rbac = k8s.RbacAuthorizationV1Api(kube_api)
    name = f"k8sta-auditor-{mine.namespace}"
    rbac.create_cluster_role(body={"metadata": {"name": name}, "rules": identities.READER_RULES})
    rbac.create_cluster_role_binding(body={
        "metadata": {"name": name}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "auditor", "namespace": mine.namespace}]})
    try:
        found = app.test_client().get("/api/v1/tickets", headers=bearer(token)).json["items"]
        assert {mine.namespace, other.namespace} <= {t["namespace"] for t in found}
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)


def test_answers_are_cached_briefly(app: Flask, mine: Cluster, reader_token: str) -> None:
    client = app.test_client()
    reviews = app.extensions["k8sta.auth"]
    route = f"/api/v1/tickets?namespace={mine.namespace}"
    assert client.get(route, headers=bearer(reader_token)).status_code == 200
    sent = reviews.reviews_sent
    assert sent == 2  # one TokenReview, one SubjectAccessReview for the namespace
    for _ in range(5):
        assert client.get(route, headers=bearer(reader_token)).status_code == 200
    assert reviews.reviews_sent == sent


def test_revoked_access_and_deleted_accounts_stop_working(stack: Stack, kube_api: k8s.ApiClient, mine: Cluster,
                                                          reader_token: str) -> None:
    client = uncached(stack).test_client()
    route = f"/api/v1/tickets?namespace={mine.namespace}"
    assert client.get(route, headers=bearer(reader_token)).status_code == 200
    rbac = k8s.RbacAuthorizationV1Api(kube_api)
    rbac.delete_namespaced_role_binding(f"reader-{mine.namespace}-reader", mine.namespace)
    assert client.get(route, headers=bearer(reader_token)).status_code == 403
    k8s.CoreV1Api(kube_api).delete_namespaced_service_account("reader", mine.namespace)
    deadline = time.monotonic() + 30  # the token authenticator notices the deleted account promptly
    while client.get(route, headers=bearer(reader_token)).status_code != 401:
        assert time.monotonic() < deadline, "a deleted ServiceAccount's token still authenticates"
        time.sleep(0.5)


@pytest.fixture
def gunicorn(stack: Stack, tmp_path: Path) -> Iterator[str]:
    """The web part under gunicorn (the install's command), as the admin kubeconfig."""
    port = processes.free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "K8STA_KUBECONFIG": str(stack.kubeconfig), "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} "
           "--workers 2", "XDG_RUNTIME_DIR": str(tmp_path)}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c",
                                 "python:k8sta_daemon.web.gunicorn_conf", "k8sta_daemon.web:create_app()"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def test_through_gunicorn(gunicorn: str, mine: Cluster, other: Cluster, reader_token: str) -> None:
    assert requests.get(f"{gunicorn}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{gunicorn}/metrics", timeout=5).status_code == 200
    assert requests.get(f"{gunicorn}/api/v1/tickets", timeout=5).status_code == 401
    listed = requests.get(f"{gunicorn}/api/v1/tickets", headers=bearer(reader_token), timeout=10)
    assert listed.status_code == 200
    assert {t["namespace"] for t in listed.json()["items"]} == {mine.namespace}
    refused = requests.get(f"{gunicorn}/api/v1/tickets/{other.namespace}/api-1", headers=bearer(reader_token),
                           timeout=10)
    assert refused.status_code == 403
