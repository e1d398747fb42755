"""``core.station_status``: what a Station's status says runs there, and when it is written (pure)."""

from __future__ import annotations

import dataclasses

import pytest

from k8sta_daemon.core import actions, model, station_status
from k8sta_daemon.core.station_status import AppVersion, BranchHead, Source, StationStatus

NS = "shop"
API = model.AppRef("argocd", "api-dev")
WEB = model.AppRef("argocd", "web-dev")
DEV = model.StationSpec(namespace=NS, name="dev", applications=(API, WEB))
REF = DEV.ref
OLD = model.Snapshot("1" * 40, (model.ImagePin("registry.local/shop/api", "1.0.0", "sha256:" + "a" * 64),))
NEW = model.Snapshot("2" * 40, (model.ImagePin("registry.local/shop/api", "1.1.0", "sha256:" + "b" * 64),))
SYNCED, HEALTHY = model.SyncStatus.SYNCED, model.HealthStatus.HEALTHY
GOOD = model.AppStatus(sync_status=model.SyncStatus.SYNCED, health=model.HealthStatus.HEALTHY, reconciled_at=50)


def pushed(ticket: str) -> tuple[model.PushedCommit, ...]:
    return tuple(model.PushedCommit(app, "https://git.local/config.git", f"env/{app.name}", f"{ticket}-{app.name}")
                 for app in (API, WEB))


def ticket(name: str, snapshot: model.Snapshot, *, entered: float, arrived: float | None,
           state: model.TicketState = model.TicketState.COMPLETED, at_dev: bool = False) -> model.Ticket:
    """A ticket that visited dev (``at_dev``: still holding it)."""
    record = model.JourneyRecord(
        station="dev", state=model.JourneyState.ARRIVED if at_dev and arrived else
        model.JourneyState.ENTERED if at_dev else model.JourneyState.DEPARTED,
        entered_at=entered, arrived_at=arrived, departed_at=None if at_dev else (arrived or entered) + 1,
        pushed=pushed(name))
    status = model.TicketStatus(state=state, station="dev" if at_dev else None, journey=(record,))
    return model.Ticket(namespace=NS, name=name, uid=name, created=entered - 1, track="api", snapshot=snapshot,
                        status=status)


def world(*tickets: model.Ticket, apps: dict[model.AppRef, model.AppStatus] | None = None) -> model.World:
    return model.World.build(now=1_000, stations=[DEV], tickets=list(tickets),
                             apps={API: GOOD, WEB: GOOD} if apps is None else apps)


def decide(w: model.World, observed: StationStatus | None = None,
           heads: dict[model.AppRef, BranchHead] | None = None) -> list[actions.UpdateStationStatus]:
    return station_status.decide(w, {REF: observed}, heads or {})


def written(w: model.World, observed: StationStatus | None = None,
            heads: dict[model.AppRef, BranchHead] | None = None) -> StationStatus:
    (action,) = decide(w, observed, heads)
    assert action.station == REF
    return action.status


def test_a_ride_records_snapshot_ticket_arrival_commits_and_verdicts() -> None:
    status = written(world(ticket("api-1", OLD, entered=100, arrived=110)))
    assert status == StationStatus(
        source=Source.TICKET, snapshot=OLD, ticket="api-1", track="api", arrived_at=110,
        applications=(AppVersion(API, "env/api-dev", "api-1-api-dev", SYNCED, HEALTHY),
                      AppVersion(WEB, "env/web-dev", "api-1-web-dev", SYNCED, HEALTHY)))
    assert status.version == "1111111 api:1.0.0"


def test_nothing_is_written_when_the_status_is_unchanged() -> None:
    w = world(ticket("api-1", OLD, entered=100, arrived=110))
    assert decide(w, written(w)) == []


