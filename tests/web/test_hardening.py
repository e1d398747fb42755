"""The web part under load and abuse, without a cluster: probes and metrics on their own port (through the
test client and through gunicorn's real sockets), the board's stream caps and its namespace requirement,
and webhook scope and debounce (``fakestore``: webhooks only list and nudge Subscriptions).
``test_hardening_stack`` checks the parts that need real tokens on the real API server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, g, request
from werkzeug.serving import make_server

from k8sta_daemon.core import codec
from k8sta_daemon.ops import nudges
from k8sta_daemon.web import board, create_app
from k8sta_daemon.web.sansio import authz
from k8sta_daemon.web.settings import SettingsError
from k8sta_devstack import processes

from .conftest import offline_app
from .fakestore import FakeStore, install, subscription
from .test_board_app import app as board_app  # noqa: F401  (the fed, in-memory board)
from .test_board_app import hub_of

OPS = 8081
OPS_ROUTES = ["/healthz", "/readyz", "/metrics"]
PUBLIC_ROUTES = ["/board/", "/board/events", "/api/v1/tracks", "/webhooks/image", "/webhooks/nudge"]


# -- probes and metrics on their own port -----------------------------------------------------------------


def test_probes_and_metrics_answer_only_on_the_ops_port(unreachable_kubeconfig: Path) -> None:
    client = offline_app(unreachable_kubeconfig, OPS_PORT=OPS).test_client()
    for route in OPS_ROUTES:
        assert client.get(route).status_code == 404, route  # the Service's port: as if it did not exist
        assert client.get(route, base_url=f"http://localhost:{OPS}").status_code != 404, route
    metrics = client.get("/metrics", base_url=f"http://localhost:{OPS}")
    assert metrics.status_code == 200 and b"k8sta_web_kubernetes_up" in metrics.data
    for route in PUBLIC_ROUTES:  # nothing but the probes and metrics on the ops port, not even a 401
        assert client.get(route, base_url=f"http://localhost:{OPS}").status_code == 404, route
        assert client.post(route, base_url=f"http://localhost:{OPS}").status_code == 404, route


def test_without_an_ops_port_every_route_answers_on_one_port(unreachable_kubeconfig: Path) -> None:
    client = offline_app(unreachable_kubeconfig).test_client()
    assert client.get("/healthz").status_code == 200 and client.get("/metrics").status_code == 200


@pytest.mark.parametrize("value", ["0", "65536", "http", "-1"])
def test_a_bad_ops_port_fails_at_startup(unreachable_kubeconfig: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="K8STA_OPS_PORT must be a TCP port"):
        offline_app(unreachable_kubeconfig, OPS_PORT=value)


@pytest.fixture
def two_ports(unreachable_kubeconfig: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The web part under gunicorn with the install's config, bound to a public and an ops port."""
    public, ops = processes.free_port(), processes.free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "K8STA_KUBECONFIG": str(unreachable_kubeconfig), "K8STA_OPS_PORT": str(ops),
           "K8STA_BOARD_WATCH": "false", "XDG_RUNTIME_DIR": str(tmp_path),
           "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{public} --bind 127.0.0.1:{ops}"}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c",
                                 "python:k8sta_daemon.web.gunicorn_conf", "k8sta_daemon.web:create_app()"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{ops}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{ops}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def test_under_gunicorn_the_port_is_the_sockets_never_the_host_header(two_ports: tuple[str, str]) -> None:
    public, ops = two_ports
    ops_port = ops.rsplit(":", 1)[1]
    assert requests.get(f"{ops}/metrics", timeout=10).status_code == 200
    for route in OPS_ROUTES:
        # A caller of the Service claiming the ops port in Host still reaches the public port's routes only.
        answer = requests.get(f"{public}{route}", headers={"Host": f"127.0.0.1:{ops_port}"}, timeout=10)
        assert answer.status_code == 404, route
    assert requests.get(f"{ops}/board/", timeout=10).status_code == 404
    assert requests.get(f"{public}/board/", timeout=10).status_code == 401  # the board is on the public port


# -- the board's stream: a namespace to show, and a free slot ------------------------------------------------


