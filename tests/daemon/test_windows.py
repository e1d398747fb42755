"""Freeze windows and stop-the-line: ``core.windows`` (pure, on a given clock), the codec's field
errors, and ``decide`` with closed windows, a window pass and a frozen namespace."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from k8sta_daemon.core import actions, codec, decide, model, windows

from .sim import NS, Sim, snapshot, station, track

St = model.TicketState
W = windows.Window
DENY, ALLOW = windows.Kind.DENY, windows.Kind.ALLOW
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


def berlin(*parts: int) -> float:
    return datetime(*parts, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


NIGHTLY = W(DENY, schedule="0 22 * * *", duration=8 * 3600, timezone="Europe/Berlin", reason="nightly batch")


# -- evaluating windows ---------------------------------------------------------------------------


@pytest.mark.parametrize("scopes, now, until", [
    pytest.param([NIGHTLY], berlin(2026, 6, 1, 23, 0), berlin(2026, 6, 2, 6, 0), id="cron-deny-open-until-its-end"),
    pytest.param([NIGHTLY], berlin(2026, 6, 1, 22, 0), berlin(2026, 6, 2, 6, 0), id="cron-deny-start-is-inside"),
    pytest.param([NIGHTLY], berlin(2026, 6, 2, 6, 0), None, id="cron-deny-end-is-outside"),
    pytest.param([NIGHTLY], berlin(2026, 6, 1, 21, 59), None, id="cron-deny-before-start"),
    # 28 March 2026 22:00 CET + 8 elapsed hours = 29 March 07:00 CEST (clocks went forward at 02:00)
    pytest.param([NIGHTLY], berlin(2026, 3, 29, 5, 0), berlin(2026, 3, 29, 7, 0), id="duration-is-elapsed-across-dst"),
    # 02:30 does not exist on 29 March 2026 in Berlin: cron fires at 03:00 CEST (01:00 UTC)
    pytest.param([W(DENY, schedule="30 2 * * *", duration=3600, timezone="Europe/Berlin")],
                 utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 0), id="start-in-the-skipped-hour-fires-after-it"),
    pytest.param([W(DENY, schedule="30 2 * * *", duration=3600, timezone="Europe/Berlin")],
                 utc(2026, 3, 29, 0, 45), None, id="skipped-hour-nothing-before-it"),
    pytest.param([W(DENY, start=utc(2026, 12, 24), end=utc(2026, 12, 27))], utc(2026, 12, 25),
                 utc(2026, 12, 27), id="absolute-deny-inside"),
    pytest.param([W(DENY, start=utc(2026, 12, 24), end=utc(2026, 12, 27))], utc(2026, 12, 27), None,
                 id="absolute-deny-end-exclusive"),
    pytest.param([W(ALLOW, schedule="0 9 * * 1-5", duration=8 * 3600)], utc(2026, 6, 6, 12), utc(2026, 6, 8, 9),
                 id="allow-outside-waits-for-the-next-opening-saturday-to-monday"),
    pytest.param([W(ALLOW, schedule="0 9 * * 1-5", duration=8 * 3600)], utc(2026, 6, 8, 12), None,
                 id="allow-inside-enters"),
    pytest.param([W(ALLOW, start=utc(2026, 1, 1), end=utc(2026, 1, 2))], utc(2026, 6, 1), -1,
                 id="allow-never-again-no-opening-in-sight"),
    pytest.param([W(DENY, start=utc(2026, 1, 1, 10), end=utc(2026, 1, 1, 11)),
                  W(DENY, start=utc(2026, 1, 1, 11), end=utc(2026, 1, 1, 12))], utc(2026, 1, 1, 10, 30),
                 utc(2026, 1, 1, 12), id="deny-windows-back-to-back-chain"),
    pytest.param([W(ALLOW, schedule="0 9 * * *", duration=8 * 3600),
                  W(DENY, schedule="0 9 * * *", duration=3600)], utc(2026, 6, 1, 8), utc(2026, 6, 1, 10),
                 id="allow-opens-into-a-deny-waits-for-both"),
])
def test_closed_until(scopes: list[windows.Window], now: float, until: float | None) -> None:
    shut = windows.closed([windows.Scope("track line", tuple(scopes))], now)
    if until is None:
        assert shut is None
    else:
        assert shut is not None and shut.until == (None if until == -1 else until)
        assert ("no opening in sight" if until == -1 else f"until {decide._iso(until)}") in shut.message()


def test_station_and_track_windows_both_apply_each_with_its_own_allow_set() -> None:
    """The Station's Allow windows do not widen the Track's: entry needs both open; the message names
    the one closed now, the Station's first."""
    track_allow = windows.Scope("track line", (W(ALLOW, schedule="0 9 * * *", duration=8 * 3600),))
    station_allow = windows.Scope("station prod", (W(ALLOW, schedule="0 14 * * *", duration=6 * 3600),))
    at_ten = windows.closed([station_allow, track_allow], utc(2026, 6, 1, 10))
    assert at_ten is not None and at_ten.why.startswith("station prod: outside every allow window")
    assert at_ten.until == utc(2026, 6, 1, 14)
    at_six = windows.closed([station_allow, track_allow], utc(2026, 6, 1, 6))
    assert at_six is not None and at_six.until == utc(2026, 6, 1, 14)
    assert windows.closed([station_allow, track_allow], utc(2026, 6, 1, 15)) is None
    assert windows.closed([station_allow, track_allow], utc(2026, 6, 1, 18)) is not None  # the Track's closed


