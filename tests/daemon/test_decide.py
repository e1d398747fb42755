"""Rule tables for decide.decide (DESIGN.md section 4), one id-labelled case per rule and boundary."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from k8sta_daemon.core import actions, arrival, decide, model

from .sim import INITIAL, NS, Sim, app, healthy_at, snapshot, station, track

C = "c" * 40  # the commit we pushed
OTHER = "d" * 40
T0 = 10_000.0
S = model.SyncStatus
H = model.HealthStatus
P = model.OperationPhase
St = model.TicketState


# -- judging one Application --------------------------------------------------------------------


def _ok(**changes: object) -> model.AppStatus:
    return dataclasses.replace(healthy_at(C, T0), **changes)  # type: ignore[arg-type]


V = arrival.AppVerdict


@pytest.mark.parametrize("status, verdict", [
    pytest.param(_ok(), V.HEALTHY, id="synced-at-ours-succeeded-reconciled-healthy"),
    pytest.param(_ok(reconciled_at=T0 + 5), V.HEALTHY, id="reconciled-after-finish"),
    pytest.param(_ok(operation_revision=None), V.HEALTHY, id="operation-revision-unknown"),
    pytest.param(None, V.MISSING, id="no-status-at-all"),
    pytest.param(model.AppStatus.missing(), V.MISSING, id="application-does-not-exist"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC), V.PENDING, id="out-of-sync"),
    pytest.param(_ok(sync_status=S.UNKNOWN), V.PENDING, id="sync-unknown"),
    pytest.param(_ok(synced_revision=OTHER), V.PENDING, id="synced-at-previous-revision"),
    pytest.param(_ok(synced_revision=None), V.PENDING, id="no-synced-revision"),
    pytest.param(_ok(operation_phase=P.RUNNING, operation_finished_at=None), V.PENDING, id="operation-running"),
    pytest.param(_ok(operation_phase=P.TERMINATING), V.PENDING, id="operation-terminating"),
    pytest.param(_ok(operation_phase=None, operation_revision=None, operation_started_at=None,
                     operation_finished_at=None), V.HEALTHY, id="synced-at-ours-without-any-operation-arrives"),
    pytest.param(_ok(operation_finished_at=None), V.PENDING, id="succeeded-but-not-finished"),
    pytest.param(_ok(operation_revision=OTHER), V.HEALTHY,
                 id="unchanged-render-last-operation-for-the-previous-commit-arrives"),
    pytest.param(_ok(operation_revision=OTHER, operation_phase=P.RUNNING, operation_finished_at=None),
                 V.PENDING, id="an-operation-for-another-commit-running-waits"),
    pytest.param(_ok(operation_revision=OTHER, operation_phase=P.FAILED), V.HEALTHY,
                 id="failed-operation-of-the-previous-commit-is-not-ours"),
    pytest.param(_ok(reconciled_at=T0 - 1), V.PENDING, id="healthy-but-reconciled-before-the-sync"),
    pytest.param(_ok(reconciled_at=None), V.PENDING, id="never-reconciled"),
    pytest.param(_ok(reconciled_at=T0 - 1, health=H.DEGRADED), V.PENDING, id="degraded-before-reconcile-not-judged"),
    pytest.param(_ok(health=H.DEGRADED), V.DEGRADED, id="degraded"),
    pytest.param(_ok(health=H.SUSPENDED), V.SUSPENDED, id="suspended"),
    pytest.param(_ok(health=H.PROGRESSING), V.PROGRESSING, id="progressing"),
    pytest.param(_ok(health=H.MISSING), V.PROGRESSING, id="health-missing"),
    pytest.param(_ok(health=H.UNKNOWN), V.PROGRESSING, id="health-unknown"),
    pytest.param(_ok(operation_phase=P.FAILED, sync_status=S.OUT_OF_SYNC, synced_revision=OTHER),
                 V.SYNC_FAILED, id="sync-of-our-commit-failed"),
    pytest.param(_ok(operation_phase=P.ERROR, sync_status=S.OUT_OF_SYNC), V.SYNC_FAILED,
                 id="sync-of-our-commit-errored"),
    pytest.param(_ok(operation_phase=P.FAILED, operation_revision=OTHER, synced_revision=OTHER,
                     sync_status=S.OUT_OF_SYNC), V.PENDING, id="failed-operation-for-another-revision"),
])
def test_judge_app(status: model.AppStatus | None, verdict: arrival.AppVerdict) -> None:
    assert arrival.judge_app(status, C)[0] is verdict


NO_OP = dict(operation_phase=None, operation_revision=None, operation_started_at=None, operation_finished_at=None)


@pytest.mark.parametrize("status, since, verdict", [
    pytest.param(_ok(**NO_OP), T0 - 30, V.HEALTHY, id="reconciled-after-the-visit-began"),
    pytest.param(_ok(**NO_OP), T0 + 0.4, V.HEALTHY, id="reconciled-in-the-same-second-as-entry"),
    pytest.param(_ok(**NO_OP), T0 + 5, V.PENDING, id="reconciled-before-the-visit-began"),
    pytest.param(_ok(operation_phase=P.FAILED, sync_status=S.OUT_OF_SYNC, synced_revision=OTHER), T0 + 5,
                 V.PENDING, id="failed-operation-before-a-retry-is-history"),
    pytest.param(_ok(operation_phase=P.FAILED, sync_status=S.OUT_OF_SYNC, synced_revision=OTHER), T0 - 5,
                 V.SYNC_FAILED, id="failed-operation-during-the-visit-fails"),
    pytest.param(_ok(operation_phase=P.FAILED, reconciled_at=T0 + 20), T0 + 10, V.HEALTHY,
                 id="old-failure-then-synced-at-ours-and-reconciled-arrives"),
])
def test_judge_app_within_a_visit(status: model.AppStatus, since: float, verdict: arrival.AppVerdict) -> None:
    assert arrival.judge_app(status, C, since)[0] is verdict


def test_operation_message_names_the_commit_it_was_really_for() -> None:
    status = _ok(operation_revision=OTHER, sync_status=S.OUT_OF_SYNC, synced_revision=OTHER)
    verdict, why = arrival.judge_app(status, C, T0 - 5)
    assert verdict is V.PENDING
    assert f"waiting for {C[:12]}" in why and f"last sync operation was for {OTHER[:12]} (Succeeded)" in why
    running = _ok(operation_revision=OTHER, operation_phase=P.RUNNING, operation_finished_at=None)
    assert f"sync operation for {OTHER[:12]} Running" in arrival.judge_app(running, C, T0 - 5)[1]


def test_argo_cd_error_conditions_are_in_the_reason() -> None:
    status = _ok(sync_status=S.UNKNOWN, conditions=(model.AppCondition(
        "ComparisonError", "rendered sha256 abc does not match recorded def"),))
    verdict, why = arrival.judge_app(status, C, T0 - 5)
    assert verdict is V.PENDING and "ComparisonError: rendered sha256 abc does not match recorded def" in why


PINNED, TARGET = arrival.Sync(pin=True, prune=False), arrival.Sync(pin=False, prune=False)


@pytest.mark.parametrize("status, since, wanted", [
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, synced_revision=OTHER, automated=False, **NO_OP), T0,
                 PINNED, id="manual-sync-app-out-of-sync-gets-our-commit-pinned"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, synced_revision=OTHER, automated=None, **NO_OP), T0,
                 PINNED, id="sync-policy-unknown-is-asked-as-manual"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, synced_revision=OTHER, automated=False, prune=True, **NO_OP),
                 T0, arrival.Sync(pin=True, prune=True), id="manual-app-whose-policy-prunes-is-pruned"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, synced_revision=OTHER, automated=True, **NO_OP), T0,
                 None, id="automated-app-syncs-itself"),
    pytest.param(_ok(automated=False, **NO_OP), T0, None, id="synced-at-ours-needs-no-sync"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, automated=False, operation_phase=P.RUNNING,
                     operation_revision=OTHER, operation_finished_at=None), T0, None,
                 id="another-operation-running"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, automated=False, operation_phase=P.FAILED), T0 - 5,
                 None, id="operation-for-ours-in-this-visit-exists"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, automated=True, operation_phase=P.FAILED), T0 + 5,
                 TARGET, id="retry-of-a-revision-automated-sync-attempted-names-no-revision"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, automated=True, prune=True, operation_phase=P.FAILED), T0 + 5,
                 arrival.Sync(pin=False, prune=True), id="retry-under-automated-sync-prunes-as-its-policy"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, synced_revision=OTHER, automated=True, operation_phase=P.FAILED),
                 T0 + 5, None, id="retry-waits-until-argo-cd-resolved-its-target-to-our-commit"),
    pytest.param(_ok(sync_status=S.OUT_OF_SYNC, automated=False, operation_phase=P.FAILED), T0 + 5,
                 PINNED, id="retry-of-a-manual-sync-app"),
])
def test_sync_to_request(status: model.AppStatus, since: float, wanted: arrival.Sync | None) -> None:
    assert arrival.sync_to_request(status, C, since) == wanted


def test_a_refusal_is_said_only_for_the_commit_it_was_about() -> None:
    refused = _ok(sync_refused=model.SyncRefusal(C, "HTTP 403: cannot sync: blocked by sync window"))
    assert arrival.refusal(refused, C) == (f"Argo CD refused K8sTA's sync of {C[:12]}: "
                                           "HTTP 403: cannot sync: blocked by sync window")
    assert arrival.refusal(refused, OTHER) == ""
    assert arrival.refusal(_ok(), C) == "" and arrival.refusal(None, C) == ""


# -- one ticket at Station s1 of s1 -> s2 -> s3 -------------------------------------------------


def _at_s1(station_kwargs: dict[str, object], apps: dict[str, model.AppStatus], now: float,
           record: dict[str, object], approved: frozenset[str] = frozenset(),
           others: tuple[model.Ticket, ...] = (), s2: dict[str, object] | None = None,
           ) -> tuple[model.World, model.Ticket]:
    app_names = tuple(station_kwargs.pop("apps", ("a1",)))  # type: ignore[arg-type]
    stations = [station("s1", app_names, **station_kwargs), station("s2", ("b1",), **(s2 or {})),
                station("s3", ("c1",))]
    unpushed = record.pop("unpushed", ())
    pushed = tuple(model.PushedCommit(app(a), "file:///c.git", f"env/{a}", C) for a in app_names
                   if a not in unpushed)  # type: ignore[operator]
    journey = (model.JourneyRecord("s1", model.JourneyState.ENTERED, entered_at=T0, pushed=pushed),)
    journey = (dataclasses.replace(journey[0], **record),)  # type: ignore[arg-type]
    ticket = model.Ticket(NS, "t1", "uid-1", created=1.0, track="line", snapshot=snapshot(1),
                          approved_stations=approved,
                          status=model.TicketStatus(St.DEPLOYING, "s1", journey))
    world = model.World.build(now, [track("line", ("s1", "s2", "s3"))], stations, [ticket, *others],
                              {app(a): s for a, s in apps.items()})
    return world, ticket


def _status_of(result: list[actions.Action], name: str) -> model.TicketStatus | None:
    updates = [a.status for a in result if isinstance(a, actions.UpdateTicketStatus) and a.ticket.name == name]
    assert len(updates) <= 1
    return updates[0] if updates else None


def _reasons(result: list[actions.Action], name: str = "t1") -> set[actions.EventReason]:
    return {a.reason for a in result if isinstance(a, actions.EmitEvent) and a.ticket.name == name}


Healthy = healthy_at(C, T0)
B_HELD = model.Ticket(NS, "t0", "uid-0", created=0.5, track="line", snapshot=snapshot(0),
                      status=model.TicketStatus(St.DEPLOYING, "s2", (model.JourneyRecord(
                          "s2", model.JourneyState.ENTERED, entered_at=T0),)))


@pytest.mark.parametrize("station_kwargs, apps, dt, record, extra, state, where", [
    pytest.param({}, {"a1": Healthy}, 1, {}, {}, St.DEPLOYING, "s2", id="arrived-departs-at-once"),
    pytest.param({"soak_seconds": 60}, {"a1": Healthy}, 1, {}, {}, St.SOAKING, "s1", id="arrived-starts-soak"),
    pytest.param({"soak_seconds": 60}, {"a1": Healthy}, 100,
                 {"arrived_at": T0 + 30, "healthy_since": T0 + 30, "state": model.JourneyState.ARRIVED},
                 {}, St.DEPLOYING, "s2", id="soak-over-departs"),
    pytest.param({"soak_seconds": 60}, {"a1": Healthy}, 50,
                 {"arrived_at": T0, "healthy_since": T0, "state": model.JourneyState.ARRIVED},
                 {}, St.SOAKING, "s1", id="soak-not-over"),
    pytest.param({"soak_seconds": 60}, {"a1": _ok(health=H.PROGRESSING)}, 50,
                 {"arrived_at": T0, "healthy_since": T0, "state": model.JourneyState.ARRIVED},
                 {}, St.DEPLOYING, "s1", id="health-lost-during-soak-restarts-it"),
    pytest.param({"soak_seconds": 60}, {"a1": _ok(health=H.DEGRADED)}, 50,
                 {"arrived_at": T0, "healthy_since": T0, "state": model.JourneyState.ARRIVED},
                 {}, St.FAILED, None, id="degraded-during-soak-fails"),
    pytest.param({}, {"a1": _ok(reconciled_at=T0 - 5)}, 1, {}, {}, St.DEPLOYING, "s1",
                 id="not-reconciled-waits"),
    pytest.param({}, {"a1": _ok(synced_revision=OTHER)}, 1, {}, {}, St.DEPLOYING, "s1",
                 id="other-revision-waits"),
    pytest.param({}, {"a1": _ok(health=H.SUSPENDED)}, 1, {}, {}, St.SUSPENDED, "s1", id="suspended-waits"),
    pytest.param({}, {"a1": _ok(health=H.DEGRADED)}, 1, {}, {}, St.FAILED, None, id="degraded-no-grace-fails"),
    pytest.param({"degraded_grace_seconds": 60}, {"a1": _ok(health=H.DEGRADED)}, 1, {}, {},
                 St.DEPLOYING, "s1", id="degraded-within-grace-waits"),
    pytest.param({"degraded_grace_seconds": 60}, {"a1": _ok(health=H.DEGRADED)}, 100,
                 {"degraded_since": T0 + 39}, {}, St.FAILED, None, id="degraded-past-grace-fails"),
    pytest.param({"degraded_grace_seconds": 60}, {"a1": Healthy}, 100, {"degraded_since": T0 + 1},
                 {}, St.DEPLOYING, "s2", id="degraded-recovered-arrives"),
    pytest.param({}, {"a1": _ok(operation_phase=P.FAILED, sync_status=S.OUT_OF_SYNC, operation_started_at=T0)},
                 1, {}, {}, St.FAILED, None, id="sync-failed-fails"),
    pytest.param({}, {"a1": _ok(operation_phase=P.FAILED, sync_status=S.OUT_OF_SYNC)}, 1, {}, {},
                 St.DEPLOYING, "s1", id="failed-operation-from-before-the-visit-waits"),
    pytest.param({}, {"a1": _ok(operation_phase=P.ERROR, operation_revision=OTHER, synced_revision=OTHER)},
                 1, {}, {}, St.DEPLOYING, "s1", id="sync-error-of-other-revision-waits"),
    pytest.param({"timeout_seconds": 300}, {"a1": _ok(health=H.PROGRESSING)}, 299, {}, {},
                 St.DEPLOYING, "s1", id="before-timeout-waits"),
    pytest.param({"timeout_seconds": 300}, {"a1": _ok(health=H.PROGRESSING)}, 300, {}, {},
                 St.FAILED, None, id="timeout-fails"),
    pytest.param({"timeout_seconds": 300}, {"a1": _ok(health=H.SUSPENDED)}, 301, {}, {},
                 St.FAILED, None, id="timeout-counts-while-suspended"),
    pytest.param({"timeout_seconds": 300}, {"a1": _ok(health=H.PROGRESSING)}, 900,
                 {"arrived_at": T0 + 10, "state": model.JourneyState.ARRIVED}, {}, St.DEPLOYING, "s1",
                 id="timeout-restarts-when-arrival-is-lost"),
    pytest.param({"timeout_seconds": 300}, {"a1": _ok(health=H.PROGRESSING)}, 900,
                 {"arrived_at": T0 + 10, "arrival_lost_at": T0 + 600, "state": model.JourneyState.ARRIVED}, {},
                 St.FAILED, None, id="lost-arrival-not-recovered-within-the-timeout-fails"),
    pytest.param({"timeout_seconds": 300}, {"a1": _ok(health=H.PROGRESSING)}, 899,
                 {"arrived_at": T0 + 10, "arrival_lost_at": T0 + 600, "state": model.JourneyState.ARRIVED}, {},
                 St.DEPLOYING, "s1", id="lost-arrival-within-the-timeout-waits"),
    pytest.param({"timeout_seconds": 300}, {"a1": Healthy}, 400, {"unpushed": ("a1",)}, {},
                 St.FAILED, None, id="push-never-reported-times-out"),
    pytest.param({}, {}, 1, {}, {}, St.DEPLOYING, "s1", id="missing-application-waits"),
    pytest.param({}, {"a1": Healthy}, 1, {"unpushed": ("a1",)}, {}, St.DEPLOYING, "s1", id="push-pending-waits"),
    pytest.param({"apps": ("a1", "a2"), "disabled_applications": frozenset({app("a2")})},
                 {"a1": Healthy, "a2": _ok(health=H.DEGRADED)}, 1, {"unpushed": ("a2",)}, {},
                 St.DEPLOYING, "s2", id="disabled-application-not-judged"),
    pytest.param({"apps": ("a1", "a2")}, {"a1": Healthy, "a2": _ok(health=H.PROGRESSING)}, 1, {}, {},
                 St.DEPLOYING, "s1", id="every-application-must-arrive"),
    pytest.param({"apps": ()}, {}, 1, {}, {}, St.DEPLOYING, "s2", id="station-without-applications-arrives"),
    pytest.param({"disabled": True}, {"a1": _ok(health=H.DEGRADED)}, 1, {}, {}, St.DEPLOYING, "s2",
                 id="station-disabled-while-here-departs-unjudged"),
    pytest.param({}, {"a1": Healthy}, 1, {}, {"s2": {"approval_required": True}},
                 St.AWAITING_APPROVAL, "s1", id="next-needs-approval-holds-here"),
    pytest.param({}, {"a1": Healthy}, 1, {}, {"s2": {"approval_required": True}, "approved": frozenset({"s2"})},
                 St.DEPLOYING, "s2", id="next-approved-enters"),
    pytest.param({}, {"a1": Healthy}, 1, {}, {"others": (B_HELD,)}, St.WAITING, "s1",
                 id="next-occupied-waits-holding-this-station"),
    pytest.param({}, {"a1": Healthy}, 1, {}, {"s2": {"disabled": True}}, St.DEPLOYING, "s3",
                 id="next-disabled-is-skipped"),
])
def test_at_station(station_kwargs: dict[str, object], apps: dict[str, model.AppStatus], dt: float,
                    record: dict[str, object], extra: dict[str, object], state: model.TicketState,
                    where: str | None) -> None:
    world, ticket = _at_s1(dict(station_kwargs), apps, T0 + dt, dict(record), **extra)  # type: ignore[arg-type]
    result = decide.decide(world)
    status = _status_of(result, "t1") or ticket.status
    assert (status.state, status.station) == (state, where), status.message
    if state is St.FAILED:
        assert status.journey[0].state is model.JourneyState.FAILED
        assert actions.EventReason.FAILED in _reasons(result)
    if where not in (None, "s1"):
        departed = status.journey[0]
        assert departed.state is model.JourneyState.DEPARTED and departed.departed_at == T0 + dt
        assert status.journey[-1] == model.JourneyRecord(
            where, model.JourneyState.ENTERED, entered_at=T0 + dt)
        assert [a.station for a in result if isinstance(a, actions.PushStation)] == [where]
    assert decide.decide(world) == result


def test_push_pending_is_emitted_again_with_only_enabled_apps() -> None:
    world, _ = _at_s1({"apps": ("a1", "a2", "a3"), "disabled_applications": frozenset({app("a3")})},
                      {}, T0 + 1, {"unpushed": ("a1", "a2", "a3")})
    pushes = [a for a in decide.decide(world) if isinstance(a, actions.PushStation)]
    assert pushes == [actions.PushStation(model.TicketRef(NS, "t1"), "line", "s1", (app("a1"), app("a2")),
                                          snapshot(1))]
    status = _status_of(decide.decide(world), "t1")
    assert status is not None and status.journey[-1].skipped_applications == (app("a3"),)


def test_skipped_station_is_recorded_in_the_journey() -> None:
    world, _ = _at_s1({}, {"a1": Healthy}, T0 + 1, {}, s2={"disabled": True})
    status = _status_of(decide.decide(world), "t1")
    assert status is not None
    assert [(r.station, r.state) for r in status.journey] == [
        ("s1", model.JourneyState.DEPARTED), ("s2", model.JourneyState.SKIPPED),
        ("s3", model.JourneyState.ENTERED)]


def test_degraded_grace_clock_is_recorded_then_kept() -> None:
    world, _ = _at_s1({"degraded_grace_seconds": 60}, {"a1": _ok(health=H.DEGRADED)}, T0 + 5, {})
    status = _status_of(decide.decide(world), "t1")
    assert status is not None and status.journey[0].degraded_since == T0 + 5
    world, _ = _at_s1({"degraded_grace_seconds": 60}, {"a1": _ok(health=H.DEGRADED)}, T0 + 30,
                      {"degraded_since": T0 + 5})
    status = _status_of(decide.decide(world), "t1")
    assert status is not None and status.journey[0].degraded_since == T0 + 5


def test_arrival_records_times_and_events_on_each_application() -> None:
    world, _ = _at_s1({"apps": ("a1", "a2"), "soak_seconds": 10}, {"a1": Healthy, "a2": Healthy}, T0 + 7, {})
    result = decide.decide(world)
    status = _status_of(result, "t1")
    assert status is not None
    record = status.journey[0]
    assert (record.state, record.arrived_at, record.healthy_since) == (model.JourneyState.ARRIVED, T0 + 7, T0 + 7)
    on_apps = {a.app for a in result if isinstance(a, actions.EmitEvent) and a.reason is actions.EventReason.ARRIVED}
    assert on_apps == {None, app("a1"), app("a2")}


def test_last_station_completes_and_vacates() -> None:
    world, ticket = _at_s1({}, {"a1": Healthy}, T0 + 1, {})
    moved = dataclasses.replace(ticket.status, station="s3", journey=(*_visited("line", "s3"), dataclasses.replace(
        ticket.status.journey[0], station="s3", pushed=(model.PushedCommit(app("c1"), "u", "b", C),))))
    world = dataclasses.replace(world, tickets={ticket.ref: dataclasses.replace(ticket, status=moved)},
                                apps={app("c1"): Healthy})
    result = decide.decide(world)
    status = _status_of(result, "t1")
    assert status is not None and (status.state, status.station) == (St.COMPLETED, None)
    assert status.journey[-1].state is model.JourneyState.DEPARTED
    assert actions.EventReason.COMPLETED in _reasons(result)


# -- boarding -----------------------------------------------------------------------------------


def _waiting(name: str, created: float, track_name: str = "line", **kwargs: object) -> model.Ticket:
    return model.Ticket(NS, name, f"uid-{name}", created, track_name, snapshot(int(created)), **kwargs)  # type: ignore[arg-type]


def _board_world(tickets: list[model.Ticket], boarding: model.Boarding = model.Boarding.NEWEST_SUPERSEDES,
                 **s1: object) -> model.World:
    return model.World.build(T0, [track("line", ("s1", "s2"), boarding=boarding)],
                             [station("s1", ("a1",), **s1), station("s2", ("b1",))], tickets)


NEWEST = model.Boarding.NEWEST_SUPERSEDES
EVERY = model.Boarding.EVERY_TICKET_RIDES


@pytest.mark.parametrize("tickets, boarding, s1, expected", [
    pytest.param([_waiting("a", 1), _waiting("b", 2), _waiting("c", 3)], NEWEST, {},
                 {"a": (St.SUPERSEDED, None), "b": (St.SUPERSEDED, None), "c": (St.DEPLOYING, "s1")},
                 id="newest-boards-older-superseded"),
    pytest.param([_waiting("a", 1), _waiting("b", 2), _waiting("c", 3)], EVERY, {},
                 {"a": (St.DEPLOYING, "s1"), "b": (St.WAITING, None), "c": (St.WAITING, None)},
                 id="every-ticket-rides-oldest-boards"),
    pytest.param([_waiting("b", 5), _waiting("a", 5)], NEWEST, {},
                 {"a": (St.SUPERSEDED, None), "b": (St.DEPLOYING, "s1")}, id="same-time-name-breaks-tie"),
    pytest.param([_waiting("a", 1), _waiting("b", 2)], NEWEST, {"approval_required": True},
                 {"a": (St.WAITING, None), "b": (St.AWAITING_APPROVAL, None)},
                 id="approval-gate-before-boarding"),
    pytest.param([_waiting("a", 1), _waiting("b", 2, approved_stations=frozenset({"s1"}))], NEWEST,
                 {"approval_required": True},
                 {"a": (St.SUPERSEDED, None), "b": (St.DEPLOYING, "s1")}, id="approved-boards"),
    pytest.param([_waiting("a", 1), _waiting("b", 2)], NEWEST, {"disabled": True},
                 {"a": (St.SUPERSEDED, None), "b": (St.DEPLOYING, "s2")}, id="disabled-first-station-skipped"),
    pytest.param([_waiting("a", 1)], NEWEST, {"tracks": ("nowhere",)},
                 {"a": (St.WAITING, None)}, id="invalid-track-nobody-boards"),
])
def test_boarding(tickets: list[model.Ticket], boarding: model.Boarding, s1: dict[str, object],
                  expected: dict[str, tuple[model.TicketState, str | None]]) -> None:
    world = _board_world(tickets, boarding, **s1)
    result = decide.decide(world)
    got = {}
    for ticket in tickets:
        status = _status_of(result, ticket.name) or ticket.status
        got[ticket.name] = (status.state, status.station)
    assert got == expected


def test_events_go_out_with_their_status_change_before_the_deferrable_push() -> None:
    """A deferred push must not hold back the Boarded/Entered Events: they come right after the status."""
    result = decide.decide(_board_world([_waiting("a", 1)]))
    kinds = [type(a) for a in result if not isinstance(a, actions.SetTrackCondition)]
    assert kinds[0] is actions.UpdateTicketStatus and kinds[-1] is actions.PushStation
    assert set(kinds[1:-1]) == {actions.EmitEvent}
    assert {actions.EventReason.BOARDED, actions.EventReason.ENTERED} <= _reasons(result, "a")


def test_first_station_occupied_nobody_boards_nobody_superseded() -> None:
    holder = model.Ticket(NS, "h", "uid-h", 0.5, "line", snapshot(0), status=model.TicketStatus(
        St.DEPLOYING, "s1", (model.JourneyRecord("s1", model.JourneyState.ENTERED, entered_at=T0),)))
    world = _board_world([holder, _waiting("a", 1), _waiting("b", 2)])
    result = decide.decide(world)
    for name in ("a", "b"):
        status = _status_of(result, name)
        assert status is not None and (status.state, status.station) == (St.WAITING, None)


def test_all_stations_disabled_nobody_boards() -> None:
    world = model.World.build(T0, [track("line", ("s1",))], [station("s1", disabled=True)], [_waiting("a", 1)])
    status = _status_of(decide.decide(world), "a")
    assert status is not None and status.state is St.WAITING and "disabled" in status.message


@pytest.mark.parametrize("boarding", [NEWEST, EVERY], ids=["newest-supersedes", "every-ticket-rides"])
def test_late_older_ticket_never_rides_behind_a_newer_one(boarding: model.Boarding) -> None:
    rider = model.Ticket(NS, "new", "uid-new", 5.0, "line", snapshot(5), status=model.TicketStatus(
        St.COMPLETED, None, (model.JourneyRecord("s1", model.JourneyState.DEPARTED, entered_at=T0),)))
    world = _board_world([rider, _waiting("old", 1)], boarding)
    status = _status_of(decide.decide(world), "old")
    assert status is not None and status.state is St.SUPERSEDED and "new" in status.message


# -- holds: on a held Track nothing boards but the hold's own ticket (a rollback's) -------------


def _held_world(tickets: list[model.Ticket], hold: str | None, hold_ticket: str | None = None,
                boarding: model.Boarding = NEWEST) -> model.World:
    return model.World.build(T0, [track("line", ("s1", "s2"), boarding=boarding, hold=hold, hold_ticket=hold_ticket)],
                             [station("s1", ("a1",)), station("s2", ("b1",))], tickets)


ROLLBACK_HOLD = "rollback to a (ticket rb)"


@pytest.mark.parametrize("tickets, hold, hold_ticket, boarding, expected", [
    pytest.param([_waiting("a", 1)], "freeze", None, NEWEST, {"a": (St.WAITING, None)},
                 id="plain-hold-nothing-boards"),
    pytest.param([_waiting("rb", 1), _waiting("child", 2, parent="rel")], ROLLBACK_HOLD, "rb", NEWEST,
                 {"rb": (St.DEPLOYING, "s1"), "child": (St.WAITING, None)},
                 id="newer-child-waits-and-never-supersedes-the-rollback"),
    pytest.param([_waiting("old", 1), _waiting("rb", 2), _waiting("new", 3)], ROLLBACK_HOLD, "rb", NEWEST,
                 {"old": (St.SUPERSEDED, None), "rb": (St.DEPLOYING, "s1"), "new": (St.WAITING, None)},
                 id="rollback-boards-older-superseded-newer-waits"),
    pytest.param([_waiting("rb", 1), _waiting("new", 2)], ROLLBACK_HOLD, "rb", EVERY,
                 {"rb": (St.DEPLOYING, "s1"), "new": (St.WAITING, None)}, id="every-ticket-rides-only-the-rollback"),
    pytest.param([_waiting("a", 1), _waiting("b", 2)], ROLLBACK_HOLD, "rb", NEWEST,
                 {"a": (St.WAITING, None), "b": (St.WAITING, None)},
                 id="rollback-ticket-not-created-yet-nothing-boards"),
    pytest.param([_waiting("a", 1), _waiting("b", 2)], None, "rb", NEWEST,
                 {"a": (St.SUPERSEDED, None), "b": (St.DEPLOYING, "s1")}, id="not-held-newest-boards"),
])
def test_boarding_on_a_held_track(tickets: list[model.Ticket], hold: str | None, hold_ticket: str | None,
                                  boarding: model.Boarding,
                                  expected: dict[str, tuple[model.TicketState, str | None]]) -> None:
    result = decide.decide(_held_world(tickets, hold, hold_ticket, boarding))
    got = {t.name: ((_status_of(result, t.name) or t.status).state, (_status_of(result, t.name) or t.status).station)
           for t in tickets}
    assert got == expected
    for name, (state, _) in expected.items():
        status = _status_of(result, name)
        if hold is not None and state is St.WAITING:  # every waiting ticket says why and names the hold
            assert status is not None and f"track line is held ({hold})" in status.message
            assert "k8sta resume line" in status.message


def test_a_held_waiting_ticket_is_told_once() -> None:
    world = _held_world([_waiting("a", 1)], "freeze")
    status = _status_of(decide.decide(world), "a")
    assert status is not None
    told = dataclasses.replace(world.tickets[model.TicketRef(NS, "a")], status=status)
    again = decide.decide(dataclasses.replace(world, tickets={told.ref: told}))
    assert [a for a in again if not isinstance(a, actions.SetTrackCondition)] == []


def test_resume_lets_the_newest_waiting_ticket_ride() -> None:
    sim = Sim.of([track("line", ("s1",), hold="freeze")], [station("s1", ("a1",))])
    sim.create("line", name="first")
    sim.now += 1
    sim.create("line", name="second")
    sim.settle()
    assert {n: sim.ticket(n).status.state for n in ("first", "second")} == {"first": St.WAITING,
                                                                            "second": St.WAITING}
    sim.tracks[model.TrackRef(NS, "line")] = track("line", ("s1",))  # k8sta resume line
    sim.settle()
    assert sim.ticket("second").status.station == "s1"
    assert sim.ticket("first").status.state is St.SUPERSEDED


def _rollback_sim() -> Sim:
    """``main`` (dev -> hub, hub a junction to ``region``): the scene of the issue, in the simulator."""
    return Sim.of([track("main", ("dev", "hub")), track("region", ("r1",))],
                  [station("dev", ("dev",)), station("hub", ("hub",), tracks=("region",)), station("r1", ("r1",))])


def _ride(sim: Sim, rounds: int = 4) -> None:
    for _ in range(rounds):
        sim.settle()
        sim.argo_converge()
        sim.now += 1
    sim.settle()


def test_a_junction_child_never_deploys_over_a_rollback() -> None:
    """``k8sta rollback --track region`` holds region; the parent's next ticket passes its junction: its
    child waits at boarding (message naming the hold), the rollback's deployment stays, and resume lets
    the child ride."""
    sim = _rollback_sim()
    sim.create("main", name="v1")
    _ride(sim)
    sim.now += 10
    sim.create("main", name="v3")
    _ride(sim)
    r1 = app("r1")
    assert sim.ticket("v3-region").status.state is St.COMPLETED
    newer = sim.argo[r1].live_render
    sim.now += 10
    region = model.TrackRef(NS, "region")
    sim.tracks[region] = dataclasses.replace(sim.tracks[region], hold="rollback to v1-region (ticket rb)",
                                             hold_ticket="rb")
    rollback = sim.create("region", name="rb")
    sim.edit("rb", snapshot=sim.ticket("v1-region").snapshot)
    _ride(sim)
    assert sim.ticket("rb").status.state is St.COMPLETED
    deployed = sim.argo[r1].live_render
    assert deployed != newer
    sim.now += 10
    sim.create("main", name="v4")  # the parent's next ticket: passes the junction during the hold
    _ride(sim)
    child = sim.ticket("v4-region")
    assert sim.ticket("v4").status.state is St.COMPLETED and child.status.state is St.WAITING
    assert not child.status.boarded and "track region is held (rollback to v1-region (ticket rb))" \
        in child.status.message
    assert sim.argo[r1].live_render == deployed, "the child deployed over the rollback"
    assert rollback.name == "rb" and sim.ticket("rb").snapshot != child.snapshot
    sim.tracks[region] = dataclasses.replace(sim.tracks[region], hold=None, hold_ticket=None)  # k8sta resume
    _ride(sim)
    assert sim.ticket("v4-region").status.state is St.COMPLETED


def test_a_newer_child_never_supersedes_the_waiting_rollback() -> None:
    """The rollback waits at boarding (its first Station is busy) while a newer child arrives on the
    held Track: the rollback boards next, the child waits."""
    sim = _rollback_sim()
    region = model.TrackRef(NS, "region")
    busy = sim.create("region", name="busy")
    sim.settle()  # busy holds r1, still deploying
    assert sim.ticket("busy").status.station == "r1"
    sim.now += 1
    sim.tracks[region] = dataclasses.replace(sim.tracks[region], hold="rollback to x (ticket rb)", hold_ticket="rb")
    sim.create("region", name="rb")
    sim.now += 1
    sim.create("main", name="v4")
    _ride(sim)
    assert busy.name != "rb" and sim.ticket("v4-region").created > sim.ticket("rb").created
    assert sim.ticket("rb").status.state is St.COMPLETED, sim.ticket("rb").status.message
    assert sim.ticket("v4-region").status.state is St.WAITING


# -- occupancy and no overtaking ----------------------------------------------------------------


PATHS = {"line": ("s1", "s2", "s3"), "other": ("o1", "s2")}


def _visited(track_name: str, at: str) -> tuple[model.JourneyRecord, ...]:
    """Departed records for the Stations before ``at`` (a real ticket there has visited them)."""
    path = PATHS.get(track_name, ())
    before = path[:path.index(at)] if at in path else ()
    return tuple(model.JourneyRecord(s, model.JourneyState.DEPARTED, entered_at=T0 - 100, arrived_at=T0 - 90,
                                     departed_at=T0 - 50) for s in before)


def _travelling(name: str, created: float, at: str, arrived: bool = True, commit: str = C,
                track_name: str = "line", app_name: str | None = None, **kwargs: object) -> model.Ticket:
    record = model.JourneyRecord(
        at, model.JourneyState.ARRIVED if arrived else model.JourneyState.ENTERED, entered_at=T0,
        arrived_at=T0 if arrived else None, healthy_since=T0 if arrived else None,
        pushed=(model.PushedCommit(app(app_name or f"{at}-app"), "u", "b", commit),))
    return model.Ticket(NS, name, f"uid-{name}", created, track_name, snapshot(int(created)),
                        status=model.TicketStatus(St.SOAKING, at, (*_visited(track_name, at), record)),
                        **kwargs)  # type: ignore[arg-type]


def _line_world(tickets: list[model.Ticket], stations: tuple[str, ...] = ("s1", "s2", "s3"),
                disabled: tuple[str, ...] = (), extra_tracks: tuple[model.TrackSpec, ...] = (),
                extra_stations: tuple[str, ...] = ()) -> model.World:
    specs = [station(s, (f"{s}-app",), disabled=s in disabled) for s in (*stations, *extra_stations)]
    apps = {app(f"{s}-app"): healthy_at(C, T0) for s in (*stations, *extra_stations)}
    return model.World.build(T0 + 1, [track("line", stations), *extra_tracks], specs, tickets, apps)


def test_front_ticket_moves_first_and_the_next_one_follows_in_the_same_decision() -> None:
    world = _line_world([_travelling("old", 1, "s2"), _travelling("new", 2, "s1")])
    result = decide.decide(world)
    assert (_status_of(result, "old") or model.TicketStatus()).station == "s3"
    assert (_status_of(result, "new") or model.TicketStatus()).station == "s2"


def test_never_passes_a_ticket_parked_at_a_disabled_station() -> None:
    parked = _travelling("parked", 1, "s2")  # s2 was disabled after it entered; s3 not approved for it
    new = _travelling("new", 2, "s1", approved_stations=frozenset({"s3"}))
    world = _line_world([parked, new], disabled=("s2",))
    s3 = world.stations[model.StationRef(NS, "s3")]
    world = dataclasses.replace(world, stations={**world.stations,
                                                 s3.ref: dataclasses.replace(s3, approval_required=True)})
    result = decide.decide(world)
    assert (_status_of(result, "parked") or parked.status).state is St.AWAITING_APPROVAL
    new = _status_of(result, "new")
    assert new is not None and (new.state, new.station) == (St.WAITING, "s1")
    assert "parked" in new.message
    assert (_status_of(result, "parked") or parked.status).station == "s2"


def test_station_shared_by_two_tracks_holds_one_ticket() -> None:
    other = model.TrackSpec(NS, "other", ("o1", "s2"))
    theirs = _travelling("theirs", 1, "s2", track_name="other", arrived=False, commit=OTHER)
    world = _line_world([_travelling("mine", 2, "s1"), theirs], extra_tracks=(other,), extra_stations=("o1",))
    status = _status_of(decide.decide(world), "mine")
    assert status is not None and (status.state, status.station) == (St.WAITING, "s1")
    assert "held by ticket theirs" in status.message


def test_two_tickets_never_enter_one_station_in_one_decision() -> None:
    other = model.TrackSpec(NS, "other", ("o1", "s2"))
    world = _line_world([_travelling("mine", 2, "s1"), _travelling("theirs", 1, "o1", track_name="other")],
                        extra_tracks=(other,), extra_stations=("o1",))
    result = decide.decide(world)
    at_s2 = [name for name in ("mine", "theirs") if (_status_of(result, name) or model.TicketStatus()).station == "s2"]
    assert len(at_s2) == 1


# -- a shared Station: the longest waiter enters first, whatever the Tracks are called ----------


def _ready(name: str, track_name: str, path: tuple[str, ...], at: str, since: float,
           created: float = 1.0) -> model.Ticket:
    """A ticket at ``at`` (every Station before it visited), arrived and soaked since ``since``."""
    visited = tuple(model.JourneyRecord(s, model.JourneyState.DEPARTED, entered_at=since - 100,
                                        arrived_at=since - 90, departed_at=since - 50)
                    for s in path[:path.index(at)])
    record = model.JourneyRecord(at, model.JourneyState.ARRIVED, entered_at=since - 10, arrived_at=since,
                                 healthy_since=since, pushed=(model.PushedCommit(app(f"{at}-app"), "u", "b", C),))
    return model.Ticket(NS, name, f"uid-{name}", created, track_name, snapshot(int(created)),
                        status=model.TicketStatus(St.WAITING, at, (*visited, record)))


def _contest(paths: dict[str, tuple[str, ...]], tickets: list[model.Ticket]) -> model.World:
    names = sorted({s for path in paths.values() for s in path})
    return model.World.build(T0 + 1, [track(n, p) for n, p in paths.items()],
                             [station(s, (f"{s}-app",)) for s in names], tickets,
                             {app(f"{s}-app"): healthy_at(C, T0) for s in names})


def _entries(world: model.World, into: str, passes: int = 3) -> list[str]:
    """Who enters ``into``, pass by pass (each pass applies the statuses the previous one wrote)."""
    entered: list[str] = []
    for _ in range(passes):
        result = decide.decide(world)
        tickets = dict(world.tickets)
        for action in result:
            if isinstance(action, actions.UpdateTicketStatus):
                old = tickets[action.ticket]
                if action.status.station == into and old.status.station != into:
                    entered.append(old.name)
                tickets[action.ticket] = dataclasses.replace(old, status=action.status)
        world = dataclasses.replace(world, tickets=tickets)
    return entered


NAME_ORDERS = [pytest.param("alpha", "zulu", id="older-on-the-first-named-track"),
               pytest.param("zulu", "alpha", id="older-on-the-last-named-track")]


@pytest.mark.parametrize("old_track, new_track", NAME_ORDERS)
@pytest.mark.parametrize("scenario", ["shared-station-free", "freed-in-this-pass-by-the-newer-waiters-track",
                                      "freed-in-this-pass-by-the-older-waiters-track", "both-board",
                                      "newest-supersedes-keeps-the-tracks-place", "departing-against-boarding"])
def test_the_longest_waiter_enters_a_shared_station_first(scenario: str, old_track: str, new_track: str) -> None:
    """Tickets of several Tracks wait for one Station: the one waiting longest enters first. Waiting
    counts from when the ticket was ready to leave its Station (arrived and soaked there), or, before
    boarding, from the creation of the oldest ticket still waiting to board its Track."""
    old_path, new_path = (f"{old_track}-1", "shared"), (f"{new_track}-1", "shared")
    tickets = [_ready("old", old_track, old_path, old_path[0], T0 - 100),
               _ready("new", new_track, new_path, new_path[0], T0 - 50)]
    if scenario.startswith("freed-in-this-pass"):
        holder_track, holder_path = (new_track, new_path) if "newer" in scenario else (old_track, old_path)
        tickets.append(_ready("holder", holder_track, holder_path, "shared", T0 - 200, created=0.5))
    elif scenario == "both-board":
        old_path, new_path = ("shared", f"{old_track}-2"), ("shared", f"{new_track}-2")
        tickets = [_waiting("old", T0 - 100, old_track), _waiting("new", T0 - 50, new_track)]
    elif scenario == "newest-supersedes-keeps-the-tracks-place":
        old_path, new_path = ("shared", f"{old_track}-2"), ("shared", f"{new_track}-2")
        tickets = [_waiting("old-first", T0 - 100, old_track), _waiting("old", T0 - 10, old_track),
                   _waiting("new", T0 - 50, new_track)]
    elif scenario == "departing-against-boarding":
        new_path = ("shared", f"{new_track}-2")
        tickets = [tickets[0], _waiting("new", T0 - 50, new_track)]
    entered = _entries(_contest({old_track: old_path, new_track: new_path}, tickets), "shared")
    assert entered[:1] == ["old"], f"{entered} entered the shared station, in this order"
    assert "new" not in entered


def test_a_ticket_that_yields_a_shared_station_says_who_waited_longer() -> None:
    world = _contest({"alpha": ("alpha-1", "shared"), "zulu": ("zulu-1", "shared")},
                     [_ready("busy", "alpha", ("alpha-1", "shared"), "alpha-1", T0 - 50),
                      _ready("patient", "zulu", ("zulu-1", "shared"), "zulu-1", T0 - 100)])
    result = decide.decide(world)
    busy = _status_of(result, "busy") or world.tickets[model.TicketRef(NS, "busy")].status
    patient = _status_of(result, "patient")
    assert patient is not None and patient.station == "shared"
    assert (busy.state, busy.station) == (St.WAITING, "alpha-1")
    assert "ticket patient of track zulu has waited longer" in busy.message


def test_a_station_freed_for_another_tracks_longer_waiter_stays_free_for_it() -> None:
    """The Track deciding first frees the shared Station; its own follower does not take it: the other
    Track's ticket waited longer. The message names that ticket and since when."""
    world = _contest({"alpha": ("alpha-1", "shared"), "zulu": ("zulu-1", "shared")},
                     [_ready("holder", "alpha", ("alpha-1", "shared"), "shared", T0 - 200, created=0.5),
                      _ready("follower", "alpha", ("alpha-1", "shared"), "alpha-1", T0 - 50),
                      _ready("patient", "zulu", ("zulu-1", "shared"), "zulu-1", T0 - 100)])
    result = decide.decide(world)
    follower = _status_of(result, "follower") or world.tickets[model.TicketRef(NS, "follower")].status
    assert (follower.state, follower.station) == (St.WAITING, "alpha-1")
    assert "ticket patient of track zulu has waited longer" in follower.message
    assert (_status_of(result, "patient") or model.TicketStatus()).station == "shared"


