"""Delivery figures (DORA) per Track and terminal Station, decided purely from tickets.

Callers: the web part's ``/metrics`` collector and its delivery page (``web/delivery.py``), with the
tickets, Tracks and Stations the API holds and, for the page, the clock. Nothing is counted in memory:
every figure is recomputed from the tickets' statuses (journey timestamps), so a restarted controller or
web part loses nothing. Events are not read: the API server keeps them for an hour by default, the
tickets for as long as they exist.

The rules:

- **A delivery is one ticket's way to one terminal Station.** The terminal Stations of a Track are its
  last Station plus, through every junction on it, the terminal Stations of the Tracks it feeds. A
  ticket's delivery to a Station behind a junction is carried on by its child on that Track (the child
  whose ``parent`` is the ticket), so the main Track's figures include its children's rides; the
  child's own Track has its own figures too.
- **Deployed** when the ticket that reaches the Station (the ticket itself, or a descendant) first
  arrived there: that is one deployment (deployment frequency), and its **lead time** runs from the
  change to that arrival. The change is the root ticket's ``k8sta.io/changed-at`` annotation (intake
  records the config commit's time or the image's ``created`` time), else the root's creation.
- **Failed** when any ticket on the way failed (a ``Failed`` journey record, even if a retry then
  succeeded), was abandoned after entering a Station, or was rolled back: a ticket of the Track created
  after the rollback's target and before the rollback ticket (``k8sta.io/rollback-of``) that had
  entered a Station by then, with its descendants. The earliest of these is the failure's time. A
  delivery that was deployed or failed is a **change**; the change failure rate is failures / changes.
- **Completed** when the ticket reaching the Station is Completed and was not rolled back: the time it
  departed that Station (finished its Track).
- **Time to restore**: on each (Track, Station) series, an outage starts at a failure when none is open
  and ends at the next completion after it; further failures inside an outage do not start another.
- A ticket whose Track no longer exists has no terminal Stations: its deliveries are not counted.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from k8sta_daemon.core import codec, model

CHANGED_AT_ANNOTATION = "k8sta.io/changed-at"  # when the change was made: config commit time or image created
ROLLBACK_ANNOTATION = "k8sta.io/rollback-of"  # on a rollback ticket: the ticket whose snapshot it restores
DAY = 86_400.0
LEAD_TIME_BUCKETS = (60.0, 300.0, 900.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0, 43_200.0, DAY, 2 * DAY, 7 * DAY,
                     30 * DAY)
RESTORE_BUCKETS = LEAD_TIME_BUCKETS


class FailureKind(enum.Enum):
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class Ride:
    """A ticket with what its annotations add: when its change was made, and which ticket it rolls back to."""

    ticket: model.Ticket
    changed_at: float | None = None
    rollback_of: str | None = None


class SeriesKey(NamedTuple):
    """One series: a Track and one of its terminal Stations (a tuple: hashed per delivery, cheaply)."""

    namespace: str
    track: str
    station: str


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    at: float


@dataclass(frozen=True)
class Delivery:
    """One ticket's way to one terminal Station, as far as it went."""

    key: SeriesKey
    ticket: str
    deployed_at: float | None = None
    lead_time: float | None = None
    failure: Failure | None = None
    completed_at: float | None = None

    @property
    def change(self) -> bool:
        """Deployed or failed: counted in the change failure rate."""
        return self.deployed_at is not None or self.failure is not None


@dataclass(frozen=True)
class Restore:
    key: SeriesKey
    failed_at: float
    restored_at: float

    @property
    def seconds(self) -> float:
        return self.restored_at - self.failed_at


@dataclass(frozen=True)
class Series:
    """The figures of one (Track, terminal Station): totals over every ticket the API holds."""

    key: SeriesKey
    deployments: int = 0
    changes: int = 0
    failures: Mapping[FailureKind, int] = field(default_factory=dict)
    lead_times: tuple[float, ...] = ()
    restores: tuple[float, ...] = ()

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


@dataclass(frozen=True)
class Figures:
    deliveries: tuple[Delivery, ...]
    restores: tuple[Restore, ...]
    series: tuple[Series, ...]


# -- reading a Ticket object ----------------------------------------------------------------------