def test_no_stream_without_a_visible_namespace(board_app: Flask) -> None:  # noqa: F811
    board_app.extensions[board.NAMESPACE_FILTER] = lambda namespace: False
    response = board_app.test_client().get("/board/events")
    assert response.status_code == 403 and response.mimetype == "application/json"
    assert response.json == {"error": "forbidden: may list tickets.k8sta.io in none of the board's namespaces, so "
                                      "there is nothing to stream; ask for a RoleBinding that allows it, or name "
                                      "a namespace with ?namespace="}
    board_app.extensions[board.NAMESPACE_FILTER] = lambda namespace: namespace == "other"
    chosen = board_app.test_client().get("/board/events?namespace=shop")
    assert chosen.status_code == 403
    assert chosen.json == {"error": "forbidden: may not list tickets in namespace shop, so there is nothing to stream"}
    assert board_app.extensions["k8sta.streams"].open() == 0  # refused before a slot was taken
    assert board_app.test_client().get("/board/events?namespace=other").status_code == 200


@pytest.fixture
def capped(unreachable_kubeconfig: Path) -> Iterator[tuple[Flask, str]]:
    """A fed board with small caps, served by a threaded server (one thread per stream, as gunicorn's)."""
    app = create_app({"TESTING": True, "KUBECONFIG": str(unreachable_kubeconfig), "BOARD_WATCH": False,
                      "BOARD_MAX_STREAMS": 3, "BOARD_MAX_STREAMS_PER_IDENTITY": 2, "BOARD_KEEPALIVE_SECONDS": 0.05})
    app.extensions[board.NAMESPACE_FILTER] = lambda namespace: True

    def authenticate() -> None:  # the user is named by a header here; web.auth names it by its token
        g.k8sta_identity = authz.Identity(request.headers["X-Test-User"])
    app.extensions[board.AUTHENTICATE] = authenticate
    hub = hub_of(app)
    for kind in ("Track", "Station", "Ticket"):
        hub.feed(kind, [])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        hub.stop()
        server.shutdown()
        thread.join(timeout=10)


def open_stream(url: str, user: str) -> requests.Response:
    return requests.get(f"{url}/board/events?namespace=shop", headers={"X-Test-User": user}, stream=True, timeout=10)


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_streams_are_capped_per_user_and_per_process(capped: tuple[Flask, str]) -> None:
    app, url = capped
    slots = app.extensions["k8sta.streams"]
    alice = [open_stream(url, "alice") for _ in range(2)]
    assert [r.status_code for r in alice] == [200, 200] and slots.open("alice") == 2
    third = open_stream(url, "alice")
    assert third.status_code == 429 and third.headers["Retry-After"] == "10"
    assert third.json() == {"error": "too many live board streams for user alice (2); close another board tab or "
                                     "try again shortly (K8STA_BOARD_MAX_STREAMS_PER_IDENTITY)"}
    bob = open_stream(url, "bob")
    assert bob.status_code == 200 and slots.open() == 3
    full = open_stream(url, "carol")
    assert full.status_code == 429
    assert full.json()["error"] == ("too many live board streams on this server (3); try again shortly "
                                    "(K8STA_BOARD_MAX_STREAMS)")
    alice[0].close()  # a stream whose client left frees its slot (found at the next keepalive)
    wait_until(lambda: slots.open("alice") == 1, "a closed stream kept its slot")
    carol = open_stream(url, "carol")
    assert carol.status_code == 200
    for response in (alice[1], bob, carol):
        response.close()
    wait_until(lambda: slots.open() == 0, "closed streams kept their slots")


@pytest.mark.parametrize("key", ["BOARD_MAX_STREAMS", "BOARD_MAX_STREAMS_PER_IDENTITY"])
@pytest.mark.parametrize("value", [0, "x", -3, True])
def test_a_stream_cap_must_be_a_positive_count(unreachable_kubeconfig: Path, key: str, value: Any) -> None:
    with pytest.raises(SettingsError, match=f"K8STA_{key} must be a whole number of at least 1"):
        offline_app(unreachable_kubeconfig, **{key: value})


# -- webhooks: a Track's secret stays on its Track; a replay forces no poll ----------------------------------

SECRETS = """
- {namespace: shop, token: shop-secret}
- {namespace: shop, track: api, token: api-only}
"""
GIT = "https://git.example/shop/config.git"


def nudge_app(unreachable_kubeconfig: Path, tmp_path: Path, **config: Any) -> tuple[Flask, FakeStore]:
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text(SECRETS)
    app = offline_app(unreachable_kubeconfig, WEBHOOK_TOKEN=None, WEBHOOK_SECRETS_FILE=str(secrets_file), **config)
    api, web = subscription("api", "acme/api", ["api"], "shop"), subscription("web", "acme/api", ["web"], "shop")
    for obj in (api, web):
        obj["spec"] = {"tracks": obj["spec"]["tracks"], "config": {"repoURL": GIT}}
    return app, install(app, FakeStore(api, web))


