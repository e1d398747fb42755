"""The board's pure parts: its state (which Tracks a change affects), the SVG picture (what it says,
and that nothing a user wrote can become markup) and the hub's change log that feeds SSE clients."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from k8sta_daemon.core import model, station_status
from k8sta_daemon.web.boardwatch import LOG_SIZE, Hub
from k8sta_daemon.web.sansio import svg
from k8sta_daemon.web.sansio.boardstate import BoardState, pending_gate
from k8sta_devstack import boardworld as bw

NS = "shop"
MAIN = model.TrackRef(NS, "main-line")
EU = model.TrackRef(NS, "eu")


def world() -> bw.World:
    w = bw.World()
    w.stations += [bw.station(NS, "dev", ["dev-api"]),
                   bw.station(NS, "staging", ["staging-api"], approvalRequired=True),
                   bw.station(NS, "prod", ["prod-api"], tracks=["eu"]), bw.station(NS, "eu-1", ["eu1"])]
    w.tracks += [bw.track(NS, "main-line", ["dev", "staging", "prod"]), bw.track(NS, "eu", ["eu-1"])]
    w.tickets += [
        bw.ticket(NS, "api-7", "main-line", state="AwaitingApproval", station_name="dev",
                  message="waiting for approval to depart into station staging", journey=[bw.record("dev", "Arrived")]),
        bw.ticket(NS, "api-8", "main-line", message="waiting to board track main-line: held by ticket api-7",
                  created="2026-12-01T10:01:00Z"),
        bw.ticket(NS, "api-5", "main-line", state="Failed", message="failed at station prod: argocd/prod-api: Degraded",
                  journey=[bw.record("prod", "Failed")], created="2026-12-01T09:00:00Z"),
        bw.ticket(NS, "api-6-eu", "eu", state="Suspended", station_name="eu-1", parent="api-6",
                  message="waiting at station eu-1: argocd/eu1: Suspended (rollout paused)",
                  journey=[bw.record("eu-1")]),
    ]
    return w


def fed() -> BoardState:
    state = BoardState()
    for kind, items in world().lists().items():
        state.replace_all(kind, items)
    return state


# -- state ------------------------------------------------------------------------------------------


def test_a_ticket_change_affects_only_its_own_track() -> None:
    state = fed()
    moved = bw.ticket(NS, "api-7", "main-line", state="Deploying", station_name="staging",
                      message="deploying at station staging")
    assert state.apply("Ticket", "MODIFIED", moved) == {MAIN}
    assert state.ticket(NS, "api-7").status.station == "staging"
    assert state.apply("Ticket", "DELETED", moved) == {MAIN}
    assert state.ticket(NS, "api-7") is None
    assert state.apply("Ticket", "DELETED", moved) == set()


def test_a_station_change_affects_every_track_through_it_and_no_other() -> None:
    state = fed()
    assert state.apply("Station", "MODIFIED", bw.station(NS, "prod", ["prod-api"], disabled=True)) == {MAIN}
    assert state.apply("Station", "MODIFIED", bw.station(NS, "unused", [])) == set()
    assert state.apply("Station", "MODIFIED", bw.station("elsewhere", "prod", [])) == set()


def test_a_relist_counts_only_objects_whose_version_changed_or_that_vanished() -> None:
    w = world()
    state = BoardState()
    for kind, items in w.lists().items():
        state.replace_all(kind, items)
    assert state.replace_all("Ticket", w.tickets) == set()
    assert state.replace_all("Ticket", [t for t in w.tickets if t["metadata"]["name"] != "api-6-eu"]) == {EU}
    assert state.replace_all("Track", [w.tracks[0]]) == {EU}
    assert state.track_view(EU) is None


def test_a_malformed_object_is_dropped_not_fatal() -> None:
    state = fed()
    broken = bw.ticket(NS, "api-7", "main-line")
    del broken["spec"]["snapshot"]
    assert state.apply("Ticket", "MODIFIED", broken) == {MAIN}
    assert state.ticket(NS, "api-7") is None


@pytest.mark.parametrize(("station", "approved", "disabled", "expected"), [
    ("dev", (), (), "staging"),
    ("dev", (), ("staging",), None),  # a disabled gate is passed, prod has none
    (None, (), (), None),  # boarding: dev has no gate
    ("staging", (), (), None),
], ids=["next-is-gate", "disabled-gate-passed", "boarding-no-gate", "after-the-gate"])
def test_pending_gate_is_the_next_enabled_station(station: str | None, approved: tuple[str, ...],
                                                  disabled: tuple[str, ...], expected: str | None) -> None:
    track = model.TrackSpec(NS, "t", ("dev", "staging", "prod"))
    stations = {name: model.StationSpec(NS, name, approval_required=name == "staging", disabled=name in disabled)
                for name in track.stations}
    ticket = model.Ticket(NS, "api-1", "u", 0.0, "t", model.Snapshot(None), approved_stations=frozenset(approved),
                          status=model.TicketStatus(state=model.TicketState.AWAITING_APPROVAL, station=station))
    assert pending_gate(track, stations, ticket) == expected


# -- the picture ----------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> _Tags:
    tags = _Tags()
    tags.feed(html)
    return tags


def test_the_railway_shows_stations_in_order_trains_at_their_stations_and_the_cores_reasons() -> None:
    html = str(svg.render_track(fed().track_view(MAIN)))
    tags = parsed(html)
    names = [a["data-station"] for t, a in tags.tags if t == "g" and "data-station" in a]
    assert names == ["dev", "staging", "prod"]
    trains = {a["data-ticket"]: a["data-state"] for t, a in tags.tags if t == "a" and a.get("class") == "train"}
    assert trains == {"api-7": "AwaitingApproval", "api-8": "Waiting"}
    text = " ".join(tags.text)
    assert "waiting for approval to depart into station staging" in text  # the core's own words
    assert "held by ticket api-7" in text
    assert "approval pending: api-7" in text and 'class="gate pending"' in html
    assert "failed at station prod: argocd/prod-api: Degraded" in text  # Failed stays in sight with its reason
    assert "⇒ eu" in text and 'href="#track/shop/eu"' in html  # the junction links to the Track it feeds
    assert 'href="/board/tickets/shop/api-7"' in html


def test_a_station_at_rest_shows_what_runs_there_and_a_busy_one_its_train() -> None:
    state = fed()
    runs = station_status.StationStatus(
        station_status.Source.TICKET, model.Snapshot("3f2a9c1" + "0" * 33, (model.ImagePin("acme/api", "1.4.2"),)),
        ticket="api-6", track="main-line", arrived_at=1_796_000_000)
    for name in ("dev", "prod"):
        obj = bw.station(NS, name, [f"{name}-api"], **({"tracks": ["eu"]} if name == "prod" else {}))
        obj["status"] = station_status.to_dict(runs)
        obj["metadata"]["resourceVersion"] = "2"
        assert state.apply("Station", "MODIFIED", obj) == {MAIN}  # its status is part of the picture
    tags = parsed(str(svg.render_track(state.track_view(MAIN))))
    shown = [text for text in tags.text if text.startswith(("3f2a9c1", "from "))]
    assert shown == ["3f2a9c1 api:1.4.2", "from api-6"]  # prod is at rest; api-7 stands at dev
    assert state.track_view(MAIN).view["stations"][0]["runs"]["ticket"] == "api-6"


def test_a_ticket_of_a_junction_names_its_parent() -> None:
    html = str(svg.render_track(fed().track_view(EU)))
    assert "Suspended (rollout paused)" in " ".join(parsed(html).text)
    assert 'href="/board/tickets/shop/api-6"' in html


EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>\'<svg onload=alert(3)>'


def test_nothing_a_user_or_argo_cd_wrote_becomes_markup() -> None:
    w = bw.World()
    w.stations.append(bw.station(NS, "dev", [], tracks=[EVIL]))
    w.tracks.append(bw.track(NS, "main-line", ["dev", EVIL], ready=False))
    w.tracks[0]["status"]["conditions"][0]["message"] = EVIL
    w.tickets.append(bw.ticket(NS, "api-1", "main-line", state="Suspended", station_name="dev", message=EVIL,
                               parent=EVIL))
    w.tickets.append(bw.ticket(NS, "api-2", "main-line", state="Failed", station_name=EVIL, message=EVIL))
    state = BoardState()
    for kind, items in w.lists().items():
        state.replace_all(kind, items)
    html = str(svg.render_track(state.track_view(MAIN)))
    tags = parsed(html)
    assert {t for t, _ in tags.tags} <= {"section", "header", "h2", "a", "span", "svg", "line", "text", "g", "rect",
                                         "circle", "path", "title", "ul", "li", "p", "details", "summary"}
    assert not [(t, k) for t, a in tags.tags for k in a if k.startswith("on")]
    assert "<script" not in html and "&lt;script&gt;" in html
    assert EVIL in " ".join(tags.text)  # shown, as text


# -- the hub's change log ---------------------------------------------------------------------------


def fed_hub() -> Hub:
    hub = Hub(clock=lambda: 1000.0)
    for kind, items in world().lists().items():
        hub.feed(kind, items)
    return hub


def test_the_hub_publishes_only_tracks_whose_picture_changed() -> None:
    hub = fed_hub()
    seq, fragments, namespaces = hub.snapshot(lambda ns: True)
    assert [f.ref for f in fragments] == [EU, MAIN] and namespaces == [NS] and hub.ready
    same = bw.ticket(NS, "api-7", "main-line", state="AwaitingApproval", station_name="dev",
                     message="waiting for approval to depart into station staging",
                     journey=[bw.record("dev", "Arrived")])
    assert hub.apply("Ticket", "MODIFIED", same) == 0  # new resourceVersion, same picture
    assert hub.changes_since(seq, 0) == (seq, [])
    moved = bw.ticket(NS, "api-7", "main-line", state="Deploying", station_name="staging",
                      message="deploying at station staging")
    assert hub.apply("Ticket", "MODIFIED", moved) == 1
    new_seq, changed = hub.changes_since(seq, 0)
    assert new_seq == seq + 1 and [f.ref for f in changed] == [MAIN]
    assert "deploying at station staging" in str(changed[0].html)
    assert '"id": "track/shop/main-line"' in changed[0].data and '"published": 1000000.0' in changed[0].data


def test_a_client_behind_the_log_gets_every_track_again() -> None:
    hub = fed_hub()
    start, _, _ = hub.snapshot(lambda ns: True)
    for n in range(LOG_SIZE + 5):
        hub.apply("Ticket", "MODIFIED", bw.ticket(NS, "api-8", "main-line", message=f"waiting, round {n}",
                                                  created="2026-12-01T10:01:00Z"))
    seq, changed = hub.changes_since(0, 0)
    assert seq == start + LOG_SIZE + 5 and {f.ref for f in changed} == {EU, MAIN}
    seq, changed = hub.changes_since(seq - 1, 0)
    assert [f.ref for f in changed] == [MAIN] and "round" in str(changed[0].html)


def test_a_deleted_track_is_published_as_gone() -> None:
    hub = fed_hub()
    seq, _, _ = hub.snapshot(lambda ns: True)
    hub.feed("Track", [t for t in world().tracks if t["metadata"]["name"] != "eu"])
    _, changed = hub.changes_since(seq, 0)
    assert [(f.ref, f.html) for f in changed] == [(EU, None)] and '"html": null' in changed[0].data


def test_a_held_track_shows_its_hold_before_the_first_station() -> None:
    """``k8sta hold`` (or a rollback) writes ``spec.hold``; the board draws it from the Track itself."""
    state = fed()
    view = state.track_view(MAIN)
    assert view.hold is None and "held:" not in str(svg.render_track(view))
    state.apply("Track", "MODIFIED", bw.track(NS, "main-line", ["dev", "staging", "prod"],
                                              hold={"reason": "rollback to api-3 by alice"}))
    held = str(svg.render_track(state.track_view(MAIN)))
    assert 'class="badge bad hold">held: rollback to api-3 by alice</span>' in held
    assert '<g class="hold"><title>held: rollback to api-3 by alice</title>' in held


def test_a_frozen_namespace_shows_on_every_track() -> None:
    """``k8sta freeze`` annotates the Tracks (``k8sta.io/freeze``); the board shows it in each header."""
    state = fed()
    assert "frozen" not in str(svg.render_track(state.track_view(MAIN)))
    frozen = bw.track(NS, "main-line", ["dev", "staging", "prod"])
    frozen["metadata"]["annotations"] = {"k8sta.io/freeze": "incident 7", "k8sta.io/frozen-by": "alice at 10:00"}
    state.apply("Track", "MODIFIED", frozen)
    shown = str(svg.render_track(state.track_view(MAIN)))
    assert ('class="badge bad frozen">namespace frozen: incident 7 (by alice at 10:00) (k8sta unfreeze)</span>'
            in shown)


@pytest.mark.parametrize(("reason", "lines"), [
    ("", []),
    ("deploying at station dev", ["deploying at station dev"]),
    ("deploying at station staging-eu-west", ["deploying at station", "staging-eu-west"]),
    ("waiting to board into station dev: held by ticket api-1",
     ["waiting to board into", "station dev: held by ticket…"]),
    ("x" * 40, ["x" * 27 + "…"]),
], ids=["empty", "one-line", "two-lines", "cut", "one-long-word"])
def test_reasons_under_a_train_wrap_at_words_and_say_when_cut(reason: str, lines: list[str]) -> None:
    assert svg._reason_lines(reason) == lines
