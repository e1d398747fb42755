"""The board through Flask's test client: the page, the namespace filter, the SSE stream, the slots
authentication fills (here: everyone sees everything; ``tests/browser`` uses real tokens and RBAC), and
a clear 503 when the API cannot be read. The board here is fed in memory (``K8STA_BOARD_WATCH=false``)
with the objects a watch would deliver; ``tests/browser`` drives the real thing on the real stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Response

from k8sta_daemon.web import board, boardwatch, create_app
from k8sta_devstack import boardworld as bw

from .test_board_sansio import EVIL, NS, world


@pytest.fixture
def app(unreachable_kubeconfig: Path) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "KUBECONFIG": str(unreachable_kubeconfig), "BOARD_WATCH": False,
                      "BOARD_STREAM_SECONDS": 0.3, "BOARD_KEEPALIVE_SECONDS": 0.1})
    open_board(app)
    hub: boardwatch.Hub = app.extensions[boardwatch.EXTENSION]
    w = world()
    w.stations.append(bw.station("other", "only", []))
    w.tracks.append(bw.track("other", "solo", ["only"]))
    for kind, items in w.lists().items():
        hub.feed(kind, items)
    yield app
    hub.stop()


def open_board(app: Flask) -> None:
    """No caller to authenticate: every namespace visible (the slots ``web.auth`` fills by default)."""
    app.extensions[board.AUTHENTICATE] = lambda: None
    app.extensions[board.NAMESPACE_FILTER] = lambda namespace: True


def hub_of(app: Flask) -> boardwatch.Hub:
    return app.extensions[boardwatch.EXTENSION]


def test_the_board_lists_every_track_with_its_railway(app: Flask) -> None:
    page = app.test_client().get("/board/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    body = page.get_data(as_text=True)
    for track in ("track/shop/main-line", "track/shop/eu", "track/other/solo"):
        assert f'id="{track}"' in body
    assert body.count("<svg") == 3 and "waiting for approval to depart into station staging" in body
    assert '<script src="/board/static/board.js" defer></script>' in body
    assert 'data-events="/board/events?since=' in body
    assert app.test_client().get("/board/static/board.js").status_code == 200


def test_the_namespace_filter_shows_one_namespace_and_streams_only_it(app: Flask) -> None:
    body = app.test_client().get("/board/?namespace=other").get_data(as_text=True)
    assert 'id="track/other/solo"' in body and "track/shop/" not in body
    assert '<option value="other" selected>' in body and "1 track in namespace other" in body
    assert "/board/events?namespace=other&amp;since=" in body
    seq, _, _ = hub_of(app).snapshot(lambda ns: True)
    hub_of(app).apply("Ticket", "ADDED", bw.ticket(NS, "api-9", "main-line", message="waiting to board"))
    stream = app.test_client().get(f"/board/events?namespace=other&since={seq}").get_data(as_text=True)
    assert "event: track" not in stream and ": keepalive" in stream


def test_a_namespace_in_the_query_is_shown_as_text(app: Flask) -> None:
    body = app.test_client().get("/board/", query_string={"namespace": EVIL}).get_data(as_text=True)
    assert "<script>alert" not in body and "no tracks found in namespace &#34;&gt;&lt;script&gt;" in body


def test_the_stream_sends_each_changed_track_once_with_its_new_picture(app: Flask) -> None:
    seq, _, _ = hub_of(app).snapshot(lambda ns: True)
    hub_of(app).apply("Ticket", "MODIFIED", bw.ticket(
        NS, "api-7", "main-line", state="Deploying", station_name="staging", message="deploying at station staging",
        journey=[bw.record("dev", "Departed"), bw.record("staging")], approvedStations=["staging"]))
    response = app.test_client().get(f"/board/events?since={seq}")
    assert response.mimetype == "text/event-stream" and response.headers["Cache-Control"] == "no-cache"
    events = [e for e in response.get_data(as_text=True).split("\n\n") if e.startswith("id:")]
    assert len(events) == 1
    assert events[0].startswith(f"id: {seq + 1}\nevent: track\ndata: ")
    assert '"id": "track/shop/main-line"' in events[0] and "deploying at station staging" in events[0]
    # a reconnect names the last id it saw (Last-Event-ID wins over ?since=): nothing is sent twice
    again = app.test_client().get("/board/events?since=0", headers={"Last-Event-ID": str(seq + 1)})
    assert "event: track" not in again.get_data(as_text=True)
    # a page rendered before the change catches up from its own sequence number
    caught_up = app.test_client().get("/board/events", headers={"Last-Event-ID": "0"}).get_data(as_text=True)
    assert caught_up.count("event: track") == 3


def test_a_bad_last_event_id_is_a_400(app: Flask) -> None:
    response = app.test_client().get("/board/events", headers={"Last-Event-ID": "x"})
    assert response.status_code == 400 and b"must be integers" in response.data


def test_the_auth_slots_decide_who_sees_what(app: Flask) -> None:
    app.extensions[board.NAMESPACE_FILTER] = lambda namespace: namespace == "other"
    body = app.test_client().get("/board/").get_data(as_text=True)
    assert 'id="track/other/solo"' in body and "track/shop/" not in body and '<option value="shop"' not in body
    seq, _, _ = hub_of(app).snapshot(lambda ns: True)
    hub_of(app).apply("Ticket", "ADDED", bw.ticket(NS, "api-9", "main-line", message="waiting to board"))
    assert "event: track" not in app.test_client().get(f"/board/events?since={seq}").get_data(as_text=True)
    ticket = app.test_client().get("/board/tickets/shop/api-7")
    assert ticket.status_code == 403 and b"namespace shop" in ticket.data  # before anything is read
    app.extensions[board.AUTHENTICATE] = lambda: Response("no token", status=401)
    for path in ("/board/", "/board/events", "/board/tickets/other/x"):
        assert app.test_client().get(path).status_code == 401


def test_without_a_token_the_board_answers_401(unreachable_kubeconfig: Path) -> None:
    app = create_app({"TESTING": True, "KUBECONFIG": str(unreachable_kubeconfig), "BOARD_WATCH": False})
    for path in ("/board/", "/board/events", "/board/tickets/shop/api-1"):
        response = app.test_client().get(path)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_without_the_api_the_board_says_why(unreachable_kubeconfig: Path) -> None:
    app = create_app({"TESTING": True, "KUBECONFIG": str(unreachable_kubeconfig), "BOARD_READY_SECONDS": 0.5})
    open_board(app)
    try:
        response = app.test_client().get("/board/")
        assert response.status_code == 503 and response.mimetype == "text/html"
        assert "the Kubernetes API did not answer" in response.get_data(as_text=True)
        ticket = app.test_client().get("/board/tickets/shop/api-1")
        assert ticket.status_code == 503 and b"reading Ticket shop/api-1" in ticket.data
    finally:
        hub_of(app).stop()