def ride_from_dict(obj: Any) -> Ride:
    """A Ticket object with its delivery annotations; an unreadable annotation is ignored (the figure
    falls back to the ticket's creation), never a reason to drop the ticket. Raises
    ``codec.MalformedObject`` as ``codec.ticket_from_dict`` does."""
    ticket = codec.ticket_from_dict(obj)
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    changed_at: float | None = None
    if isinstance(annotations, Mapping) and annotations.get(CHANGED_AT_ANNOTATION):
        try:
            changed_at = codec.parse_time(annotations[CHANGED_AT_ANNOTATION])
        except ValueError:
            changed_at = None
    rollback = annotations.get(ROLLBACK_ANNOTATION) if isinstance(annotations, Mapping) else None
    return Ride(ticket, changed_at, rollback if isinstance(rollback, str) and rollback else None)


# -- the graph: terminal Stations and the Track each is reached on ------------------------------


def terminals(namespace: str, track: str, tracks: Mapping[model.TrackRef, model.TrackSpec],
              stations: Mapping[model.StationRef, model.StationSpec],
              ) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Terminal Station -> the paths of Tracks leading to it from ``track`` (``track`` first, the Track
    whose last Station it is last). Cycles are cut: a Track already on the path is not entered again."""
    found: dict[str, list[tuple[str, ...]]] = {}

    def walk(path: tuple[str, ...]) -> None:
        spec = tracks.get(model.TrackRef(namespace, path[-1]))
        if spec is None or not spec.stations:
            return
        found.setdefault(spec.stations[-1], []).append(path)
        for name in spec.stations:
            station = stations.get(model.StationRef(namespace, name))
            for fed in station.tracks if station else ():
                if fed not in path:
                    walk((*path, fed))

    walk((track,))
    return {station: tuple(paths) for station, paths in found.items()}


# -- one ticket ---------------------------------------------------------------------------------


def _entered(ticket: model.Ticket) -> float | None:
    return min((r.entered_at for r in ticket.status.journey if r.entered_at is not None
                and r.state is not model.JourneyState.SKIPPED), default=None)


def _when(record: model.JourneyRecord) -> float | None:
    return record.departed_at if record.departed_at is not None else record.entered_at


def own_failure(ticket: model.Ticket) -> Failure | None:
    """The ticket's own failure: its first Failed visit, else abandoned after entering a Station."""
    for record in ticket.status.journey:
        if record.state is model.JourneyState.FAILED and (at := _when(record)) is not None:
            return Failure(FailureKind.FAILED, at)
    if ticket.status.state is model.TicketState.ABANDONED and _entered(ticket) is not None:
        record = ticket.status.journey[-1]
        at = _when(record) if record.state is model.JourneyState.ABANDONED else None
        return Failure(FailureKind.ABANDONED, at if at is not None else max(
            t for r in ticket.status.journey for t in (r.entered_at, r.arrived_at, r.departed_at) if t is not None))
    return None


def rolled_back(rides: Iterable[Ride]) -> dict[model.TicketRef, float]:
    """Every ticket a rollback undid (with its descendants) -> when the rollback was created (the earliest
    rollback, when several undid it). A rollback whose target no longer exists undoes nothing known."""
    rides = list(rides)
    by_ref = {r.ticket.ref: r.ticket for r in rides}
    children: dict[model.TicketRef, list[model.Ticket]] = {}
    for ticket in by_ref.values():
        if ticket.parent is not None:
            children.setdefault(model.TicketRef(ticket.namespace, ticket.parent), []).append(ticket)
    on_track: dict[model.TrackRef, list[model.Ticket]] = {}
    for ticket in by_ref.values():
        on_track.setdefault(ticket.track_ref, []).append(ticket)
    undone: dict[model.TicketRef, float] = {}
    for ride in rides:
        rollback = ride.ticket
        target = by_ref.get(model.TicketRef(rollback.namespace, ride.rollback_of)) if ride.rollback_of else None
        if target is None:
            continue
        for ticket in on_track.get(rollback.track_ref, ()):
            entered = _entered(ticket)
            if (ticket.ref == rollback.ref or not target.order_key < ticket.order_key < rollback.order_key
                    or entered is None or entered >= rollback.created):
                continue
            stack = [ticket]
            while stack:
                current = stack.pop()
                if undone.get(current.ref, math.inf) > rollback.created:
                    undone[current.ref] = rollback.created
                stack.extend(children.get(current.ref, ()))
    return undone


def failure_of(ticket: model.Ticket, undone: Mapping[model.TicketRef, float]) -> Failure | None:
    """The earliest of the ticket's own failure and its rollback."""
    found = [f for f in (own_failure(ticket), Failure(FailureKind.ROLLED_BACK, undone[ticket.ref])
                         if ticket.ref in undone else None) if f is not None]
    return min(found, key=lambda f: f.at, default=None)


