"""``core.delivery``: the delivery figures (DORA) per Track and terminal Station, from tickets alone (pure)."""

from __future__ import annotations

import pytest

from k8sta_daemon.core import codec, delivery, model
from k8sta_daemon.core.delivery import DAY, Failure, FailureKind, Ride, SeriesKey
from k8sta_daemon.ops import intake

NS = "shop"
SNAP = model.Snapshot("1" * 40)
J = model.JourneyState
S = model.TicketState


def track(name: str, *stations: str) -> model.TrackSpec:
    return model.TrackSpec(namespace=NS, name=name, stations=stations)


def station(name: str, *tracks: str) -> model.StationSpec:
    return model.StationSpec(namespace=NS, name=name, tracks=tracks)


# main: dev -> prod, prod a junction to eu-line (eu) and us-line (us)
TRACKS = [track("main", "dev", "prod"), track("eu-line", "eu"), track("us-line", "us")]
STATIONS = [station("dev"), station("prod", "eu-line", "us-line"), station("eu"), station("us")]
SIMPLE = [track("api", "dev", "prod")]
SIMPLE_STATIONS = [station("dev"), station("prod")]


def visit(name: str, entered: float, arrived: float | None = None, departed: float | None = None,
          state: model.JourneyState = J.DEPARTED) -> model.JourneyRecord:
    return model.JourneyRecord(station=name, state=state, entered_at=entered, arrived_at=arrived, departed_at=departed)


def ticket(name: str, created: float, *journey: model.JourneyRecord, state: model.TicketState = S.COMPLETED,
           on: str = "api", parent: str | None = None) -> model.Ticket:
    return model.Ticket(namespace=NS, name=name, uid=name, created=created, track=on, snapshot=SNAP, parent=parent,
                        status=model.TicketStatus(state=state, journey=journey))


def completed(name: str, created: float, on: str = "api", parent: str | None = None,
              stations: tuple[str, ...] = ("dev", "prod")) -> model.Ticket:
    """Enters each Station 10 s after the last, arrives 5 s after entering, departs at the next entry."""
    t = created + 10
    journey = [visit(s, t + 10 * i, t + 10 * i + 5, t + 10 * (i + 1)) for i, s in enumerate(stations)]
    return ticket(name, created, *journey, on=on, parent=parent)


def ride(t: model.Ticket, changed_at: float | None = None, rollback_of: str | None = None) -> Ride:
    return Ride(t, changed_at, rollback_of)


def key(track_name: str, station_name: str) -> SeriesKey:
    return SeriesKey(NS, track_name, station_name)


def of(found: delivery.Figures, ticket_name: str, k: SeriesKey) -> delivery.Delivery:
    (d,) = [d for d in found.deliveries if d.ticket == ticket_name and d.key == k]
    return d


def simple(*rides: Ride) -> delivery.Figures:
    return delivery.figures(rides, SIMPLE, SIMPLE_STATIONS)


# -- the graph ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tracks", "stations", "start", "expected"), [
    pytest.param(SIMPLE, SIMPLE_STATIONS, "api", {"prod": (("api",),)}, id="the-last-station"),
    pytest.param(TRACKS, STATIONS, "main", {"prod": (("main",),), "eu": (("main", "eu-line"),),
                                            "us": (("main", "us-line"),)}, id="junction-at-the-end"),
    pytest.param([track("main", "dev", "mid", "prod"), track("side", "lab")],
                 [station("dev"), station("mid", "side"), station("prod"), station("lab")], "main",
                 {"prod": (("main",),), "lab": (("main", "side"),)}, id="junction-in-the-middle"),
    pytest.param([track("a", "x"), track("b", "y")], [station("x", "b"), station("y", "a")], "a",
                 {"x": (("a",),), "y": (("a", "b"),)}, id="a-cycle-is-cut"),
    pytest.param([track("a", "x"), track("b", "z"), track("c", "z")], [station("x", "b", "c"), station("z")], "a",
                 {"x": (("a",),), "z": (("a", "b"), ("a", "c"))}, id="two-ways-to-one-station"),
    pytest.param(SIMPLE, SIMPLE_STATIONS, "gone", {}, id="no-such-track"),
    pytest.param([track("a", "x")], [], "a", {"x": (("a",),)}, id="station-object-missing"),
    pytest.param([track("a", "x"), track("b", "y")], [station("x", "b", "nowhere"), station("y")], "a",
                 {"x": (("a",),), "y": (("a", "b"),)}, id="junction-to-a-missing-track"),
])
def test_terminal_stations(tracks: list[model.TrackSpec], stations: list[model.StationSpec], start: str,
                           expected: dict[str, tuple[tuple[str, ...], ...]]) -> None:
    assert delivery.terminals(NS, start, {t.ref: t for t in tracks}, {s.ref: s for s in stations}) == expected


