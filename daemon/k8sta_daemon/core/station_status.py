"""What runs at each Station now: the status K8sTA writes on a Station, decided purely from the World.

Callers: the controller loop (``reactor/stations.py``) once per pass, with the Stations' statuses as last
written and the app-branch heads the drift watcher read; the operator services (``ops``) read the
written status back with ``from_dict`` for ``k8sta stations``, ``k8sta tracks`` and the board.

The rules:

- **The version is the last arrival.** Of every ticket visit to the Station that arrived (whatever the
  ticket did after), the newest arrival is what runs there: its snapshot, ticket and arrival time. A
  rollback is a ticket like any other, so its arrival replaces the newer version it undoes. The
  written status is the floor: an arrival older than the one written never replaces it (a part of the
  World, or a deleted ticket, must not turn the clock back).
- **A ride in progress changes nothing.** While a ticket holds the Station and has not arrived, the
  written status stands (what ran there before keeps running until the new one arrives); so a visit
  costs one status write, at arrival, however often Argo CD reports on the way.
- **A Station no ticket visited** reads its app branches' heads (``.k8sta/metadata.yaml``): the pins,
  config commit and ticket recorded there, with no arrival time. With nothing known, nothing is written.
- **Each Application's app-branch commit** is the branch head when the head belongs to the visit the
  status names (K8sTA's overlay re-render or a drift repair keeps the visit's trailers), else the commit
  the visit pushed. Its sync and health are Argo CD's, as last seen.
- **Written only when it changes**: the status holds no clock of its own (no "last seen"), so Argo CD's
  periodic refreshes change nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from k8sta_cmp.fields import Fields
from k8sta_daemon.core import actions, codec, model

SHORT = 7  # characters of a commit id in the version summary (git's default abbreviation)


class Source(enum.Enum):
    """Where the version came from: a ticket's arrival, or the app branches' metadata."""

    TICKET = "Ticket"
    APP_BRANCH = "AppBranch"


@dataclass(frozen=True)
class BranchHead:
    """An app branch's head as the drift watcher read it, with what its ``.k8sta/metadata.yaml`` says.

    ``ticket``/``station`` are the visit the commit belongs to (None: not a K8sTA commit, or metadata
    this daemon cannot read)."""

    app: model.AppRef
    branch: str
    sha: str
    ticket: str | None = None
    station: str | None = None
    config_commit: str | None = None
    images: tuple[model.ImagePin, ...] = ()


@dataclass(frozen=True)
class AppVersion:
    """One Application of the Station: its app-branch commit (None: not known) and Argo CD's verdicts."""

    app: model.AppRef
    branch: str | None
    commit: str | None
    sync: model.SyncStatus
    health: model.HealthStatus


@dataclass(frozen=True)
class StationStatus:
    """What runs at a Station: the snapshot, the ticket that brought it and when, each Application."""

    source: Source
    snapshot: model.Snapshot
    ticket: str | None = None
    track: str | None = None
    arrived_at: float | None = None
    applications: tuple[AppVersion, ...] = ()

    @property
    def version(self) -> str:
        """One line for printer columns and pictures: config commit (short) and each image's tag."""
        return version_line(self.snapshot)


def version_line(snapshot: model.Snapshot) -> str:
    parts = [snapshot.config_commit[:SHORT]] if snapshot.config_commit else []
    parts.extend(f"{pin.name.rsplit('/', 1)[-1]}:{pin.tag}" for pin in snapshot.images)
    return " ".join(parts) or "-"


# -- deciding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Arrival:
    ticket: model.Ticket
    record: model.JourneyRecord

    @property
    def key(self) -> tuple[float, str]:
        return (self.record.arrived_at or 0.0, self.ticket.name)