# -- deliveries ---------------------------------------------------------------------------------


def _arrival(ticket: model.Ticket, station: str) -> float | None:
    return min((r.arrived_at for r in ticket.status.journey if r.station == station and r.arrived_at is not None),
               default=None)


def _completion(ticket: model.Ticket, station: str) -> float | None:
    if ticket.status.state is not model.TicketState.COMPLETED or not ticket.status.journey:
        return None
    last = ticket.status.journey[-1]
    if last.station != station or last.state is not model.JourneyState.DEPARTED:
        return None
    return last.departed_at


def _earliest(*values: float | None) -> float | None:
    return min((v for v in values if v is not None), default=None)


def deliveries_of(ride: Ride, root: Ride, ends: Mapping[str, tuple[tuple[str, ...], ...]],
                  children: Mapping[tuple[model.TicketRef, str], model.Ticket],
                  undone: Mapping[model.TicketRef, float]) -> list[Delivery]:
    """The deliveries of one ticket, one per terminal Station of its Track (``ends``: ``terminals`` of its
    Track; ``root``: the ride whose change it carries, itself for a ticket without parent)."""
    ticket = ride.ticket
    changed = root.changed_at if root.changed_at is not None else root.ticket.created
    found = []
    for station, paths in sorted(ends.items()):
        deployed: float | None = None
        completed: float | None = None
        failures: list[Failure] = []
        for path in paths:
            current: model.Ticket | None = ticket
            for track in path[1:]:
                failure = failure_of(current, undone)
                if failure is not None:
                    failures.append(failure)
                current = children.get((current.ref, track))
                if current is None:
                    break
            if current is None:
                continue
            failure = failure_of(current, undone)
            if failure is not None:
                failures.append(failure)
            deployed = _earliest(deployed, _arrival(current, station))
            if current.ref not in undone:
                completed = _earliest(completed, _completion(current, station))
        failure = min(failures, key=lambda f: f.at, default=None)
        found.append(Delivery(
            key=SeriesKey(ticket.namespace, ticket.track, station), ticket=ticket.name, deployed_at=deployed,
            lead_time=None if deployed is None else max(0.0, deployed - changed), failure=failure,
            completed_at=completed if failure is None or completed is None or completed > failure.at else None))
    return found


def restores(deliveries: Iterable[Delivery]) -> list[Restore]:
    """Outages per series: from a failure while none is open to the next completion after it."""
    per: dict[SeriesKey, list[tuple[float, int]]] = {}
    for d in deliveries:
        if d.failure is not None:
            per.setdefault(d.key, []).append((d.failure.at, 0))
        if d.completed_at is not None:
            per.setdefault(d.key, []).append((d.completed_at, 1))
    found = []
    for key, moments in sorted(per.items()):
        start: float | None = None
        for at, kind in sorted(moments):
            if kind == 0 and start is None:
                start = at
            elif kind == 1 and start is not None and at > start:
                found.append(Restore(key, start, at))
                start = None
    return found


def figures(rides: Iterable[Ride], tracks: Iterable[model.TrackSpec],
            stations: Mapping[model.StationRef, model.StationSpec] | Iterable[model.StationSpec]) -> Figures:
    """Every delivery, restore and per-series total the tickets show."""
    rides = list(rides)
    track_map = {t.ref: t for t in tracks}
    station_map = stations if isinstance(stations, Mapping) else {s.ref: s for s in stations}
    by_ref = {r.ticket.ref: r for r in rides}
    children: dict[tuple[model.TicketRef, str], model.Ticket] = {}
    for ride in sorted(rides, key=lambda r: r.ticket.order_key, reverse=True):  # the oldest child wins
        if ride.ticket.parent is not None:
            children[(model.TicketRef(ride.ticket.namespace, ride.ticket.parent), ride.ticket.track)] = ride.ticket
    undone = rolled_back(rides)

    def root_of(ride: Ride) -> Ride:
        seen = {ride.ticket.ref}
        while ride.ticket.parent is not None:
            parent = by_ref.get(model.TicketRef(ride.ticket.namespace, ride.ticket.parent))
            if parent is None or parent.ticket.ref in seen:
                break
            seen.add(parent.ticket.ref)
            ride = parent
        return ride

    found: list[Delivery] = []
    graph: dict[model.TrackRef, dict[str, tuple[tuple[str, ...], ...]]] = {}
    for ride in sorted(rides, key=lambda r: (r.ticket.namespace, r.ticket.order_key)):
        ref = ride.ticket.track_ref
        if ref not in graph:
            graph[ref] = terminals(ref.namespace, ref.name, track_map, station_map)
        found.extend(deliveries_of(ride, root_of(ride), graph[ref], children, undone))
    outages = restores(found)
    return Figures(tuple(found), tuple(outages), tuple(_totals(found, outages)))