def test_settled_world_yields_no_actions() -> None:
    sim = Sim.of([track("line", ("s1", "s2"))], [station("s1", ("a1",)), station("s2", ("b1",))])
    sim.create("line")
    sim.settle()
    assert sim.step() == []


# -- junctions ----------------------------------------------------------------------------------


def _junction_sim(**junction: object) -> Sim:
    return Sim.of(
        [track("main", ("dev", "hub")), track("eu", ("eu1",)), track("us", ("us1",))],
        [station("dev", ("dev",)), station("hub", ("hub",), tracks=("eu", "us"), **junction),
         station("eu1", ("eu1",)), station("us1", ("us1",))])


def test_junction_spawns_one_child_per_track_only_after_arrival() -> None:
    sim = _junction_sim(soak_seconds=30)
    parent = sim.create("main", name="rel")
    sim.settle()
    sim.argo_converge()
    sim.settle()  # dev arrived -> hub entered, pushed
    assert sim.ticket("rel").status.station == "hub" and not sim.spawned
    sim.now += 10
    sim.argo_converge()
    sim.settle()  # hub arrived: soaking, no children yet
    assert sim.ticket("rel").status.state is St.SOAKING and not sim.spawned
    sim.now += 30
    sim.settle()
    assert [(s.name, s.track) for s in sim.spawned] == [("rel-eu", "eu"), ("rel-us", "us")]
    assert sim.ticket("rel").status.children == ("rel-eu", "rel-us")
    assert sim.ticket("rel").status.state is St.COMPLETED
    for child in ("rel-eu", "rel-us"):
        assert sim.ticket(child).snapshot == parent.snapshot and sim.ticket(child).parent == "rel"
        assert sim.ticket(child).status.state is St.DEPLOYING  # travels independently at once