# -- the codec: bad windows name their field --------------------------------------------------------


def _station(windows_spec: list[dict[str, object]]) -> dict[str, object]:
    return {"metadata": {"name": "prod", "namespace": NS}, "spec": {"applications": [{"name": "a"}],
                                                                  "windows": windows_spec}}


@pytest.mark.parametrize("entry, error", [
    pytest.param({"kind": "Deny", "schedule": "0 25 * * *", "duration": "1h"},
                 "spec.windows[0].schedule: '0 25 * * *' is not a cron expression", id="bad-cron"),
    pytest.param({"kind": "Deny", "schedule": "0 1 * * * *", "duration": "1h"},
                 "spec.windows[0].schedule: '0 1 * * * *' must be a 5-field cron", id="six-fields"),
    pytest.param({"kind": "Deny", "schedule": "0 1 * * *", "duration": "1h", "timeZone": "Mars/Olympus"},
                 "spec.windows[0].timeZone: 'Mars/Olympus' is not an IANA time zone", id="unknown-timezone"),
    pytest.param({"kind": "Deny", "from": "2026-12-27T00:00:00Z", "to": "2026-12-24T00:00:00Z"},
                 "spec.windows[0].to: 2026-12-24T00:00:00Z must be after from", id="to-before-from"),
    pytest.param({"kind": "Deny", "schedule": "0 1 * * *", "duration": "1 hour"},
                 "spec.windows[0].duration: must be a duration such as 2h", id="bad-duration"),
    pytest.param({"kind": "Deny", "schedule": "0 1 * * *"},
                 "spec.windows[0].duration: must be positive", id="schedule-without-duration"),
    pytest.param({"kind": "Sometimes", "from": "2026-12-24T00:00:00Z", "to": "2026-12-27T00:00:00Z"},
                 "spec.windows[0].kind: must be one of Deny, Allow", id="unknown-kind"),
    pytest.param({"kind": "Allow", "from": "2026-12-24T00:00:00Z"},
                 "spec.windows[0].to: give a schedule with a duration, or both from and to", id="from-without-to"),
])
def test_codec_names_the_field_of_a_bad_window(entry: dict[str, object], error: str) -> None:
    with pytest.raises(codec.MalformedObject, match="Station team/prod: ") as raised:
        codec.station_from_dict(_station([{"kind": "Allow", "schedule": "0 9 * * *", "duration": "8h"}, entry]))
    assert error.replace("[0]", "[1]") in str(raised.value)