# -- deployments and lead time --------------------------------------------------------------------


def test_a_completed_ticket_is_one_deployment_with_its_lead_time_from_the_change() -> None:
    found = simple(ride(completed("api-1", 1_000), changed_at=400))
    d = of(found, "api-1", key("api", "prod"))
    # dev entered 1010, prod entered 1020, arrived 1025, departed 1030
    assert (d.deployed_at, d.lead_time, d.failure, d.completed_at) == (1025, 625, None, 1030)
    (series,) = found.series
    assert (series.deployments, series.changes, series.failed, series.lead_times) == (1, 1, 0, (625,))


def test_without_a_change_time_the_lead_time_runs_from_the_tickets_creation() -> None:
    assert of(simple(ride(completed("api-1", 1_000))), "api-1", key("api", "prod")).lead_time == 25


def test_a_change_time_after_the_arrival_gives_zero_not_a_negative_lead_time() -> None:
    assert of(simple(ride(completed("api-1", 1_000), changed_at=5_000)), "api-1", key("api", "prod")).lead_time == 0


def test_a_ticket_still_on_its_way_is_no_deployment_and_no_change() -> None:
    moving = ticket("api-1", 1_000, visit("dev", 1_010, 1_015, 1_020), visit("prod", 1_020, state=J.ENTERED),
                    state=S.DEPLOYING)
    d = of(simple(ride(moving)), "api-1", key("api", "prod"))
    assert (d.deployed_at, d.failure, d.completed_at, d.change) == (None, None, None, False)


def test_arrived_but_still_soaking_is_a_deployment_not_yet_a_completion() -> None:
    soaking = ticket("api-1", 1_000, visit("dev", 1_010, 1_015, 1_020), visit("prod", 1_020, 1_025, state=J.ARRIVED),
                     state=S.SOAKING)
    d = of(simple(ride(soaking)), "api-1", key("api", "prod"))
    assert (d.deployed_at, d.completed_at, d.change) == (1_025, None, True)


def test_the_first_arrival_counts_when_a_retry_arrives_again() -> None:
    t = ticket("api-1", 1_000, visit("dev", 1_010, 1_015, 1_020), visit("prod", 1_020, 1_025, 1_030, J.FAILED),
               visit("prod", 1_100, 1_110, 1_120))
    d = of(simple(ride(t)), "api-1", key("api", "prod"))
    assert (d.deployed_at, d.failure, d.completed_at) == (1_025, Failure(FailureKind.FAILED, 1_030), 1_120)


def test_a_skipped_terminal_station_is_no_deployment() -> None:
    t = ticket("api-1", 1_000, visit("dev", 1_010, 1_015, 1_020),
               model.JourneyRecord(station="prod", state=J.SKIPPED, entered_at=1_020, departed_at=1_020))
    d = of(simple(ride(t)), "api-1", key("api", "prod"))
    assert (d.deployed_at, d.completed_at, d.change) == (None, None, False)


def test_tickets_of_a_deleted_track_are_not_counted() -> None:
    assert delivery.figures([ride(completed("old-1", 1_000, on="old"))], SIMPLE, SIMPLE_STATIONS).deliveries == ()


# -- junctions: children included -----------------------------------------------------------------


def junction_ride(child_eu: model.Ticket | None = None, child_us: model.Ticket | None = None,
                  changed_at: float = 900) -> delivery.Figures:
    root = completed("main-1", 1_000, on="main")  # departs prod at 1030
    rides = [ride(root, changed_at=changed_at)]
    rides += [ride(c) for c in (child_eu, child_us) if c is not None]
    return delivery.figures(rides, TRACKS, STATIONS)


def test_the_main_tracks_figures_include_its_childrens_arrivals_from_the_roots_change() -> None:
    eu = completed("main-1-eu", 1_030, on="eu-line", parent="main-1", stations=("eu",))  # arrives 1045
    us = completed("main-1-us", 1_030, on="us-line", parent="main-1", stations=("us",))
    found = junction_ride(eu, us)
    assert of(found, "main-1", key("main", "prod")).lead_time == 125
    assert of(found, "main-1", key("main", "eu")).deployed_at == 1_045
    assert of(found, "main-1", key("main", "eu")).lead_time == 145
    assert of(found, "main-1", key("main", "eu")).completed_at == 1_050
    # the child's own Track: lead time from the root's change, not the child's creation
    assert of(found, "main-1-eu", key("eu-line", "eu")).lead_time == 145
    assert {s.key for s in found.series} == {key("main", "prod"), key("main", "eu"), key("main", "us"),
                                              key("eu-line", "eu"), key("us-line", "us")}