def test_junction_does_not_respawn_existing_children_but_records_them() -> None:
    sim = _junction_sim()
    sim.create("main", name="rel")
    sim.create("eu", name="rel-eu")  # e.g. created by a previous run
    sim.settle()
    sim.argo_converge()
    sim.settle()
    sim.argo_converge()
    sim.settle()
    assert [s.name for s in sim.spawned] == ["rel-us"]
    assert sim.ticket("rel").status.children == ("rel-eu", "rel-us")


def test_a_failed_child_create_is_retried_until_the_child_exists() -> None:
    """The parent records its children before it departs; one whose create failed is created again,
    even though the parent has completed meanwhile, with the creation time of the original spawn."""
    sim = _junction_sim()
    original = sim.apply
    failures = {"rel-eu": 2}

    def apply(action: actions.Action) -> None:
        if isinstance(action, actions.SpawnTicket) and failures.get(action.name):
            failures[action.name] -= 1  # e.g. the API server was unavailable
            return
        original(action)

    sim.apply = apply  # type: ignore[method-assign]
    sim.create("main", name="rel")
    for _ in range(3):
        sim.settle()
        sim.argo_converge()
    sim.settle()
    parent = sim.ticket("rel").status
    assert parent.state is St.COMPLETED and parent.children == ("rel-eu", "rel-us")
    assert {model.TicketRef(NS, "rel-eu"), model.TicketRef(NS, "rel-us")} <= set(sim.tickets)
    assert set(parent.spawned) == {"rel-eu", "rel-us"}
    (first, *_) = [s for s in sim.spawned if s.name == "rel-eu"]
    assert first.created_at == parent.journey[-1].departed_at
    assert failures["rel-eu"] == 0