def test_codec_reads_windows_freeze_and_window_pass() -> None:
    spec = codec.station_from_dict(_station([
        {"kind": "Deny", "schedule": "0 22 * * 5", "duration": "60h", "timeZone": "Europe/Berlin", "reason": "weekend"},
        {"kind": "Allow", "from": "2026-12-01T00:00:00+01:00", "to": "2026-12-20T00:00:00Z"}]))
    assert spec.windows == (W(DENY, "0 22 * * 5", 60 * 3600, "Europe/Berlin", reason="weekend"),
                            W(ALLOW, start=utc(2026, 11, 30, 23), end=utc(2026, 12, 20)))
    line = codec.track_from_dict({"metadata": {"name": "line", "namespace": NS, "annotations": {
        codec.FREEZE_ANNOTATION: "incident 42", codec.FROZEN_BY_ANNOTATION: "alice at 2026-06-01T10:00:00Z"}},
        "spec": {"stations": ["prod"]}})
    assert line.freeze == "incident 42 (by alice at 2026-06-01T10:00:00Z)"
    meta = {"name": "t", "namespace": NS, "creationTimestamp": "2026-06-01T10:00:00Z"}
    ticket = codec.ticket_from_dict({"metadata": meta, "spec": {
        "track": "line", "snapshot": {"configCommit": "a" * 40}, "windowPass": {"reason": "hotfix", "by": "bob"}}})
    assert ticket.window_pass == "hotfix"


# -- decide ------------------------------------------------------------------------------------------

T0 = utc(2026, 12, 25, 12)
XMAS = W(DENY, start=utc(2026, 12, 24), end=utc(2026, 12, 27), reason="christmas")


def _status_of(result: list[actions.Action], name: str) -> model.TicketStatus | None:
    found = [a.status for a in result if isinstance(a, actions.UpdateTicketStatus) and a.ticket.name == name]
    return found[-1] if found else None


def _events(result: list[actions.Action], reason: actions.EventReason) -> list[str]:
    return [a.message for a in result if isinstance(a, actions.EmitEvent) and a.reason is reason]