def test_a_child_not_created_yet_leaves_that_delivery_pending() -> None:
    found = junction_ride(child_eu=None)
    d = of(found, "main-1", key("main", "eu"))
    assert (d.deployed_at, d.failure, d.change) == (None, None, False)
    assert of(found, "main-1", key("main", "prod")).deployed_at == 1_025


def test_a_failed_child_fails_its_roots_delivery_to_that_station_only() -> None:
    eu = ticket("main-1-eu", 1_030, visit("eu", 1_040, None, 1_070, J.FAILED), state=S.FAILED, on="eu-line",
                parent="main-1")
    us = completed("main-1-us", 1_030, on="us-line", parent="main-1", stations=("us",))
    found = junction_ride(eu, us)
    assert of(found, "main-1", key("main", "eu")).failure == Failure(FailureKind.FAILED, 1_070)
    assert of(found, "main-1", key("main", "us")).failure is None
    assert of(found, "main-1", key("main", "prod")).failure is None


def test_a_root_failing_before_the_junction_fails_every_delivery_behind_it() -> None:
    root = ticket("main-1", 1_000, visit("dev", 1_010, None, 1_050, J.FAILED), state=S.FAILED, on="main")
    found = delivery.figures([ride(root)], TRACKS, STATIONS)
    assert {d.key.station: d.failure for d in found.deliveries} == {
        s: Failure(FailureKind.FAILED, 1_050) for s in ("prod", "eu", "us")}


# -- change failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(("t", "expected"), [
    pytest.param(ticket("api-1", 1_000, visit("dev", 1_010, None, 1_060, J.FAILED), state=S.FAILED),
                 Failure(FailureKind.FAILED, 1_060), id="failed-at-dev"),
    pytest.param(ticket("api-1", 1_000, visit("dev", 1_010, None, None, J.FAILED), state=S.FAILED),
                 Failure(FailureKind.FAILED, 1_010), id="push-failed-has-no-departure-so-its-entry"),
    pytest.param(ticket("api-1", 1_000, visit("dev", 1_010, 1_015, 1_020), visit("prod", 1_020, 1_025, 1_090, J.FAILED),
                        state=S.FAILED), Failure(FailureKind.FAILED, 1_090), id="failed-after-arriving-at-prod"),
    pytest.param(ticket("api-1", 1_000, visit("dev", 1_010, 1_015, 1_040, J.ABANDONED), state=S.ABANDONED),
                 Failure(FailureKind.ABANDONED, 1_040), id="abandoned-at-a-station"),
    pytest.param(ticket("api-1", 1_000, visit("dev", 1_010, 1_015, 1_020), state=S.ABANDONED),
                 Failure(FailureKind.ABANDONED, 1_020), id="abandoned-between-stations"),
    pytest.param(ticket("api-1", 1_000, state=S.ABANDONED), None, id="abandoned-before-boarding-is-no-change"),
    pytest.param(ticket("api-1", 1_000, state=S.SUPERSEDED), None, id="superseded-never-entered"),
    pytest.param(ticket("api-1", 1_000, state=S.WAITING), None, id="waiting"),
])
def test_what_counts_as_a_change_failure(t: model.Ticket, expected: Failure | None) -> None:
    d = of(simple(ride(t)), "api-1", key("api", "prod"))
    assert d.failure == expected
    assert d.change is (expected is not None)


def test_a_failed_deployment_is_both_a_deployment_and_a_failure() -> None:
    t = ticket("api-1", 1_000, visit("dev", 1_010, 1_015, 1_020), visit("prod", 1_020, 1_025, 1_090, J.FAILED),
               state=S.FAILED)
    (series,) = simple(ride(t)).series
    assert (series.deployments, series.changes, dict(series.failures)) == (1, 1, {FailureKind.FAILED: 1})


def rollback_world(*, target_exists: bool = True, late_entry: bool = False) -> delivery.Figures:
    """api-1 good; api-2 and api-3 ride after it; api-4 rolls back to api-1 (created at 2_000)."""
    rides = [ride(completed("api-1", 1_000))] if target_exists else []
    rides += [ride(completed("api-2", 1_100)),
              ride(completed("api-3", 2_100) if late_entry else completed("api-3", 1_200)),
              ride(completed("api-4", 2_000), rollback_of="api-1")]
    return simple(*rides)