def test_a_child_deleted_by_a_human_after_it_existed_stays_deleted() -> None:
    sim = _junction_sim()
    sim.create("main", name="rel")
    for _ in range(3):
        sim.settle()
        sim.argo_converge()
    sim.settle()
    assert set(sim.ticket("rel").status.spawned) == {"rel-eu", "rel-us"}
    del sim.tickets[model.TicketRef(NS, "rel-eu")]  # kubectl delete ticket rel-eu
    sim.now += 60
    sim.settle()
    assert model.TicketRef(NS, "rel-eu") not in sim.tickets
    assert [s.name for s in sim.spawned].count("rel-eu") == 1


def test_a_child_created_again_later_keeps_its_place_and_never_deploys_over_a_newer_one() -> None:
    """rel1 departs the junction but creating rel1-eu fails (API server unavailable) until rel2 has
    departed too and rel2-eu is deploying. Then rel1-eu is created: the API server stamps it now, but
    its place is its parent's departure (the ``created-at`` annotation), so it is older than the
    boarded rel2-eu and is superseded; rel1's older snapshot never reaches eu1."""
    sim = _junction_sim()
    original = sim.apply
    blocked = {"rel1-eu"}

    def apply(action: actions.Action) -> None:
        if isinstance(action, actions.SpawnTicket) and action.name in blocked:
            return  # the create failed
        original(action)

    def ride() -> None:  # decide and let Argo CD converge (rel1's spawn is asked for on every pass)
        for _ in range(4):
            for _ in range(10):
                sim.step()
            sim.argo_converge()

    sim.apply = apply  # type: ignore[method-assign]
    sim.create("main", name="rel1")
    ride()
    assert sim.ticket("rel1").status.state is St.COMPLETED and "rel1-eu" not in {t.name for t in sim.tickets}
    sim.now += 120
    rel2 = sim.create("main", name="rel2")
    ride()
    sim.now += 120
    assert sim.ticket("rel2-eu").status.state is St.COMPLETED
    blocked.clear()
    sim.settle()  # rel1-eu is created at last, four minutes after its parent departed
    child = sim.ticket("rel1-eu")
    assert child.created == sim.ticket("rel1").status.journey[-1].departed_at < sim.ticket("rel2-eu").created
    assert child.status.state is St.SUPERSEDED
    for _ in range(3):
        sim.argo_converge()
        sim.settle()
    owner, _, _ = sim.heads[app("eu1")]
    assert owner == model.TicketRef(NS, "rel2-eu") and sim.ticket("rel2-eu").snapshot == rel2.snapshot