def decide(world: model.World, observed: Mapping[model.StationRef, StationStatus | None],
           heads: Mapping[model.AppRef, BranchHead]) -> list[actions.UpdateStationStatus]:
    """One ``UpdateStationStatus`` per Station of ``world`` whose wanted status differs from ``observed``."""
    arrivals = latest_arrivals(world.tickets.values())
    riding = _riding(world)
    planned = []
    for ref in sorted(world.stations):
        station = world.stations[ref]
        before = observed.get(ref)
        wanted = desired(world, station, before, heads, arrivals.get(ref), ref in riding)
        if wanted is not None and wanted != before:
            planned.append(actions.UpdateStationStatus(station=ref, status=wanted))
    return planned


def latest_arrivals(tickets: Iterable[model.Ticket]) -> dict[model.StationRef, _Arrival]:
    """The newest arrived visit per Station (one sweep over every journey)."""
    found: dict[model.StationRef, _Arrival] = {}
    for ticket in tickets:
        for record in ticket.status.journey:
            if record.arrived_at is None:
                continue
            ref = model.StationRef(ticket.namespace, record.station)
            arrival = _Arrival(ticket, record)
            best = found.get(ref)
            if best is None or arrival.key > best.key:
                found[ref] = arrival
    return found


def _riding(world: model.World) -> set[model.StationRef]:
    """The Stations a ticket holds without having arrived there (a malformed ticket's too: not known)."""
    riding: set[model.StationRef] = set()
    for ticket in world.tickets.values():
        status = ticket.status
        current = status.current
        if status.station is not None and not status.state.terminal and (current is None or current.arrived_at is None):
            riding.add(model.StationRef(ticket.namespace, status.station))
    riding.update(model.StationRef(m.namespace, m.station) for m in world.malformed.values() if m.station is not None)
    return riding


def desired(world: model.World, station: model.StationSpec, observed: StationStatus | None,
            heads: Mapping[model.AppRef, BranchHead], arrival: _Arrival | None = None,
            riding: bool = False) -> StationStatus | None:
    """The status ``station`` should show (None: nothing known, nothing to write); ``riding``: a ticket
    holds the Station and has not arrived there."""
    if riding and observed is not None:
        return observed  # a ride in progress: the version that runs here stands until it arrives
    if arrival is not None and (observed is None or observed.source is not Source.TICKET
                                or observed.arrived_at is None or arrival.key > _key(observed)):
        base = _from_arrival(arrival, heads)
    elif (observed is not None and observed.source is Source.TICKET) or riding:
        base = observed  # riding: the branches may already hold the rider's commits, not what runs
    else:
        base = _from_heads(station, heads) or observed
    if base is None:
        return None
    return StationStatus(source=base.source, snapshot=base.snapshot, ticket=base.ticket, track=base.track,
                         arrived_at=base.arrived_at,
                         applications=_applications(world, station, base, heads, arrival))


def _key(status: StationStatus) -> tuple[float, str]:
    return (status.arrived_at or 0.0, status.ticket or "")


def _from_arrival(arrival: _Arrival, heads: Mapping[model.AppRef, BranchHead]) -> StationStatus:
    ticket, record = arrival.ticket, arrival.record
    snapshot = ticket.snapshot
    if snapshot.config_commit is None:  # resolved at the push: the branches' metadata recorded it
        commits = {h.config_commit for p in record.pushed if (h := heads.get(p.app)) is not None
                   and h.sha == p.commit and h.config_commit}
        if len(commits) == 1:
            snapshot = model.Snapshot(config_commit=commits.pop(), images=snapshot.images)
    return StationStatus(source=Source.TICKET, snapshot=snapshot, ticket=ticket.name, track=ticket.track,
                         arrived_at=record.arrived_at,
                         applications=tuple(AppVersion(p.app, p.branch, p.commit, model.SyncStatus.UNKNOWN,
                                                       model.HealthStatus.UNKNOWN) for p in record.pushed))