def _totals(deliveries: Sequence[Delivery], outages: Sequence[Restore]) -> list[Series]:
    per: dict[SeriesKey, list[Delivery]] = {}
    for d in deliveries:
        per.setdefault(d.key, []).append(d)
    restored: dict[SeriesKey, list[float]] = {}
    for r in outages:
        restored.setdefault(r.key, []).append(r.seconds)
    series = []
    for key, mine in sorted(per.items()):
        failures: dict[FailureKind, int] = {}
        for d in mine:
            if d.failure is not None:
                failures[d.failure.kind] = failures.get(d.failure.kind, 0) + 1
        series.append(Series(
            key=key, deployments=sum(d.deployed_at is not None for d in mine), changes=sum(d.change for d in mine),
            failures=failures, lead_times=tuple(d.lead_time for d in mine if d.lead_time is not None),
            restores=tuple(restored.get(key, ()))))
    return series


def cumulative(values: Iterable[float], bounds: Sequence[float]) -> list[int]:
    """Prometheus histogram buckets: how many values are <= each bound (then +Inf: all of them)."""
    values = sorted(values)
    counts, i = [], 0
    for bound in bounds:
        while i < len(values) and values[i] <= bound:
            i += 1
        counts.append(i)
    counts.append(len(values))
    return counts


# -- the last days, for the board's page ----------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """One UTC day of one series: deployments, changes, failures and what was measured that day."""

    start: float
    deployments: int = 0
    changes: int = 0
    failures: int = 0
    lead_times: tuple[float, ...] = ()
    restores: tuple[float, ...] = ()


@dataclass(frozen=True)
class Window:
    key: SeriesKey
    days: tuple[Day, ...]

    @property
    def deployments(self) -> int:
        return sum(d.deployments for d in self.days)

    @property
    def changes(self) -> int:
        return sum(d.changes for d in self.days)

    @property
    def failures(self) -> int:
        return sum(d.failures for d in self.days)

    @property
    def lead_times(self) -> tuple[float, ...]:
        return tuple(t for d in self.days for t in d.lead_times)

    @property
    def restores(self) -> tuple[float, ...]:
        return tuple(t for d in self.days for t in d.restores)


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def last_days(found: Figures, now: float, days: int = 30, namespace: str | None = None) -> list[Window]:
    """Per series, the last ``days`` UTC days up to ``now`` (today included): a deployment counts on the day
    it arrived, a failure (and its change) on the day it failed, a change that only deployed on the day it
    arrived, a restore on the day it ended. Only series with something in the window are returned."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    first = (math.floor(now / DAY) - days + 1) * DAY

    def index(at: float | None) -> int | None:
        if at is None or at > now or at < first:
            return None
        return int((at - first) // DAY)

    per: dict[SeriesKey, list[_Tally]] = {}

    def bucket(key: SeriesKey, i: int) -> _Tally:
        return per.setdefault(key, [_Tally() for _ in range(days)])[i]

    for d in found.deliveries:
        if namespace is not None and d.key.namespace != namespace:
            continue
        if (i := index(d.deployed_at)) is not None and d.lead_time is not None:
            tally = bucket(d.key, i)
            tally.deployments += 1
            tally.lead_times.append(d.lead_time)
        if (i := index(d.failure.at if d.failure is not None else d.deployed_at)) is not None:
            tally = bucket(d.key, i)
            tally.changes += 1
            tally.failures += d.failure is not None
    for r in found.restores:
        if (namespace is None or r.key.namespace == namespace) and (i := index(r.restored_at)) is not None:
            bucket(r.key, i).restores.append(r.seconds)
    return [Window(key, tuple(Day(first + i * DAY, t.deployments, t.changes, t.failures, tuple(t.lead_times),
                                  tuple(t.restores)) for i, t in enumerate(tallies)))
            for key, tallies in sorted(per.items())]


@dataclass
class _Tally:
    deployments: int = 0
    changes: int = 0
    failures: int = 0
    lead_times: list[float] = field(default_factory=list)
    restores: list[float] = field(default_factory=list)