@pytest.mark.parametrize("parent, track_name", [
    pytest.param("rel", "eu", id="short"),
    pytest.param("r" * 60, "eu", id="long-parent"),
    pytest.param("r" * 40, "t" * 40, id="both-long"),
])
def test_child_names_are_deterministic_and_short(parent: str, track_name: str) -> None:
    name = decide.child_ticket_name(parent, track_name)
    assert name == decide.child_ticket_name(parent, track_name)
    assert len(name) <= 63 and name[-1].isalnum()
    assert name != decide.child_ticket_name(parent, track_name + "x")


# -- invalid graphs and references --------------------------------------------------------------


def test_cycle_is_refused_and_nothing_moves() -> None:
    world = model.World.build(
        T0, [track("a", ("a1",)), track("b", ("b1",))],
        [station("a1", ("x",), tracks=("b",)), station("b1", ("y",), tracks=("a",))],
        [_waiting("t", 1, track_name="a")])
    result = decide.decide(world)
    conditions = {a.track.name: a.condition for a in result if isinstance(a, actions.SetTrackCondition)}
    assert {c.reason for c in conditions.values()} == {model.ConditionReason.CYCLE_DETECTED}
    assert all(c.status is model.ConditionStatus.FALSE for c in conditions.values())
    assert "a -> b -> a" in conditions["a"].message
    status = _status_of(result, "t")
    assert status is not None and status.station is None and status.state is St.WAITING
    blocked = status.conditions[0]
    assert (blocked.type, blocked.reason) == (model.ConditionType.BLOCKED, model.ConditionReason.TRACK_NOT_READY)
    assert not [a for a in result if isinstance(a, actions.PushStation)]


def test_tracks_sharing_stations_in_opposite_order_are_refused_and_nobody_boards() -> None:
    """a: (x, y) and b: (y, x) would deadlock (each ticket holding the Station the other waits for)."""
    world = model.World.build(
        T0, [track("a", ("x", "y")), track("b", ("y", "x"))], [station("x", ("x",)), station("y", ("y",))],
        [_waiting("ta", 1, track_name="a"), _waiting("tb", 2, track_name="b")])
    result = decide.decide(world)
    conditions = {a.track.name: a.condition for a in result if isinstance(a, actions.SetTrackCondition)}
    assert {c.reason for c in conditions.values()} == {model.ConditionReason.STATION_ORDER_CONFLICT}
    assert all(c.status is model.ConditionStatus.FALSE for c in conditions.values())
    for name in ("ta", "tb"):
        status = _status_of(result, name)
        assert status is not None and status.station is None and not status.boarded
        assert "a: x -> y; b: y -> x" in status.message
    assert not [a for a in result if isinstance(a, actions.PushStation)]


@pytest.mark.parametrize("paths", [pytest.param({"alpha": ("x",), "zulu": ("y",)}, id="two-tracks"),
                                   pytest.param({"alpha": ("x", "y")}, id="one-track")])
def test_stations_naming_one_application_are_refused_and_nobody_pushes_its_branch(
        paths: dict[str, tuple[str, ...]]) -> None:
    """Occupancy is per Station: two tickets, one at x and one at y, would push the one app branch of
    the Application both name. The Tracks are refused instead, naming the Application and both Stations."""
    at_x = _ready("at-x", "alpha", paths["alpha"], "x", T0 - 100)
    waiting = [_waiting(f"new-{name}", 2, track_name=name) for name in paths]
    world = model.World.build(T0 + 1, [track(name, path) for name, path in paths.items()],
                              [station("x", ("shop",)), station("y", ("shop",))], [at_x, *waiting],
                              {app("shop"): healthy_at(C, T0)})
    result = decide.decide(world)
    conditions = {a.track.name: a.condition for a in result if isinstance(a, actions.SetTrackCondition)}
    assert {c.reason for c in conditions.values()} == {model.ConditionReason.APPLICATION_SHARED}
    assert set(conditions) == set(paths)
    for ticket in (at_x, *waiting):
        status = _status_of(result, ticket.name)
        assert status is not None and status.station == ticket.status.station, ticket.name
        assert "application argocd/shop is named by stations x, y" in status.message
    assert not [a for a in result if isinstance(a, (actions.PushStation, actions.RequestSync))]

def test_unknown_track_blocks_the_ticket_without_crashing() -> None:
    world = model.World.build(T0, [], [], [_waiting("t", 1, track_name="ghost")])
    status = _status_of(decide.decide(world), "t")
    assert status is not None and status.conditions[0].reason is model.ConditionReason.TRACK_NOT_FOUND
    assert "ghost" in status.message


def test_unknown_station_reference_blocks_the_track() -> None:
    world = model.World.build(T0, [track("line", ("s1", "typo"))], [station("s1", ("a1",))], [_waiting("t", 1)])
    result = decide.decide(world)
    (condition,) = [a.condition for a in result if isinstance(a, actions.SetTrackCondition)]
    assert condition.reason is model.ConditionReason.STATION_NOT_FOUND and "typo" in condition.message
    assert (_status_of(result, "t") or model.TicketStatus()).station is None


def test_disabled_track_nothing_moves_even_when_arrived() -> None:
    world = _line_world([_travelling("t", 1, "s1")])
    line = world.tracks[model.TrackRef(NS, "line")]
    world = dataclasses.replace(world, tracks={line.ref: dataclasses.replace(line, disabled=True)})
    status = _status_of(decide.decide(world), "t")
    assert status is not None and status.station == "s1" and status.state is St.SOAKING
    assert status.conditions[0].reason is model.ConditionReason.TRACK_DISABLED


def test_blocked_condition_is_removed_when_the_track_becomes_valid() -> None:
    world = model.World.build(T0, [track("line", ("s1",))], [], [_waiting("t", 1)])
    status = _status_of(decide.decide(world), "t")
    assert status is not None and status.conditions
    ticket = dataclasses.replace(world.tickets[model.TicketRef(NS, "t")], status=status)
    world = model.World.build(T0, [track("line", ("s1",))], [station("s1")], [ticket])
    status = _status_of(decide.decide(world), "t")
    assert status is not None and status.conditions == () and status.station == "s1"


def test_ticket_at_a_station_removed_from_its_track_blocks_the_track() -> None:
    world = _line_world([_travelling("t", 1, "s2"), _travelling("u", 2, "s1")], extra_stations=())
    line = world.tracks[model.TrackRef(NS, "line")]
    world = dataclasses.replace(world, tracks={line.ref: dataclasses.replace(line, stations=("s1", "s3"))})
    result = decide.decide(world)
    for name in ("t", "u"):
        status = _status_of(result, name)
        assert status is not None and status.conditions[0].reason is model.ConditionReason.STATION_OFF_TRACK
    assert (_status_of(result, "u") or model.TicketStatus()).station == "s1"


def test_track_condition_not_rewritten_when_unchanged() -> None:
    sim = Sim.of([track("line", ("s1",))], [station("s1")])
    first = sim.step()
    assert [type(a) for a in first] == [actions.SetTrackCondition]
    assert sim.step() == []