def test_an_argo_cd_refresh_writes_nothing_a_verdict_change_writes_once() -> None:
    w = world(ticket("api-1", OLD, entered=100, arrived=110))
    before = written(w)
    refreshed = dataclasses.replace(w, apps={API: dataclasses.replace(GOOD, reconciled_at=400), WEB: GOOD})
    assert decide(refreshed, before) == []
    degraded = dataclasses.replace(w, apps={API: dataclasses.replace(GOOD, health=model.HealthStatus.DEGRADED),
                                            WEB: GOOD})
    after = written(degraded, before)
    assert [a.health for a in after.applications] == [model.HealthStatus.DEGRADED, model.HealthStatus.HEALTHY]
    assert (after.ticket, after.snapshot) == (before.ticket, before.snapshot)


def test_a_ride_in_progress_leaves_the_status_until_it_arrives() -> None:
    first = ticket("api-1", OLD, entered=100, arrived=110)
    before = written(world(first))
    riding = ticket("api-2", NEW, entered=200, arrived=None, state=model.TicketState.DEPLOYING, at_dev=True)
    busy = {API: dataclasses.replace(GOOD, sync_status=model.SyncStatus.OUT_OF_SYNC,
                                     health=model.HealthStatus.PROGRESSING), WEB: GOOD}
    assert decide(world(first, riding, apps=busy), before) == []  # no write per Argo CD report on the way
    arrived = ticket("api-2", NEW, entered=200, arrived=230, state=model.TicketState.SOAKING, at_dev=True)
    after = written(world(first, arrived), before)
    assert (after.ticket, after.snapshot, after.arrived_at) == ("api-2", NEW, 230)
    assert [a.commit for a in after.applications] == ["api-2-api-dev", "api-2-web-dev"]


def test_a_rollback_shows_the_older_snapshot_it_brought_back() -> None:
    first = ticket("api-1", OLD, entered=100, arrived=110)
    second = ticket("api-2", NEW, entered=200, arrived=230)
    at_new = written(world(first, second))
    assert at_new.snapshot == NEW
    rollback = ticket("api-rollback-1", OLD, entered=300, arrived=320)
    after = written(world(first, second, rollback), at_new)
    assert (after.ticket, after.snapshot, after.arrived_at) == ("api-rollback-1", OLD, 320)
    assert after.version == "1111111 api:1.0.0"


def test_an_older_arrival_never_replaces_the_written_one() -> None:
    """A part of the World without the newest ticket, or a deleted ticket, must not turn the clock back."""
    newest = written(world(ticket("api-2", NEW, entered=200, arrived=230)))
    assert decide(world(ticket("api-1", OLD, entered=100, arrived=110)), newest) == []
    assert decide(world(), newest) == []


def test_a_failed_ride_keeps_the_last_arrival_and_shows_the_verdicts() -> None:
    first = ticket("api-1", OLD, entered=100, arrived=110)
    before = written(world(first))
    failed = ticket("api-2", NEW, entered=200, arrived=None, state=model.TicketState.FAILED)
    broken = {API: dataclasses.replace(GOOD, health=model.HealthStatus.DEGRADED), WEB: GOOD}
    after = written(world(first, failed, apps=broken), before)
    assert (after.ticket, after.snapshot) == ("api-1", OLD)
    assert after.applications[0].health is model.HealthStatus.DEGRADED


def test_an_overlay_rerender_moves_the_commit_not_the_version() -> None:
    w = world(ticket("api-1", OLD, entered=100, arrived=110))
    before = written(w)
    rerendered = {API: BranchHead(API, "env/api-dev", "rerender-1", ticket="api-1", station="dev",
                                  config_commit=OLD.config_commit, images=OLD.images)}
    after = written(w, before, rerendered)
    assert [a.commit for a in after.applications] == ["rerender-1", "api-1-web-dev"]
    assert (after.ticket, after.snapshot, after.arrived_at) == ("api-1", OLD, 110)
    assert decide(w, after, rerendered) == []


def test_a_head_of_another_visit_does_not_move_the_commit() -> None:
    w = world(ticket("api-1", OLD, entered=100, arrived=110))
    before = written(w)
    others = {API: BranchHead(API, "env/api-dev", "x", ticket="api-2", station="dev"),
              WEB: BranchHead(WEB, "env/web-dev", "y", ticket="api-1", station="staging")}
    assert decide(w, before, others) == []