def test_a_rollback_fails_every_ticket_since_its_target_that_had_entered_a_station() -> None:
    found = rollback_world()
    failures = {d.ticket: d.failure for d in found.deliveries}
    assert failures == {"api-1": None, "api-2": Failure(FailureKind.ROLLED_BACK, 2_000),
                        "api-3": Failure(FailureKind.ROLLED_BACK, 2_000), "api-4": None}
    # a rolled-back ticket's completion restores nothing; the rollback's own completion does
    assert of(found, "api-2", key("api", "prod")).completed_at is None
    assert found.restores == (delivery.Restore(key("api", "prod"), 2_000, 2_030),)
    (series,) = found.series
    assert (series.deployments, series.changes, dict(series.failures)) == (4, 4, {FailureKind.ROLLED_BACK: 2})


def test_a_rollback_leaves_alone_what_entered_only_after_it_and_what_its_target_is_unknown() -> None:
    late = {d.ticket: d.failure for d in rollback_world(late_entry=True).deliveries}
    assert late["api-3"] is None and late["api-2"] is not None
    assert all(d.failure is None for d in rollback_world(target_exists=False).deliveries)


def test_a_rollback_of_the_main_track_undoes_the_childrens_deliveries_too() -> None:
    good = completed("main-1", 1_000, on="main")
    bad = completed("main-2", 1_100, on="main")
    bad_eu = completed("main-2-eu", 1_130, on="eu-line", parent="main-2", stations=("eu",))
    back = completed("main-3", 2_000, on="main")
    found = delivery.figures([ride(good), ride(bad), ride(bad_eu), ride(back, rollback_of="main-1")],
                             TRACKS, STATIONS)
    assert of(found, "main-2-eu", key("eu-line", "eu")).failure == Failure(FailureKind.ROLLED_BACK, 2_000)
    assert of(found, "main-2", key("main", "eu")).failure == Failure(FailureKind.ROLLED_BACK, 2_000)


def test_the_earlier_of_a_failure_and_a_rollback_is_the_failure() -> None:
    failed_then_fixed = ticket("api-2", 1_100, visit("dev", 1_110, None, 1_120, J.FAILED),
                               visit("dev", 1_130, 1_135, 1_140), visit("prod", 1_140, 1_145, 1_150))
    found = simple(ride(completed("api-1", 1_000)), ride(failed_then_fixed),
                   ride(completed("api-3", 2_000), rollback_of="api-1"))
    assert of(found, "api-2", key("api", "prod")).failure == Failure(FailureKind.FAILED, 1_120)


# -- time to restore ------------------------------------------------------------------------------


def failed(name: str, created: float, at: float) -> model.Ticket:
    return ticket(name, created, visit("dev", created + 10, None, at, J.FAILED), state=S.FAILED)


def test_an_outage_runs_from_the_first_failure_to_the_next_completion() -> None:
    found = simple(ride(completed("api-1", 1_000)),  # completes 1030: no outage open, restores nothing
                   ride(failed("api-2", 1_100, 1_150)), ride(failed("api-3", 1_200, 1_250)),  # one outage
                   ride(completed("api-4", 1_300)),  # completes 1330
                   ride(failed("api-5", 1_400, 1_450)))  # still open: not measured
    assert [(r.failed_at, r.restored_at, r.seconds) for r in found.restores] == [(1_150, 1_330, 180)]
    (series,) = found.series
    assert series.restores == (180,)


def test_a_retried_ticket_restores_its_own_failure() -> None:
    t = ticket("api-1", 1_000, visit("dev", 1_010, 1_015, 1_020), visit("prod", 1_020, None, 1_030, J.FAILED),
               visit("prod", 1_100, 1_110, 1_120))
    assert [(r.failed_at, r.restored_at) for r in simple(ride(t)).restores] == [(1_030, 1_120)]


def test_a_completion_before_the_failure_restores_nothing() -> None:
    # api-1 completes at 1030, api-2 (older ride, slower) fails at 1040
    found = simple(ride(completed("api-1", 1_000)), ride(failed("api-2", 1_001, 1_040)))
    assert found.restores == ()