def test_reorder_mid_journey_never_skips_an_unvisited_station_in_silence() -> None:
    """(d1, d2, d3) -> (d1, d3, d2) while the ticket is at d2: d3 is now behind it and was never
    deployed, so the ticket fails naming d3 instead of completing."""
    sim = Sim.of([track("track-d", ("d1", "d2", "d3"))],
                 [station("d1", ("d1",)), station("d2", ("d2",), soak_seconds=60), station("d3", ("d3",))])
    sim.create("track-d", name="t")
    sim.settle()
    sim.argo_converge()
    sim.settle()
    sim.argo_converge()
    sim.settle()
    assert (sim.ticket("t").status.station, sim.ticket("t").status.state) == ("d2", St.SOAKING)
    spec = sim.tracks[model.TrackRef(NS, "track-d")]
    sim.tracks[spec.ref] = dataclasses.replace(spec, stations=("d1", "d3", "d2"))
    sim.now += 60
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.FAILED, status.message
    assert "d3" in status.message and "never visited" in status.message
    assert [r.station for r in status.journey] == ["d1", "d2"]
    assert sim.heads[app("d3")][2] == "0" * 40  # d3 was never deployed
    sim.create("track-d", name="fix")  # a new ticket visits every Station in the new order
    for _ in range(4):
        sim.settle()
        sim.now += 60
        sim.argo_converge()
    sim.settle()
    assert [r.station for r in sim.ticket("fix").status.journey] == ["d1", "d3", "d2"]
    assert sim.ticket("fix").status.state is St.COMPLETED


def test_reorder_of_stations_ahead_visits_them_in_the_new_order() -> None:
    sim = Sim.of([track("line", ("d1", "d2", "d3", "d4"))],
                 [station(n, (n,)) for n in ("d1", "d2", "d3", "d4")])
    sim.create("line", name="t")
    sim.settle()
    spec = sim.tracks[model.TrackRef(NS, "line")]
    sim.tracks[spec.ref] = dataclasses.replace(spec, stations=("d1", "d2", "d4", "d3"))
    for _ in range(5):
        sim.argo_converge()
        sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.COMPLETED and [r.station for r in status.journey] == ["d1", "d2", "d4", "d3"]


def test_a_malformed_ticket_keeps_its_station_and_says_which_field_once() -> None:
    error = "Ticket team/broken: spec.snapshot.images[0].tag: is required"
    broken = model.MalformedTicket(NS, "broken", error, station="s1")
    world = model.World.build(T0, [track("line", ("s1", "s2"))], [station("s1", ("a1",)), station("s2", ("b1",))],
                              [_waiting("new", 5)], malformed=[broken])
    result = decide.decide(world)
    status = _status_of(result, "new")
    assert status is not None and status.station is None and not status.boarded
    assert "held by ticket broken, which cannot be read" in status.message and "images[0].tag" in status.message
    (condition,) = [a for a in result if isinstance(a, actions.SetTicketCondition)]
    assert condition.ticket == broken.ref and condition.condition.message == error
    assert (condition.condition.type, condition.condition.reason) == (model.ConditionType.MALFORMED,
                                                                      model.ConditionReason.INVALID_SPEC)
    (event,) = [a for a in result if isinstance(a, actions.EmitEvent) and a.ticket == broken.ref]
    assert event.type is actions.EventType.WARNING and "images[0].tag" in event.message and "s1" in event.message
    observed = dataclasses.replace(broken, conditions=(condition.condition,))
    world = dataclasses.replace(world, malformed={broken.ref: observed})
    again = decide.decide(world)
    assert not [a for a in again if getattr(a, "ticket", None) == broken.ref]  # once per change


def test_a_ticket_that_reads_again_loses_its_malformed_condition() -> None:
    condition = model.Condition(model.ConditionType.MALFORMED, model.ConditionStatus.TRUE,
                                model.ConditionReason.INVALID_SPEC, "spec.track: is required", T0)
    ticket = dataclasses.replace(_waiting("t", 1), status=model.TicketStatus(conditions=(condition,)))
    status = _status_of(decide.decide(_line_world([ticket])), "t")
    assert status is not None and not [c for c in status.conditions if c.type is model.ConditionType.MALFORMED]


def test_inconsistent_status_fails_the_ticket() -> None:
    broken = model.Ticket(NS, "t", "uid", 1, "line", snapshot(1), status=model.TicketStatus(
        St.DEPLOYING, "s2", (model.JourneyRecord("s1", model.JourneyState.ENTERED, entered_at=T0),)))
    status = _status_of(decide.decide(_line_world([broken])), "t")
    assert status is not None and (status.state, status.station) == (St.FAILED, None)


# -- operator actions: retry and abandon ---------------------------------------------------------


def _failed(name: str, created: float, retry: int = 1, observed: int = 0) -> model.Ticket:
    """Failed at s2 after passing s1."""
    journey = (model.JourneyRecord("s1", model.JourneyState.DEPARTED, entered_at=T0),
               model.JourneyRecord("s2", model.JourneyState.FAILED, entered_at=T0, departed_at=T0 + 1))
    return model.Ticket(NS, name, f"uid-{name}", created, "line", snapshot(int(created)), retry_count=retry,
                        status=model.TicketStatus(St.FAILED, None, journey, observed_retry=observed))


@pytest.mark.parametrize("others, state, where, message", [
    pytest.param([], St.DEPLOYING, "s2", "deploying", id="re-enters-failed-station"),
    pytest.param([_travelling("newer", 2, "s1", arrived=False, commit=OTHER)], St.DEPLOYING, "s2", "deploying",
                 id="newer-ticket-behind-does-not-stop-it"),
    pytest.param([_travelling("newer", 2, "s1")], St.FAILED, None, "retry refused",
                 id="newer-ticket-behind-that-moves-up-first-fixes-forward"),
    pytest.param([_travelling("newer", 2, "s2", arrived=False)], St.FAILED, None, "retry refused",
                 id="newer-ticket-at-the-station-refuses"),
    pytest.param([_travelling("newer", 2, "s3")], St.FAILED, None, "retry refused",
                 id="newer-ticket-beyond-refuses"),
    pytest.param([_travelling("older", 0.5, "s3")], St.DEPLOYING, "s2", "deploying",
                 id="older-ticket-ahead-is-fine"),
])
def test_retry(others: list[model.Ticket], state: model.TicketState, where: str | None, message: str) -> None:
    world = _line_world([_failed("f", 1), *others])
    result = decide.decide(world)
    status = _status_of(result, "f")
    assert status is not None
    assert (status.state, status.station) == (state, where)
    assert status.observed_retry == 1
    assert message in status.message
    if state is St.DEPLOYING:
        assert [r.state for r in status.journey][-2:] == [model.JourneyState.FAILED, model.JourneyState.ENTERED]
        assert actions.EventReason.RETRIED in _reasons(result, "f")
        assert [a.station for a in result if isinstance(a, actions.PushStation) and a.ticket.name == "f"] == ["s2"]
    else:
        assert actions.EventReason.RETRY_REFUSED in _reasons(result, "f")


def test_retry_waits_while_station_held_by_another_track() -> None:
    other = model.TrackSpec(NS, "other", ("o1", "s2"))
    world = _line_world([_failed("f", 1), _travelling("theirs", 0.5, "s2", track_name="other",
                                                      arrived=False, commit=OTHER)],
                        extra_tracks=(other,), extra_stations=("o1",))
    status = _status_of(decide.decide(world), "f")
    assert status is not None and status.state is St.FAILED and status.observed_retry == 0
    assert "retry pending" in status.message


def test_retry_already_observed_does_nothing() -> None:
    world = _line_world([_failed("f", 1, retry=1, observed=1)])
    assert _status_of(decide.decide(world), "f") is None


def test_retry_of_a_travelling_ticket_is_acknowledged_and_ignored() -> None:
    ticket = dataclasses.replace(_travelling("t", 1, "s1", arrived=False, commit=OTHER), retry_count=1)
    world = _line_world([ticket])
    result = decide.decide(world)
    status = _status_of(result, "t")
    assert status is not None and status.observed_retry == 1 and status.station == "s1"
    assert actions.EventReason.RETRY_REFUSED in _reasons(result, "t")


@pytest.mark.parametrize("make, vacates", [
    pytest.param(lambda: _travelling("t", 1, "s2", abandon=True), True, id="at-a-station"),
    pytest.param(lambda: _waiting("t", 1, abandon=True), False, id="waiting"),
])
def test_abandon(make: Callable[[], model.Ticket], vacates: bool) -> None:
    world = _line_world([make(), _travelling("behind", 2, "s1")])
    result = decide.decide(world)
    status = _status_of(result, "t")
    assert status is not None and (status.state, status.station) == (St.ABANDONED, None)
    assert actions.EventReason.ABANDONED in _reasons(result, "t")
    if vacates:
        assert status.journey[-1].state is model.JourneyState.ABANDONED
        assert (_status_of(result, "behind") or model.TicketStatus()).station == "s2"


@pytest.mark.parametrize("state", [St.COMPLETED, St.FAILED, St.SUPERSEDED])
def test_abandon_of_a_terminal_ticket_changes_nothing(state: model.TicketState) -> None:
    ticket = dataclasses.replace(_waiting("t", 1, abandon=True), status=model.TicketStatus(state))
    assert _status_of(decide.decide(_line_world([ticket])), "t") is None


def test_abandon_works_on_a_blocked_track() -> None:
    world = model.World.build(T0, [], [], [_waiting("t", 1, track_name="ghost", abandon=True)])
    status = _status_of(decide.decide(world), "t")
    assert status is not None and status.state is St.ABANDONED


# -- whole journeys through the simulator -------------------------------------------------------


def test_three_stations_second_never_overtakes_third_superseded() -> None:
    sim = Sim.of([track("line", ("dev", "staging", "prod"))],
                 [station("dev", ("dev",)), station("staging", ("staging",)), station("prod", ("prod",))])
    sim.create("line", name="first")
    sim.settle()
    sim.create("line", name="second")
    sim.now += 1
    sim.create("line", name="third")
    sim.settle()
    assert sim.ticket("second").status.state is St.WAITING
    assert sim.ticket("third").status.state is St.WAITING
    for _ in range(8):
        sim.now += 10
        sim.argo_converge()
        sim.settle()
    assert sim.ticket("first").status.state is St.COMPLETED
    assert sim.ticket("second").status.state is St.SUPERSEDED
    assert sim.ticket("third").status.state is St.COMPLETED
    journey = sim.ticket("first").status.journey
    assert [(r.station, r.state) for r in journey] == [
        ("dev", model.JourneyState.DEPARTED), ("staging", model.JourneyState.DEPARTED),
        ("prod", model.JourneyState.DEPARTED)]
    assert all(r.pushed and r.arrived_at is not None for r in journey)


def test_failed_ticket_vacates_and_newer_ticket_fixes_forward() -> None:
    sim = Sim.of([track("line", ("dev", "prod"))], [station("dev", ("dev",)), station("prod", ("prod",))])
    sim.create("line", name="bad")
    sim.settle()
    sim.argo_converge(model.HealthStatus.DEGRADED)
    sim.settle()
    assert sim.ticket("bad").status.state is St.FAILED
    sim.create("line", name="fix")
    for _ in range(4):
        sim.now += 5
        sim.argo_converge()
        sim.settle()
    assert sim.ticket("fix").status.state is St.COMPLETED
    sim.retry("bad")
    sim.settle()
    assert "retry refused" in sim.ticket("bad").status.message


def test_approval_gate_holds_until_approved() -> None:
    sim = Sim.of([track("line", ("dev", "prod"))],
                 [station("dev", ("dev",)), station("prod", ("prod",), approval_required=True)])
    sim.create("line", name="t")
    sim.settle()
    sim.argo_converge()
    sim.settle()
    assert (sim.ticket("t").status.state, sim.ticket("t").status.station) == (St.AWAITING_APPROVAL, "dev")
    sim.now += 3600
    sim.settle()
    assert sim.ticket("t").status.state is St.AWAITING_APPROVAL
    sim.approve("t", "prod")
    sim.settle()
    assert (sim.ticket("t").status.state, sim.ticket("t").status.station) == (St.DEPLOYING, "prod")


def test_suspended_holds_then_resumes() -> None:
    sim = Sim.of([track("line", ("dev",))], [station("dev", ("dev",))])
    sim.create("line", name="t")
    sim.settle()
    sim.argo_converge(model.HealthStatus.SUSPENDED)
    sim.settle()
    assert sim.ticket("t").status.state is St.SUSPENDED
    sim.now += 600
    sim.settle()
    assert sim.ticket("t").status.state is St.SUSPENDED
    sim.argo_converge()
    sim.settle()
    assert sim.ticket("t").status.state is St.COMPLETED