def _from_heads(station: model.StationSpec, heads: Mapping[model.AppRef, BranchHead]) -> StationStatus | None:
    """The version the app branches record, when every active Application's head is a K8sTA commit."""
    found = [heads.get(app) for app in station.active_applications]
    known = [h for h in found if h is not None and h.ticket is not None]
    if not known or len(known) != len(found):
        return None
    commits = {h.config_commit for h in known}
    images: dict[str, model.ImagePin] = {}
    for head in known:
        for pin in head.images:
            images.setdefault(pin.name, pin)
    tickets = {h.ticket for h in known}
    return StationStatus(source=Source.APP_BRANCH,
                         snapshot=model.Snapshot(config_commit=commits.pop() if len(commits) == 1 else None,
                                                 images=tuple(images[name] for name in sorted(images))),
                         ticket=tickets.pop() if len(tickets) == 1 else None,
                         applications=tuple(AppVersion(h.app, h.branch, h.sha, model.SyncStatus.UNKNOWN,
                                                       model.HealthStatus.UNKNOWN) for h in known))


def _applications(world: model.World, station: model.StationSpec, base: StationStatus,
                  heads: Mapping[model.AppRef, BranchHead], arrival: _Arrival | None) -> tuple[AppVersion, ...]:
    before = {a.app: a for a in base.applications}
    out = []
    for app in station.active_applications:
        head = heads.get(app)
        known = before.get(app)
        branch, commit = (known.branch, known.commit) if known is not None else (None, None)
        if head is not None and head.ticket == base.ticket and head.station == station.name and base.ticket:
            branch, commit = head.branch, head.sha  # the visit's own head: a re-render or a repair of it
        status = world.apps.get(app) or model.AppStatus.missing()
        out.append(AppVersion(app, branch, commit, status.sync_status, status.health))
    return tuple(out)


# -- the status as Kubernetes shows it ----------------------------------------------------------


class MalformedStatus(ValueError):
    """A Station's status that this daemon cannot read (it is then written anew)."""


def to_dict(status: StationStatus) -> dict[str, Any]:
    body: dict[str, Any] = {"source": status.source.value, "version": status.version,
                            "snapshot": codec.snapshot_to_dict(status.snapshot)}
    if status.ticket:
        body["ticket"] = status.ticket
    if status.track:
        body["track"] = status.track
    if status.arrived_at is not None:
        body["arrivedAt"] = codec.format_time(status.arrived_at)
    body["applications"] = [_app_to_dict(a) for a in status.applications]
    return body


def _app_to_dict(app: AppVersion) -> dict[str, Any]:
    body: dict[str, Any] = {"namespace": app.app.namespace, "name": app.app.name}
    if app.branch:
        body["branch"] = app.branch
    if app.commit:
        body["commit"] = app.commit
    body["sync"] = app.sync.value
    body["health"] = app.health.value
    return body


def from_dict(status: Any, what: str = "Station") -> StationStatus | None:
    """The written status (None: none written yet); ``MalformedStatus`` names the field it cannot read."""
    if not status or not isinstance(status, Mapping) or "source" not in status:
        return None
    fields = Fields(status, what, "status", error=MalformedStatus)
    try:
        snapshot = codec.snapshot_from_dict(fields.nested("snapshot"))
    except codec.MalformedObject as exc:
        raise MalformedStatus(str(exc)) from None
    return StationStatus(
        source=fields.enum("source", Source),
        snapshot=snapshot,
        ticket=fields.string("ticket"),
        track=fields.string("track"),
        arrived_at=fields.parsed("arrivedAt", codec.parse_time),
        applications=tuple(AppVersion(
            app=model.AppRef(a.required("namespace"), a.required("name")),
            branch=a.string("branch"), commit=a.string("commit"),
            sync=a.enum("sync", model.SyncStatus, model.SyncStatus.UNKNOWN),
            health=a.enum("health", model.HealthStatus, model.HealthStatus.UNKNOWN))
            for a in fields.mappings("applications")),
    )