def test_a_station_no_ticket_visited_reads_its_app_branches() -> None:
    heads = {app: BranchHead(app, f"env/{app.name}", f"head-{app.name}", ticket="api-0", station="dev",
                             config_commit=OLD.config_commit, images=OLD.images) for app in (API, WEB)}
    status = written(world(), heads=heads)
    assert status.source is Source.APP_BRANCH
    assert (status.snapshot, status.ticket, status.arrived_at) == (OLD, "api-0", None)
    assert [a.commit for a in status.applications] == ["head-api-dev", "head-web-dev"]
    assert decide(world(), status, heads) == []
    # the first arrival replaces what the branches said
    assert written(world(ticket("api-1", NEW, entered=100, arrived=110)), status, heads).source is Source.TICKET


def test_a_first_ride_writes_once_at_arrival_not_when_its_push_shows_on_the_branches() -> None:
    riding = ticket("api-1", OLD, entered=100, arrived=None, state=model.TicketState.DEPLOYING, at_dev=True)
    pushed_heads = {app: BranchHead(app, f"env/{app.name}", f"api-1-{app.name}", ticket="api-1", station="dev",
                                    config_commit=OLD.config_commit, images=OLD.images) for app in (API, WEB)}
    assert decide(world(riding), None, pushed_heads) == []
    arrived = ticket("api-1", OLD, entered=100, arrived=110, state=model.TicketState.SOAKING, at_dev=True)
    assert written(world(arrived), None, pushed_heads).source is Source.TICKET


def test_a_ride_into_a_station_without_status_writes_the_last_arrival() -> None:
    """A controller upgraded mid-ride: what arrived before is known from the tickets."""
    first = ticket("api-1", OLD, entered=100, arrived=110)
    riding = ticket("api-2", NEW, entered=200, arrived=None, state=model.TicketState.DEPLOYING, at_dev=True)
    status = written(world(first, riding))
    assert (status.ticket, status.snapshot) == ("api-1", OLD)
    assert [a.commit for a in status.applications] == ["api-1-api-dev", "api-1-web-dev"]


def test_nothing_known_writes_nothing() -> None:
    assert decide(world()) == []
    half = {API: BranchHead(API, "env/api-dev", "h", ticket="api-0", station="dev")}  # web has no K8sTA head
    assert decide(world(), heads=half) == []
    foreign = {app: BranchHead(app, f"env/{app.name}", "h") for app in (API, WEB)}
    assert decide(world(), heads=foreign) == []


def test_a_config_commit_resolved_at_the_push_is_read_from_the_branches() -> None:
    unpinned = model.Snapshot(None, OLD.images)
    heads = {app: BranchHead(app, f"env/{app.name}", f"api-1-{app.name}", ticket="api-1", station="dev",
                             config_commit="9" * 40, images=OLD.images) for app in (API, WEB)}
    status = written(world(ticket("api-1", unpinned, entered=100, arrived=110)), heads=heads)
    assert status.snapshot == model.Snapshot("9" * 40, OLD.images)


def test_the_status_survives_the_round_trip_through_kubernetes() -> None:
    heads = {API: BranchHead(API, "env/api-dev", "rerender-1", ticket="api-1", station="dev")}
    status = written(world(ticket("api-1", OLD, entered=100.123456, arrived=110.5)), heads=heads)
    assert station_status.from_dict(station_status.to_dict(status)) == status
    assert station_status.from_dict(None) is None and station_status.from_dict({}) is None


@pytest.mark.parametrize("body, field", [
    ({"source": "Gossip", "snapshot": {}}, "status.source"),
    ({"source": "Ticket", "arrivedAt": "yesterday", "snapshot": {}}, "status.arrivedAt"),
    ({"source": "Ticket", "snapshot": {"images": [{"name": "api"}]}}, "tag"),
    ({"source": "Ticket", "snapshot": {}, "applications": [{"name": "api-dev"}]}, "namespace"),
])
def test_an_unreadable_status_names_its_field(body: dict, field: str) -> None:
    with pytest.raises(station_status.MalformedStatus, match=field):
        station_status.from_dict(body, "Station shop/dev")