def test_retry_after_failure_pushes_again_idempotently_and_can_arrive() -> None:
    """A Degraded report from before the retry is history: the retry waits for a fresh reconciliation."""
    sim = Sim.of([track("line", ("dev",))], [station("dev", ("dev",))])
    sim.create("line", name="t")
    sim.settle()
    sim.argo_converge(model.HealthStatus.DEGRADED)
    sim.settle()
    assert sim.ticket("t").status.state is St.FAILED
    failed_commit = sim.ticket("t").status.journey[-1].pushed[0].commit
    sim.now += 60
    sim.retry("t")
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.DEPLOYING and status.journey[-1].pushed[0].commit == failed_commit
    assert "reconcile" in status.message  # the old Degraded verdict is not judged
    sim.argo_converge()  # the cause was fixed meanwhile: Argo CD finds it Healthy
    sim.settle()
    assert sim.ticket("t").status.state is St.COMPLETED


def _failed_sync(sim: Sim, ref: model.AppRef) -> None:
    """Ticket ``t`` on Track ``line`` whose sync of its commit at ``dev`` fails (e.g. a missing namespace)."""
    sim.create("line", name="t")
    sim.settle()
    if sim.argo[ref].automated:
        sim.refresh(ref)  # OutOfSync at our commit: automated sync starts an operation
    else:
        sim.step()  # decide requests the sync
    sim.now += 5
    sim.finish(ref, ok=False)
    sim.refresh(ref)  # Argo CD compares again; its automated sync does not try that revision again
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.FAILED and "Failed" in status.message


def test_retry_after_a_sync_failure_under_automated_sync_arrives_once_the_cause_is_fixed() -> None:
    """Issue 19, item 1. Only operations that started after the retry count; automated sync never retries
    a revision it attempted, and Argo CD refuses a sync naming a revision while automated sync is on,
    so decide requests a sync of the Application's target (which is our commit), pruning as it would."""
    sim = Sim.of([track("line", ("dev",))], [station("dev", ("dev",))])
    ref = app("dev")
    _failed_sync(sim, ref)
    commit = sim.pushed("t", "dev")
    condition = sim.argo[ref].status.conditions
    assert condition == (model.AppCondition("SyncError", f"Failed last sync attempt to [{commit}]: "
                                                         "one or more objects failed to apply"),)
    sim.now += 120  # an operator creates the namespace, then retries
    sim.retry("t")
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.DEPLOYING, status.message
    retried = status.journey[-1]  # the retry's visit, and so what it judges, starts now
    assert retried.entered_at == sim.now and "retry #1" in retried.message
    assert sim.pushed("t", "dev") == commit  # the push was a no-op: the branch head is the failed commit
    assert sim.sync_requests == [actions.RequestSync(model.TicketRef(NS, "t"), "dev", ref, commit or "",
                                                     pin=False, prune=True)]
    assert sim.argo[ref].status.sync_refused is None  # Argo CD accepted it
    assert sim.argo[ref].status.operation_running and sim.argo[ref].status.operation_started_at == sim.now
    assert sim.argo[ref].status.operation_revision == commit and sim.argo[ref].pruned is True
    sim.now += 5
    sim.argo_converge()
    sim.settle()
    assert sim.ticket("t").status.state is St.COMPLETED, sim.ticket("t").status.message


def test_retry_after_a_sync_failure_under_manual_sync_asks_for_the_commit_without_prune() -> None:
    """Without automated sync decide pins its commit; and, like Argo CD's UI and CLI, does not prune
    unless the Application's own policy does (issue 19, item 8)."""
    sim = Sim.of([track("line", ("dev",))], [station("dev", ("dev",))], manual=("dev",))
    ref = app("dev")
    _failed_sync(sim, ref)
    commit = sim.pushed("t", "dev") or ""
    assert sim.sync_requests == [actions.RequestSync(model.TicketRef(NS, "t"), "dev", ref, commit,
                                                     pin=True, prune=False)]
    sim.now += 120
    sim.retry("t")
    sim.settle()
    assert sim.sync_requests[-1] == actions.RequestSync(model.TicketRef(NS, "t"), "dev", ref, commit,
                                                        pin=True, prune=False)
    assert sim.argo[ref].status.operation_running and sim.argo[ref].pruned is False
    sim.now += 5
    sim.argo_converge()
    sim.settle()
    assert sim.ticket("t").status.state is St.COMPLETED, sim.ticket("t").status.message


def test_a_retry_under_automated_sync_waits_until_argo_cd_resolved_its_target_to_our_commit() -> None:
    """Argo CD syncs its target as it resolves it when it accepts: asking before its comparison saw our
    commit could deploy another head, so decide waits for that comparison (the push's hard refresh)."""
    sim = Sim.of([track("line", ("dev",))], [station("dev", ("dev",))])
    ref = app("dev")
    _failed_sync(sim, ref)
    sim._report(ref, synced_revision=INITIAL)  # as if Argo CD's last comparison had seen an older head
    sim.now += 120
    sim.retry("t")
    sim.settle()
    assert not sim.sync_requests
    sim.refresh(ref)
    sim.step()
    assert [r.pin for r in sim.sync_requests] == [False] and sim.argo[ref].status.operation_running


def test_fake_argo_cd_refuses_an_explicit_revision_while_automated_sync_is_on() -> None:
    """The simulator's Argo CD follows server/application/application.go: with automated sync only a
    sync of the targetRevision (or none named) is accepted; a manual-sync Application takes any."""
    sim = Sim.of([track("line", ("dev", "qa"))], [station("dev", ("dev",)), station("qa", ("qa",))],
                 manual=("qa",))
    pinned = actions.RequestSync(model.TicketRef(NS, "t"), "dev", app("dev"), C, pin=True, prune=True)
    assert sim.request_sync(pinned) == f"HTTP 400: Cannot sync to {C}: auto-sync currently set to env/dev"
    assert sim.argo[app("dev")].status.sync_refused == model.SyncRefusal(
        C, f"HTTP 400: Cannot sync to {C}: auto-sync currently set to env/dev")
    assert not sim.argo[app("dev")].status.operation_running
    assert sim.request_sync(dataclasses.replace(pinned, pin=False)) is None
    assert sim.argo[app("dev")].status.operation_revision == INITIAL  # the target's head, resolved now
    assert sim.argo[app("dev")].status.sync_refused is None
    assert sim.request_sync(dataclasses.replace(pinned, app=app("qa"), station="qa")) is None
    assert sim.argo[app("qa")].status.operation_revision == C


def _blocked_by_a_sync_window(timeout: float | None = None) -> tuple[Sim, model.AppRef, str]:
    sim = Sim.of([track("line", ("dev",))], [station("dev", ("dev",), timeout_seconds=timeout)], manual=("dev",))
    ref = app("dev")
    sim.sync_window(ref, active=True)
    sim.create("line", name="t")
    for _ in range(4):  # board, push; then decide asks on every pass (the executor's backoff spaces them)
        sim.step()
        sim.refresh(ref)
        sim.now += 10
    commit = sim.pushed("t", "dev") or ""
    return sim, ref, f"Argo CD refused K8sTA's sync of {commit[:12]}: HTTP 403: cannot sync: blocked by sync window"


def test_argo_cd_refusing_a_sync_is_named_in_the_ticket_message_until_it_accepts() -> None:
    """A refusal is never silent: the ticket's message names Argo CD's answer, with one Warning Event on the
    ticket and one on the Application; once Argo CD accepts, the message moves on and the ticket arrives."""
    sim, ref, words = _blocked_by_a_sync_window()
    status = sim.ticket("t").status
    assert status.state is St.DEPLOYING and words in status.message, status.message
    warned = [e for e in sim.events if e.reason is actions.EventReason.SYNC_REFUSED]
    assert [(e.app, e.type) for e in warned] == [(None, actions.EventType.WARNING), (ref, actions.EventType.WARNING)]
    assert words in warned[0].message and "station dev" in warned[0].message
    sim.sync_window(ref, active=False)
    sim.step()  # decided while refused; the request of this pass is accepted
    assert sim.argo[ref].status.operation_running and sim.argo[ref].status.sync_refused is None
    sim.step()
    assert "refused" not in sim.ticket("t").status.message
    sim.now += 5
    sim.argo_converge()
    sim.settle()
    assert sim.ticket("t").status.state is St.COMPLETED


def test_a_ticket_whose_sync_argo_cd_keeps_refusing_fails_at_its_timeout_naming_the_refusal() -> None:
    sim, _, words = _blocked_by_a_sync_window(timeout=300)
    sim.now += 300
    sim.step()
    status = sim.ticket("t").status
    assert status.state is St.FAILED and "timeout" in status.message and words in status.message, status.message


def test_unchanged_render_at_one_of_two_applications_arrives_without_an_operation() -> None:
    """The issue's case: the new pins leave one Application's render unchanged, so Argo CD finds it
    Synced at our commit and never starts an operation for it; the ticket still completes."""
    sim = Sim.of([track("line", ("dev", "prod"))],
                 [station("dev", ("api", "worker")), station("prod", ("papi", "pworker"))],
                 static=("worker", "pworker"))
    sim.create("line", name="t")
    for _ in range(4):
        sim.settle()
        sim.now += 10
        sim.argo_converge()
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.COMPLETED, status.message
    worker = sim.argo[app("worker")].status
    assert worker.synced_revision == status.journey[0].pushed_commit(app("worker"))
    assert worker.operation_phase is None  # Argo CD never ran an operation for it


def test_manual_sync_is_requested_until_an_operation_for_our_commit_exists() -> None:
    sim = Sim.of([track("line", ("dev",))], [station("dev", ("dev",))], manual=("dev",))
    ref = app("dev")
    sim.sync(ref, "e" * 40)  # someone else's operation is in progress
    sim.renders["e" * 40] = "initial"
    sim.create("line", name="t")
    sim.settle()
    sim.refresh(ref)
    sim.settle()
    assert "sync operation for eeeeeeeeeeee Running" in sim.ticket("t").status.message
    assert not sim.sync_requests  # one operation at a time: asking now would be refused
    sim.finish(ref)  # the other operation ends; now nothing runs and ours does not exist
    result = sim.step()
    ours = sim.pushed("t", "dev")
    assert [a for a in result if isinstance(a, actions.RequestSync)] == [
        actions.RequestSync(model.TicketRef(NS, "t"), "dev", ref, ours or "", pin=True, prune=False)]
    assert sim.argo[ref].status.operation_revision == ours and sim.argo[ref].status.operation_running
    assert not [a for a in sim.step() if isinstance(a, actions.RequestSync)]  # it exists: no more requests
    sim.now += 5
    sim.argo_converge()
    sim.settle()
    assert sim.ticket("t").status.state is St.COMPLETED


def _soaking_at_staging(*after: str, soaked: float = 30, **staging: object,
                        ) -> tuple[Sim, model.AppRef, str | None]:
    """Ticket ``t`` soaking at Station ``staging`` (``soak_seconds`` 60 unless ``staging`` says), ``soaked``
    seconds in; the Stations ``after`` follow it on the Track."""
    sim = Sim.of([track("line", ("staging", *after))],
                 [station("staging", ("staging",), **{"soak_seconds": 60, **staging}),
                  *(station(s, (s,)) for s in after)])
    sim.create("line", name="t")
    sim.settle()
    sim.argo_converge()
    sim.settle()
    assert sim.ticket("t").status.state is St.SOAKING
    sim.now += soaked
    return sim, app("staging"), sim.pushed("t", "staging")


def test_arrival_lost_to_a_comparison_error_fails_after_the_timeout_naming_the_error() -> None:
    """A hand edit makes Argo CD's render fail while the ticket soaks: the timeout counts again from
    the lost arrival, and the message carries Argo CD's ComparisonError instead of 'Unknown at ...'."""
    sim, ref, _ = _soaking_at_staging(soaked=100, soak_seconds=600, timeout_seconds=300)
    sim.comparison_error(ref, "rendered sha256 abc does not match recorded def")
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.DEPLOYING
    assert "ComparisonError: rendered sha256 abc does not match recorded def" in status.message
    assert status.journey[-1].arrival_lost_at == sim.now and "unless it recovers" in status.message
    sim.now += 299
    sim.settle()
    assert sim.ticket("t").status.state is St.DEPLOYING
    sim.now += 1
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.FAILED and "not recovered within the 300s timeout" in status.message
    assert "ComparisonError" in status.message


