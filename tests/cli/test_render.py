"""Pure renderers: the railway picture of a Track and the journey of a Ticket, as plain text."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from k8sta_daemon.cli import journey, railway
from k8sta_daemon.core import model, station_status
from k8sta_daemon.ops import board

TS = model.TicketState
READY = model.Condition(model.ConditionType.READY, model.ConditionStatus.TRUE, model.ConditionReason.VALID, "")
NOT_READY = model.Condition(model.ConditionType.READY, model.ConditionStatus.FALSE,
                            model.ConditionReason.CYCLE_DETECTED, "api -> eu -> api")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SNAP = model.Snapshot("abc1234", (model.ImagePin("acme/api", "1.0"),))


def track(stations: Sequence[str] = ("dev", "staging", "prod"), *, name: str = "api",
          conditions: tuple[model.Condition, ...] = (READY,), disabled: bool = False) -> model.TrackSpec:
    return model.TrackSpec("k8sta", name, tuple(stations), conditions=conditions, disabled=disabled)


def stations(**extra: dict[str, object]) -> dict[str, model.StationSpec]:
    specs = {"dev": model.StationSpec("k8sta", "dev", (model.AppRef("argocd", "api-dev"),)),
             "staging": model.StationSpec("k8sta", "staging"),
             "prod": model.StationSpec("k8sta", "prod")}
    for name, fields in extra.items():
        specs[name] = model.StationSpec("k8sta", name, **fields)  # type: ignore[arg-type]
    return specs


def ticket(name: str, created: float, state: model.TicketState, station: str | None = None,
           last: str | None = None, track_name: str = "api") -> model.Ticket:
    records = (model.JourneyRecord(last, model.JourneyState.DEPARTED),) if last else ()
    return model.Ticket("k8sta", name, f"uid-{name}", created, track_name, SNAP,
                        status=model.TicketStatus(state=state, station=station, journey=records))


def picture(spec: model.TrackSpec, specs: dict[str, model.StationSpec], tickets: list[model.Ticket],
            colour: bool = False) -> str:
    return railway.render_track(board.track_json(spec, specs, tickets), colour=colour)


def test_the_full_picture() -> None:
    tickets = [ticket("api-9", 1, TS.COMPLETED, last="prod"), ticket("api-10", 2, TS.SOAKING, "staging"),
               ticket("api-11", 3, TS.DEPLOYING, "dev"), ticket("api-12", 4, TS.WAITING),
               ticket("api-13", 5, TS.WAITING)]
    specs = stations(staging={"soak_seconds": 60}, prod={"approval_required": True, "tracks": ("eu", "us")})
    assert picture(track(), specs, tickets) == "\n".join([
        "api · boarding NewestSupersedes · Ready",
        "  boarding   dev         staging    prod",
        "                         soak 60s   gate, ⇒ eu,us",
        "  ▷──────────●───────────●──────────○",
        "  api-12     api-11      api-10",
        "  Waiting    Deploying   Soaking",
        "  api-13",
        "  Waiting",
        "  recent: api-9 Completed at prod",
    ])


def test_an_empty_line() -> None:
    assert picture(track(), stations(), []) == "\n".join([
        "api · boarding NewestSupersedes · Ready",
        "  boarding   dev   staging   prod",
        "  ▷──────────○─────○─────────○",
    ])


@pytest.mark.parametrize(("spec", "specs", "tickets", "expected_lines"), [
    (track(), stations(), [ticket("api-1", 1, TS.DEPLOYING, "prod")], ["●", "api-1", "Deploying"]),
    (track(), stations(), [ticket("api-1", 1, TS.SUSPENDED, "staging")], ["Suspended"]),
    (track(), stations(), [ticket("api-1", 1, TS.AWAITING_APPROVAL, "staging")], ["AwaitingApproval"]),
    (track(), stations(), [ticket("api-1", 1, TS.AWAITING_APPROVAL)], ["api-1", "AwaitingApproval"]),
    (track(), stations(), [ticket("api-1", 1, TS.FAILED, last="staging")], ["recent: api-1 Failed at staging"]),
    (track(), stations(), [ticket("api-1", 1, TS.SUPERSEDED)], ["recent: api-1 Superseded"]),
    (track(), stations(), [ticket(f"api-{i}", i, TS.COMPLETED, last="prod") for i in range(1, 6)],
     ["recent: api-5 Completed at prod · api-4 Completed at prod · api-3 Completed at prod"]),
    (track(), stations(dev={"disabled": True}), [], ["disabled", "▷──────────x"]),
    (track(("dev", "qa")), stations(), [], ["not found", "?"]),
    (track(), stations(), [ticket("api-1", 1, TS.DEPLOYING, "old-station")], ["old-station", "off track"]),
    (track(conditions=(NOT_READY,)), stations(), [], ["not ready: CycleDetected (api -> eu -> api)"]),
    (track(conditions=()), stations(), [], ["readiness unknown"]),
    (track(disabled=True), stations(), [], ["· disabled ·"]),
    (track(), stations(), [ticket("web-1", 1, TS.DEPLOYING, "dev", track_name="web")], ["○─────○"]),
], ids=["occupied-marker", "suspended", "awaiting-approval-at-station", "awaiting-approval-before-boarding",
        "failed-is-recent", "superseded-without-journey", "recent-is-newest-three", "disabled-station",
        "missing-station", "off-track-ticket", "not-ready", "no-condition-yet", "disabled-track",
        "other-track-not-shown"])
def test_picture_shows(spec: model.TrackSpec, specs: dict[str, model.StationSpec], tickets: list[model.Ticket],
                       expected_lines: list[str]) -> None:
    text = picture(spec, specs, tickets)
    for expected in expected_lines:
        assert expected in text
    assert "\x1b[" not in text


@pytest.mark.parametrize("state", list(TS), ids=[s.value for s in TS])
def test_colour_wraps_text_without_moving_columns(state: model.TicketState) -> None:
    tickets = [ticket("api-1", 1, state, None if state.terminal else "dev", last="dev" if state.terminal else None)]
    plain = picture(track(), stations(), tickets)
    coloured = picture(track(), stations(), tickets, colour=True)
    assert "\x1b[" in coloured
    assert ANSI.sub("", coloured) == plain


def test_columns_line_up_under_long_names() -> None:
    tickets = [ticket("api-with-a-very-long-name-1", 1, TS.DEPLOYING, "dev")]
    lines = picture(track(), stations(), tickets).splitlines()
    header, rail, name = lines[1], lines[2], lines[3]
    assert header.index("staging") == rail.index("○") == name.index("api-with") + len("api-with-a-very-long-name-1") + 3


def test_no_tracks() -> None:
    assert railway.render_tracks([]) == "no tracks found"


def test_several_tracks_are_separated_by_a_blank_line() -> None:
    views = [board.track_json(track(name=n), stations(), []) for n in ("api", "web")]
    assert "\n\n" + "web · " in railway.render_tracks(views)


# -- the journey of one ticket -----------------------------------------------------------------

T0 = 1764150000.0
PUSHED = model.PushedCommit(model.AppRef("argocd", "api-dev"), "file:///repo.git", "env/dev", "0123456789abcdef" * 2)


def test_journey_shows_times_commits_skipped_and_children() -> None:
    records = (
        model.JourneyRecord("dev", model.JourneyState.DEPARTED, entered_at=T0, arrived_at=T0 + 35,
                            departed_at=T0 + 100, pushed=(PUSHED,),
                            skipped_applications=(model.AppRef("argocd", "api-dev-eu"),)),
        model.JourneyRecord("staging", model.JourneyState.ENTERED, entered_at=T0 + 100, message="syncing"),
    )
    status = model.TicketStatus(state=TS.DEPLOYING, station="staging", journey=records, children=("api-1-eu",))
    one = model.Ticket("k8sta", "api-1", "uid", T0 - 10, "api", SNAP, parent="main-4", status=status,
                       approved_stations=frozenset({"prod"}))
    assert journey.render_ticket(board.ticket_json(one)) == "\n".join([
        "Ticket:     k8sta/api-1",
        "Track:      api",
        "State:      Deploying at staging",
        "Created:    2025-11-26 09:39:50Z",
        "Config:     abc1234",
        "Images:     acme/api:1.0",
        "Parent:     main-4",
        "Children:   api-1-eu",
        "Approved:   prod",
        "",
        "Journey:",
        "  dev      Departed",
        "      entered 2025-11-26 09:40:00Z, arrived 2025-11-26 09:40:35Z, departed 2025-11-26 09:41:40Z",
        "      pushed argocd/api-dev: env/dev @ 0123456789ab (file:///repo.git)",
        "      skipped argocd/api-dev-eu",
        "  staging  Entered",
        "      entered 2025-11-26 09:41:40Z",
        "      syncing",
    ])


@pytest.mark.parametrize(("ticket_", "expected"), [
    (model.Ticket("k8sta", "a-1", "u", T0, "a", model.Snapshot(None)),
     ["Config:     (source branch tip)", "Images:     (none)", "Journey:    not boarded yet"]),
    (model.Ticket("k8sta", "a-1", "u", T0, "a", SNAP, retry_count=2), ["Retries:    2"]),
    (model.Ticket("k8sta", "a-1", "u", T0, "a", SNAP, abandon=True), ["Abandon:    requested"]),
    (model.Ticket("k8sta", "a-1", "u", T0, "a", SNAP, status=model.TicketStatus(
        state=TS.FAILED, message="Degraded past grace", conditions=(model.Condition(
            model.ConditionType.BLOCKED, model.ConditionStatus.TRUE, model.ConditionReason.TRACK_DISABLED,
            "track a is disabled"),))),
     ["State:      Failed", "Message:    Degraded past grace",
      "Condition:  Blocked=True TrackDisabled: track a is disabled"]),
], ids=["not-boarded", "retried", "abandon-requested", "failed-with-condition"])
def test_journey_header_lines(ticket_: model.Ticket, expected: list[str]) -> None:
    text = journey.render_ticket(board.ticket_json(ticket_))
    for line in expected:
        assert line in text.splitlines()


def test_events_follow_the_journey() -> None:
    view = {**board.ticket_json(model.Ticket("k8sta", "a-1", "u", T0, "a", SNAP)), "events": [
        board.event_json(T0 + 1, "Normal", "Created", "created by alice via k8sta CLI", 1, "k8sta-controller"),
        board.event_json(T0 + 9, "Warning", "RetryRefused", "retry refused: a newer ticket holds dev", 3, "x"),
    ]}
    lines = journey.render_ticket(view).splitlines()
    assert lines[-3:] == [
        "Events:",
        "  2025-11-26 09:40:01Z  Normal   Created       created by alice via k8sta CLI",
        "  2025-11-26 09:40:09Z  Warning  RetryRefused  retry refused: a newer ticket holds dev (x3)",
    ]
    assert "Events:" not in journey.render_ticket({**view, "events": []})


def test_a_station_at_rest_shows_what_runs_there() -> None:
    runs = {"prod": station_status.StationStatus(station_status.Source.TICKET, SNAP, ticket="api-9", track="api",
                                                 arrived_at=100),
            "staging": station_status.StationStatus(station_status.Source.APP_BRANCH, SNAP)}
    tickets = [ticket("api-9", 1, TS.COMPLETED, last="prod"), ticket("api-11", 3, TS.DEPLOYING, "dev")]
    view = board.track_json(track(), stations(), tickets, {name: board.runs_json(r) for name, r in runs.items()})
    assert railway.render_track(view) == "\n".join([
        "api · boarding NewestSupersedes · Ready",
        "  boarding   dev         staging                prod",
        "  ▷──────────●───────────○──────────────────────○",
        "             api-11      runs abc1234 api:1.0   runs abc1234 api:1.0",
        "             Deploying   from app branches      from api-9",
        "  recent: api-9 Completed at prod",
    ])
    assert view["stations"][2]["runs"]["ticket"] == "api-9" and view["stations"][0]["runs"] is None