def test_each_series_has_its_own_outages() -> None:
    eu = ticket("main-1-eu", 1_030, visit("eu", 1_040, None, 1_070, J.FAILED), state=S.FAILED, on="eu-line",
                parent="main-1")
    us = completed("main-1-us", 1_030, on="us-line", parent="main-1", stations=("us",))
    later = completed("main-2", 1_200, on="main")
    later_eu = completed("main-2-eu", 1_230, on="eu-line", parent="main-2", stations=("eu",))  # departs eu 1250
    found = delivery.figures([ride(completed("main-1", 1_000, on="main")), ride(eu), ride(us), ride(later),
                              ride(later_eu)], TRACKS, STATIONS)
    assert {(r.key.track, r.key.station, r.seconds) for r in found.restores} == {("main", "eu", 180),
                                                                                  ("eu-line", "eu", 180)}


# -- Prometheus buckets and the last 30 days -----------------------------------------------------


@pytest.mark.parametrize(("values", "bounds", "expected"), [
    ([], [1, 2], [0, 0, 0]),
    ([1, 1.5, 2, 3], [1, 2], [1, 3, 4]),
    ([5, 0.5], [1], [1, 2]),
])
def test_cumulative_buckets(values: list[float], bounds: list[float], expected: list[int]) -> None:
    assert delivery.cumulative(values, bounds) == expected


NOW = 100 * DAY + 3_600  # an hour into day 100


def test_the_last_days_place_each_figure_on_its_day_and_leave_out_the_rest() -> None:
    today = 100 * DAY
    found = simple(ride(completed("old", today - 40 * DAY)),  # before the window
                   ride(completed("api-1", today - 29 * DAY)),  # the window's first day
                   ride(failed("api-2", today - 2 * DAY, today - 2 * DAY + 500)),
                   ride(completed("api-3", today)),  # today: deployed 25 s in, restores api-2's outage
                   ride(completed("future", today + 2 * 3_600)))  # after now: a clock ahead, not shown
    (window,) = delivery.last_days(found, NOW)
    assert len(window.days) == 30 and window.days[0].start == today - 29 * DAY and window.days[-1].start == today
    assert [i for i, d in enumerate(window.days) if d.deployments] == [0, 29]
    assert window.days[27].failures == window.days[27].changes == 1
    assert window.days[29].lead_times == (25,) and window.days[29].restores == (2 * DAY - 500 + 30,)
    assert (window.deployments, window.changes, window.failures) == (2, 3, 1)


def test_the_last_days_of_one_namespace_and_only_series_with_something_in_them() -> None:
    found = simple(ride(completed("api-1", NOW - 1_000)))
    assert [w.key for w in delivery.last_days(found, NOW, namespace=NS)] == [key("api", "prod")]
    assert delivery.last_days(found, NOW, namespace="other") == []
    assert delivery.last_days(simple(ride(completed("api-1", NOW - 40 * DAY))), NOW) == []
    with pytest.raises(ValueError, match="days must be at least 1, got 0"):
        delivery.last_days(found, NOW, days=0)


@pytest.mark.parametrize(("values", "expected"), [([], None), ([3], 3), ([4, 1, 3], 3), ([4, 1, 3, 2], 2.5)])
def test_median(values: list[float], expected: float | None) -> None:
    assert delivery.median(values) == expected


# -- reading Ticket objects -----------------------------------------------------------------------


def obj(annotations: dict[str, str]) -> dict:
    return {"apiVersion": codec.API_VERSION, "kind": "Ticket",
            "metadata": {"name": "api-1", "namespace": NS, "creationTimestamp": "2026-12-01T10:00:00Z",
                         "annotations": annotations},
            "spec": {"track": "api", "snapshot": {"configCommit": "1" * 40}}}


@pytest.mark.parametrize(("annotations", "changed_at", "rollback_of"), [
    ({delivery.CHANGED_AT_ANNOTATION: "2026-12-01T09:00:00Z"}, codec.parse_time("2026-12-01T09:00:00Z"), None),
    ({delivery.CHANGED_AT_ANNOTATION: "yesterday"}, None, None),
    ({intake.ROLLBACK_ANNOTATION: "api-0"}, None, "api-0"),
    ({}, None, None),
])
def test_ride_from_dict_reads_the_delivery_annotations(annotations: dict[str, str], changed_at: float | None,
                                                      rollback_of: str | None) -> None:
    found = delivery.ride_from_dict(obj(annotations))
    assert (found.ticket.name, found.changed_at, found.rollback_of) == ("api-1", changed_at, rollback_of)


def test_the_rollback_annotation_is_the_one_k8sta_rollback_writes() -> None:
    assert delivery.ROLLBACK_ANNOTATION == intake.ROLLBACK_ANNOTATION