def test_hand_edit_while_soaking_is_recorded_repaired_on_top_and_the_ticket_completes() -> None:
    sim, ref, ours = _soaking_at_staging()
    human = sim.hand_edit(ref)
    result = sim.step()
    status = sim.ticket("t").status
    assert status.journey[-1].drift == (model.Drift(ref, "env/staging", human),)
    warnings = [a for a in result if isinstance(a, actions.EmitEvent) and a.reason is actions.EventReason.DRIFT]
    assert {w.app for w in warnings} == {None, ref} and all(w.type is actions.EventType.WARNING for w in warnings)
    assert all(human[:12] in w.message and "restoring" in w.message for w in warnings)
    (repair,) = [a for a in result if isinstance(a, actions.RepairDrift)]
    assert repair == actions.RepairDrift(model.TicketRef(NS, "t"), "staging", ref, "env/staging", human, ours)
    assert status.state is St.DEPLOYING and "edited by hand" in status.message  # not arrived meanwhile
    repaired = sim.pushed("t", "staging")
    assert repaired not in (ours, human) and sim.renders[repaired or ""] == sim.renders[ours or ""]
    sim.settle()
    assert not sim.human and len(sim.repairs) == 1  # drift gone: no more repairs
    sim.argo_converge()
    sim.settle()
    sim.now += 60
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.COMPLETED, status.message
    assert status.journey[-1].drift == (model.Drift(ref, "env/staging", human),)  # history keeps it


def test_hand_edit_with_self_heal_off_is_not_repaired_and_fails_at_the_timeout() -> None:
    sim, ref, _ = _soaking_at_staging(soak_seconds=600, timeout_seconds=300, self_heal=False)
    human = sim.hand_edit(ref)
    sim.settle()
    sim.argo_converge()  # Argo CD syncs the human commit
    sim.settle()
    status = sim.ticket("t").status
    assert not sim.repairs and status.state is St.DEPLOYING
    assert "edited by hand" in status.message and "selfHeal is off" in status.message and human[:12] in status.message
    sim.now += 300
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.FAILED and "not recovered within the 300s timeout" in status.message


def test_hand_edit_of_a_branch_nobody_deploys_is_repaired_to_the_newest_k8sta_commit() -> None:
    sim = Sim.of([track("line", ("dev", "prod"))], [station("dev", ("dev",)), station("prod", ("prod",))])
    human = sim.hand_edit(app("prod"))
    result = sim.step()
    assert [a for a in result if isinstance(a, actions.RepairDrift)] == [
        actions.RepairDrift(None, "prod", app("prod"), "env/prod", human, None, namespace=NS)]
    assert not sim.human and sim.renders[sim.heads[app("prod")][2]] == "initial"


def test_recovered_arrival_clears_the_lost_clock() -> None:
    sim = Sim.of([track("line", ("staging",))], [station("staging", ("staging",), soak_seconds=600,
                                                         timeout_seconds=300)])
    sim.create("line", name="t")
    sim.settle()
    sim.argo_converge()
    sim.settle()
    sim.now += 100
    sim.comparison_error(app("staging"), "boom")
    sim.settle()
    sim.now += 200
    sim.argo_converge()
    sim.settle()
    record = sim.ticket("t").status.journey[-1]
    assert sim.ticket("t").status.state is St.SOAKING and record.arrival_lost_at is None
    assert record.healthy_since == sim.now


# -- overlay-only re-renders during a visit ----------------------------------------------------

R = "e" * 40  # K8sTA's re-render of C for an overlay-only main commit


def _rerendered_at_s1(ticket_trailer: str, station_trailer: str = "s1",
                      app_status: model.AppStatus | None = None) -> list[actions.Action]:
    world, _ = _at_s1({}, {"a1": app_status or healthy_at(R, T0 + 5)}, T0 + 10, {})
    found = model.Rerendered(app("a1"), "env/a1", R, ticket=ticket_trailer, station=station_trailer)
    return decide.decide(dataclasses.replace(world, rerendered={found.app: found}))


def test_a_visit_adopts_the_re_render_of_its_commit_and_arrives_at_it() -> None:
    result = _rerendered_at_s1(f"{NS}/t1")
    status = _status_of(result, "t1")
    assert status is not None
    [visit] = [r for r in status.journey if r.station == "s1"]
    assert visit.pushed_commit(app("a1")) == R and visit.arrived_at == T0 + 10
    assert status.station == "s2"  # arrived at the re-rendered commit, so it departed (no soak here)
    [event] = [a for a in result if isinstance(a, actions.EmitEvent) and a.reason is actions.EventReason.RERENDERED]
    assert R[:12] in event.message and C[:12] in event.message and event.app is None
    assert not [a for a in result if isinstance(a, actions.RequestSync)]


def test_an_adopted_re_render_is_judged_like_any_commit_of_the_visit() -> None:
    progressing = dataclasses.replace(healthy_at(R, T0 + 5), health=H.PROGRESSING)
    status = _status_of(_rerendered_at_s1(f"{NS}/t1", app_status=progressing), "t1")
    assert status is not None and status.state is St.DEPLOYING
    assert status.current is not None and status.current.pushed_commit(app("a1")) == R
    assert "Progressing" in status.message


@pytest.mark.parametrize("ticket_trailer, station_trailer", [(f"{NS}/t9", "s1"), (f"{NS}/t1", "s0")],
                         ids=["another-ticket", "another-station"])
def test_a_re_render_of_another_visit_is_not_adopted(ticket_trailer: str, station_trailer: str) -> None:
    result = _rerendered_at_s1(ticket_trailer, station_trailer)
    status = _status_of(result, "t1")
    assert status is not None and status.current is not None
    assert status.current.pushed_commit(app("a1")) == C
    assert status.state is St.DEPLOYING and f"waiting for {C[:12]}" in status.message
    assert actions.EventReason.RERENDERED not in _reasons(result)


def test_an_overlay_re_render_while_soaking_is_adopted_deployed_and_the_ticket_completes_on_it() -> None:
    """Argo CD (automated sync) deploys the re-render; the visit waits for that, never for its old commit."""
    sim, ref, ours = _soaking_at_staging("prod")
    requested_before = len(sim.sync_requests)
    rerendered = sim.rerender(ref)
    result = sim.step()
    assert sim.pushed("t", "staging") == rerendered != ours
    [event] = [a for a in result if isinstance(a, actions.EmitEvent) and a.reason is actions.EventReason.RERENDERED]
    assert rerendered[:12] in event.message and (ours or "")[:12] in event.message
    sim.argo_converge()
    sim.settle()
    sim.now += 60
    sim.settle()
    sim.argo_converge()
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.COMPLETED, status.message
    assert sim.truly_arrived(ref, rerendered)  # what runs in staging is the re-render
    assert ours not in {r.revision for r in sim.sync_requests[requested_before:]}  # never asked to sync it back
    assert len([e for e in sim.events if e.reason is actions.EventReason.RERENDERED]) == 1


# -- Applications re-pointed mid-visit; multi-source Applications (issue 19 item 7) -----------------

SOAKED = {"arrived_at": T0, "healthy_since": T0, "state": model.JourneyState.ARRIVED}


@pytest.mark.parametrize("seen, says", [
    pytest.param(Healthy, None, id="where-it-points-unknown"),
    pytest.param(_ok(repo_url="file:///c.git", target_revision="env/a1"), None, id="unchanged"),
    pytest.param(_ok(repo_url="file:///c.git", target_revision="env/a1-blue"), "re-pointed to env/a1-blue",
                 id="another-branch"),
    pytest.param(_ok(repo_url="file:///elsewhere.git", target_revision="env/a1"),
                 "re-pointed to env/a1 in file:///elsewhere.git", id="another-repository"),
])
def test_an_application_re_pointed_mid_visit_is_pushed_again(seen: model.AppStatus, says: str | None) -> None:
    world, _ = _at_s1({"soak_seconds": 60, "timeout_seconds": 300}, {"a1": seen}, T0 + 10, dict(SOAKED))
    result = decide.decide(world)
    pushes = [a for a in result if isinstance(a, actions.PushStation)]
    status = _status_of(result, "t1")
    if says is None:
        assert not pushes and status is not None and status.state is St.SOAKING
        return
    assert pushes == [actions.PushStation(model.TicketRef(NS, "t1"), "line", "s1", (app("a1"),), snapshot(1))]
    assert status is not None and (status.state, status.station) == (St.DEPLOYING, "s1")
    assert says in status.message and "pushed to env/a1 in file:///c.git" in status.message
    record = status.journey[-1]
    assert record.healthy_since is None and record.arrival_lost_at == T0 + 10  # soak restarts, timeout counts


def test_a_re_pointed_application_that_is_never_pushed_fails_at_the_timeout() -> None:
    moved = _ok(repo_url="file:///c.git", target_revision="env/a1-blue")
    world, _ = _at_s1({"timeout_seconds": 300}, {"a1": moved}, T0 + 300, {})
    status = _status_of(decide.decide(world), "t1")
    assert status is not None and status.state is St.FAILED and "not pushed within the 300s" in status.message


def test_re_pointed_mid_visit_the_ticket_deploys_to_the_new_branch_and_completes() -> None:
    sim, ref, ours = _soaking_at_staging(timeout_seconds=600)
    sim.repoint(ref, "env/staging-blue")  # Argo CD now renders another branch (and auto-syncs it)
    sim.argo_converge()
    sim.settle()
    sim.argo_converge()
    sim.settle()
    sim.now += 60
    sim.settle()
    status = sim.ticket("t").status
    assert status.state is St.COMPLETED, status.message
    (pushed,) = status.journey[-1].pushed
    assert pushed.branch == "env/staging-blue" and pushed.commit != ours
    assert sim.truly_arrived(ref, pushed.commit)


def test_a_sync_request_for_a_multi_source_application_names_the_k8sta_source() -> None:
    sim = Sim.of([track("line", ("dev",))], [station("dev", ("dev",))], manual=("dev",))
    ref = app("dev")
    sim._report(ref, source_position=2)  # spec.sources: [values, k8sta]
    sim.create("line", name="t")
    sim.settle()
    sim.refresh(ref)
    sim.settle()
    assert sim.sync_requests == [
        actions.RequestSync(model.TicketRef(NS, "t"), "dev", ref, sim.pushed("t", "dev") or "", pin=True, prune=False,
                            source_position=2)]


def test_a_hand_edit_the_watcher_has_not_seen_is_pushed_over_by_the_next_ticket_and_recorded() -> None:
    """Issue 19 item 4: the next ticket's push meets the edit first; the visit says so, as a repair would."""
    sim = Sim.of([track("line", ("dev",))], [station("dev", ("dev",))])
    ref = app("dev")
    sim.create("line", name="t1")
    sim.settle()
    sim.argo_converge()
    sim.settle()
    assert sim.ticket("t1").status.state is St.COMPLETED
    human = sim.hand_edit(ref, seen=False)  # e.g. `git rm -r .k8sta`, pushed between two watcher scans
    sim.create("line", name="t2")
    sim.settle()
    record = sim.ticket("t2").status.journey[-1]
    assert record.drift == (model.Drift(ref, "env/dev", human),)
    warnings = [e for e in sim.events if e.reason is actions.EventReason.DRIFT]
    assert {w.app for w in warnings} == {None, ref} and all(human[:12] in w.message for w in warnings)
    assert not sim.repairs  # the push took the repair's place
    sim.argo_converge()
    sim.settle()
    assert sim.ticket("t2").status.state is St.COMPLETED
    assert sim.truly_arrived(ref, sim.pushed("t2", "dev"))