def _waiting(name: str, created: float, **changes: object) -> model.Ticket:
    return dataclasses.replace(model.Ticket(NS, name, f"uid-{name}", created, "line", snapshot(1)), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("track_windows, station_windows", [
    pytest.param((XMAS,), (), id="track-window"),
    pytest.param((), (XMAS,), id="station-window"),
])
def test_a_deny_window_holds_boarding_saying_until_when(track_windows: tuple[windows.Window, ...],
                                                        station_windows: tuple[windows.Window, ...]) -> None:
    world = model.World.build(T0, [track("line", ("s1",), windows=track_windows)],
                              [station("s1", ("a1",), windows=station_windows)], [_waiting("a", T0 - 60)])
    result = decide.decide(world)
    status = _status_of(result, "a")
    assert status is not None and status.state is St.WAITING and not status.boarded
    assert "deny window 2026-12-24T00:00:00Z to 2026-12-27T00:00:00Z (christmas), until 2026-12-27T00:00:00Z" \
        in status.message
    assert not [a for a in result if isinstance(a, actions.PushStation)]
    assert _events(result, actions.EventReason.WINDOW_CLOSED) == [status.message]
    told = dataclasses.replace(world.tickets[model.TicketRef(NS, "a")], status=status)  # the same pass again
    again = decide.decide(dataclasses.replace(world, tickets={told.ref: told}))
    assert [a for a in again if not isinstance(a, actions.SetTrackCondition)] == [], "one Event per change"
    after = decide.decide(dataclasses.replace(world, now=utc(2026, 12, 27), tickets={told.ref: told}))
    assert _status_of(after, "a").station == "s1"  # type: ignore[union-attr]


def test_a_window_pass_lets_one_ticket_through_and_records_why() -> None:
    world = model.World.build(T0, [track("line", ("s1",), windows=(XMAS,))], [station("s1", ("a1",))],
                              [_waiting("a", T0 - 60, window_pass="hotfix INC-7"), _waiting("b", T0 - 30)])
    world = dataclasses.replace(world, tracks={r: dataclasses.replace(t, boarding=model.Boarding.EVERY_TICKET_RIDES)
                                               for r, t in world.tracks.items()})
    result = decide.decide(world)
    status = _status_of(result, "a")
    assert status is not None and status.station == "s1"
    assert "by an operator: hotfix INC-7" in status.journey[-1].message
    assert _events(result, actions.EventReason.WINDOW_PASSED) == [
        "let through track line: inside deny window 2026-12-24T00:00:00Z to 2026-12-27T00:00:00Z (christmas) "
        "by an operator: hotfix INC-7"]


def test_a_frozen_namespace_stops_every_track_but_not_judging() -> None:
    sim = Sim.of([track("line", ("s1", "s2")), track("other", ("o1",))],
                 [station("s1", ("a1",)), station("s2", ("a2",)), station("o1", ("b1",))])
    sim.create("line", name="rider")
    sim.settle()
    assert sim.ticket("rider").status.station == "s1"
    sim.frozen[NS] = "incident 42 (by alice)"
    sim.argo_converge()
    sim.settle()
    rider = sim.ticket("rider")  # judged at s1 (arrived), but waits there
    assert rider.status.station == "s1" and rider.status.journey[-1].state is model.JourneyState.ARRIVED
    assert rider.status.message == ("waiting to depart into station s2: namespace team is frozen: incident 42 "
                                    "(by alice); k8sta unfreeze lets every track move again")
    assert any(e.reason is actions.EventReason.FROZEN and e.ticket.name == "rider" for e in sim.events)
    sim.now += 1
    sim.create("line", name="found-1")  # intake keeps creating tickets while frozen: nothing is lost
    sim.now += 1
    sim.create("line", name="found-2")
    sim.create("other", name="other-1")
    sim.now += 1
    sim.settle()
    assert {n: sim.ticket(n).status.state for n in ("found-1", "found-2", "other-1")} == {
        "found-1": St.WAITING, "found-2": St.WAITING, "other-1": St.WAITING}
    assert "namespace team is frozen" in sim.ticket("found-2").status.message
    window_passed = dataclasses.replace(sim.ticket("found-2"), window_pass="hotfix")  # a pass is not an unfreeze
    sim.tickets[window_passed.ref] = window_passed
    sim.settle()
    assert not sim.ticket("found-2").status.boarded
    del sim.frozen[NS]  # k8sta unfreeze
    for _ in range(4):
        sim.settle()
        sim.argo_converge()
        sim.now += 1
    assert sim.ticket("rider").status.state is St.COMPLETED
    assert sim.ticket("found-2").status.boarded and sim.ticket("found-1").status.state is St.SUPERSEDED


def test_a_retry_waits_for_the_freeze() -> None:
    failed = model.TicketStatus(St.FAILED, None, (model.JourneyRecord(
        "s1", model.JourneyState.FAILED, entered_at=T0 - 100, departed_at=T0 - 50),))
    ticket = _waiting("a", T0 - 200, status=failed, retry_count=1)
    world = model.World.build(T0, [track("line", ("s1",))], [station("s1", ("a1",))], [ticket],
                              frozen={NS: "incident"})
    status = _status_of(decide.decide(world), "a")
    assert status is not None and status.state is St.FAILED
    assert status.message.startswith("retry pending: station s1: namespace team is frozen: incident")
    thawed = decide.decide(dataclasses.replace(world, frozen={}))
    assert _status_of(thawed, "a").station == "s1"  # type: ignore[union-attr]


def test_a_freeze_stops_only_its_own_namespace() -> None:
    lines = [model.TrackSpec(ns, "line", ("s1",)) for ns in ("frozen", "open")]
    stations = [model.StationSpec(ns, "s1", (model.AppRef("argocd", f"{ns}-a"),)) for ns in ("frozen", "open")]
    tickets = [dataclasses.replace(_waiting("a", T0 - 60), namespace=ns) for ns in ("frozen", "open")]
    result = decide.decide(model.World.build(T0, lines, stations, tickets, frozen={"frozen": "incident"}))
    boarded = {a.ticket.namespace for a in result if isinstance(a, actions.PushStation)}
    assert boarded == {"open"}


def test_a_window_pass_behind_an_occupied_station_waits_without_events_of_passing() -> None:
    holder = _waiting("h", T0 - 120, status=model.TicketStatus(
        St.DEPLOYING, "s1", (model.JourneyRecord("s1", model.JourneyState.ENTERED, entered_at=T0 - 100),)))
    world = model.World.build(T0, [track("line", ("s1",), windows=(XMAS,))], [station("s1", ("a1",))],
                              [holder, _waiting("a", T0 - 60, window_pass="hotfix")])
    result = decide.decide(world)
    status = _status_of(result, "a")
    assert status is not None and status.message == "waiting to board into station s1: held by ticket h"
    assert _events(result, actions.EventReason.WINDOW_PASSED) == []