def push(app: Flask, token: str, query: str = "") -> Any:
    return app.test_client().post(f"/webhooks/nudge{query}", data=json.dumps({"repoURL": GIT}),
                                  headers={"Content-Type": "application/json", "X-K8sTA-Token": token})


@pytest.mark.parametrize(("token", "query", "nudged"), [
    ("api-only", "", ["api"]),
    ("api-only", "?track=api", ["api"]),
    ("shop-secret", "", ["api", "web"]),
    ("shop-secret", "?track=web", ["web"]),
], ids=["track-secret", "track-secret-naming-its-track", "namespace-secret", "namespace-secret-one-track"])
def test_a_nudge_stays_inside_the_secrets_track(unreachable_kubeconfig: Path, tmp_path: Path, token: str,
                                                query: str, nudged: list[str]) -> None:
    app, store = nudge_app(unreachable_kubeconfig, tmp_path)
    response = push(app, token, query)
    assert response.status_code == 202 and response.json == {"nudged": nudged}
    assert set(store.nudged()) == {f"shop/{name}" for name in nudged}


@pytest.mark.parametrize(("query", "error"), [
    ("?track=web", "this webhook secret cannot nudge subscriptions of track web in namespace shop"),
    ("?namespace=bank&track=api", "this webhook secret cannot nudge subscriptions of track api in namespace bank"),
], ids=["other-track", "other-namespace"])
def test_a_track_secret_cannot_nudge_another_track(unreachable_kubeconfig: Path, tmp_path: Path, query: str,
                                                   error: str) -> None:
    app, store = nudge_app(unreachable_kubeconfig, tmp_path)
    response = push(app, "api-only", query)
    assert response.status_code == 403 and response.json == {"error": error}
    assert store.calls == [] and store.nudged() == {}  # refused before the API was asked


def test_a_bad_track_name_is_a_400(unreachable_kubeconfig: Path, tmp_path: Path) -> None:
    app, store = nudge_app(unreachable_kubeconfig, tmp_path)
    response = push(app, "shop-secret", "?track=Not_A_Name")
    assert response.status_code == 400 and "track name 'Not_A_Name' is not a valid Kubernetes name" in response.json[
        "error"]
    assert store.calls == []


def test_a_replayed_webhook_forces_no_second_poll(unreachable_kubeconfig: Path, tmp_path: Path) -> None:
    app, store = nudge_app(unreachable_kubeconfig, tmp_path, WEBHOOK_DEBOUNCE_SECONDS=600)
    assert push(app, "api-only").status_code == 202
    stamp = store.nudged()["shop/api"]
    for _ in range(3):
        again = push(app, "api-only")
        assert again.status_code == 200
        assert again.json == {"nudged": [], "debounced": ["api"],
                              "message": "nudged moments ago; their pollers are already reading (not nudged again)"}
    assert store.nudged() == {"shop/api": stamp}
    assert [c for c in store.calls if c[0] == "nudge_subscription"] == [("nudge_subscription", "shop", "api")]
    # A wider push nudges what was not nudged yet and leaves the recent one alone.
    wider = push(app, "shop-secret")
    assert wider.status_code == 202 and wider.json == {"nudged": ["web"], "debounced": ["api"]}
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'k8sta_webhook_requests_total{outcome="debounced",source="generic"} 3.0' in metrics


def test_without_debounce_every_webhook_nudges(unreachable_kubeconfig: Path, tmp_path: Path) -> None:
    app, store = nudge_app(unreachable_kubeconfig, tmp_path, WEBHOOK_DEBOUNCE_SECONDS=0)
    assert [push(app, "api-only").status_code for _ in range(2)] == [202, 202]
    assert len([c for c in store.calls if c[0] == "nudge_subscription"]) == 2


NOW = codec.parse_time("2027-01-15T08:00:00Z")


@pytest.mark.parametrize(("stamp", "debounce", "recent"), [
    (None, 10, False),
    ("2027-01-15T07:59:50Z", 10, False),  # exactly the window ago: nudge again
    ("2027-01-15T07:59:51Z", 10, True),
    ("2027-01-15T07:59:51Z", 0, False),  # debounce off
    ("2027-01-15T08:00:05Z", 10, True),  # another replica's clock ahead of ours: still recent
    ("not a time", 10, False),
], ids=["never", "window-ago", "9s-ago", "debounce-off", "future", "garbage"])
def test_recently(stamp: str | None, debounce: float, recent: bool) -> None:
    assert nudges.recently(stamp, NOW, debounce) is recent
