"""Pure JSON views of Tracks and Tickets: the one shape both ``--output json|yaml`` and ``/api/v1`` show.

Callers: CLI commands (machine output) and the web API blueprint. Times are RFC 3339 UTC strings,
field names follow the CRDs (camelCase), and lists are sorted so the output is stable to diff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.core import model, station_status

# Where a ticket is, seen from its Track: before the first Station, at one, or off the line.
BOARDING = "(boarding)"


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pin(pin: model.ImagePin) -> dict[str, Any]:
    return {"name": pin.name, "tag": pin.tag, "digest": pin.digest}


def snapshot_json(snapshot: model.Snapshot) -> dict[str, Any]:
    return {"configCommit": snapshot.config_commit, "images": [_pin(p) for p in snapshot.images]}


def condition_json(condition: model.Condition) -> dict[str, Any]:
    return {"type": condition.type.value, "status": condition.status.value, "reason": condition.reason.value,
            "message": condition.message, "lastTransitionTime": iso(condition.last_transition_time)}


def journey_json(record: model.JourneyRecord) -> dict[str, Any]:
    return {
        "station": record.station,
        "state": record.state.value,
        "enteredAt": iso(record.entered_at),
        "arrivedAt": iso(record.arrived_at),
        "departedAt": iso(record.departed_at),
        "pushed": [{"application": str(p.app), "repoURL": p.repo_url, "branch": p.branch, "commit": p.commit}
                   for p in record.pushed],
        "skippedApplications": [str(a) for a in record.skipped_applications],
        "message": record.message,
    }


def ticket_summary(ticket: model.Ticket) -> dict[str, Any]:
    """What a list shows: where the ticket is and what it carries, without the journey."""
    return {
        "namespace": ticket.namespace,
        "name": ticket.name,
        "track": ticket.track,
        "created": iso(ticket.created),
        "state": ticket.status.state.value,
        "station": ticket.status.station,
        "parent": ticket.parent,
        "snapshot": snapshot_json(ticket.snapshot),
        "message": ticket.status.message,
    }


def ticket_json(ticket: model.Ticket) -> dict[str, Any]:
    """Everything about one ticket: spec requests plus its whole journey."""
    return {
        **ticket_summary(ticket),
        "uid": ticket.uid,
        "approvedStations": sorted(ticket.approved_stations),
        "retry": ticket.retry_count,
        "abandon": ticket.abandon,
        "journey": [journey_json(r) for r in ticket.status.journey],
        "children": list(ticket.status.children),
        "conditions": [condition_json(c) for c in ticket.status.conditions],
    }


def event_json(time: float, type_: str, reason: str, message: str, count: int, source: str) -> dict[str, Any]:
    return {"time": iso(time), "type": type_, "reason": reason, "message": message, "count": count,
            "source": source}


@dataclass(frozen=True)
class Position:
    """One ticket on the board: the column it stands in (a Station name or ``BOARDING``)."""

    column: str
    ticket: model.Ticket


def positions(track: model.TrackSpec, tickets: Iterable[model.Ticket]) -> list[Position]:
    """Live tickets of ``track`` placed on its line, oldest first (order on a Track is creation order).

    Terminal tickets hold no Station and are left out; a ticket naming a Station the Track no longer
    has stands in its own column so it is still visible.
    """
    placed = []
    for ticket in sorted((t for t in tickets if t.track == track.name and t.namespace == track.namespace),
                         key=lambda t: t.order_key):
        state = ticket.status.state
        if state.terminal:
            continue
        column = ticket.status.station or BOARDING
        placed.append(Position(column, ticket))
    return placed


def recent_finished(track: model.TrackSpec, tickets: Iterable[model.Ticket], limit: int = 3) -> list[model.Ticket]:
    """The newest terminal tickets of the Track, newest first (what just happened on the line)."""
    done = [t for t in tickets if t.track == track.name and t.namespace == track.namespace and t.status.state.terminal]
    return sorted(done, key=lambda t: t.order_key, reverse=True)[:limit]


def runs_json(status: station_status.StationStatus | None) -> dict[str, Any] | None:
    """What runs at a Station (its status), or None when nothing is known yet."""
    if status is None:
        return None
    return {
        "version": status.version,
        "source": status.source.value,
        "snapshot": snapshot_json(status.snapshot),
        "ticket": status.ticket,
        "track": status.track,
        "arrivedAt": iso(status.arrived_at),
        "applications": [{"application": str(a.app), "branch": a.branch, "commit": a.commit, "sync": a.sync.value,
                          "health": a.health.value} for a in status.applications],
    }


def station_runs_json(spec: model.StationSpec, status: station_status.StationStatus | None) -> dict[str, Any]:
    """One Station for ``k8sta stations``: its Applications and what runs there."""
    return {"namespace": spec.namespace, "name": spec.name, "applications": [str(a) for a in spec.applications],
            "disabled": spec.disabled, "runs": runs_json(status)}


def track_json(track: model.TrackSpec, stations: Mapping[str, model.StationSpec],
               tickets: Iterable[model.Ticket],
               runs: Mapping[str, Mapping[str, Any] | None] | None = None) -> dict[str, Any]:
    """A Track as the board shows it: its Stations in order, who stands where, what runs at each (``runs``:
    ``runs_json`` of the Stations' statuses by name, made once per status: the board re-renders a Track on
    every change of its tickets), what just finished."""
    tickets = list(tickets)
    runs = runs or {}
    placed = positions(track, tickets)

    def station_json(name: str) -> dict[str, Any]:
        spec = stations.get(name)
        here = [p.ticket for p in placed if p.column == name]
        return {
            "name": name,
            "found": spec is not None,
            "applications": [str(a) for a in spec.applications] if spec else [],
            "junctionTracks": list(spec.tracks) if spec else [],
            "approvalRequired": spec.approval_required if spec else False,
            "soakSeconds": spec.soak_seconds if spec else 0,
            "disabled": spec.disabled if spec else False,
            "tickets": [{"name": t.name, "state": t.status.state.value} for t in here],
            "runs": runs.get(name),
        }

    return {
        "namespace": track.namespace,
        "name": track.name,
        "boarding": track.boarding.value,
        "disabled": track.disabled,
        "hold": track.hold,
        "frozen": track.freeze,  # the namespace's stop-the-line (``k8sta freeze``), as this Track carries it
        "conditions": [condition_json(c) for c in track.conditions],
        "waiting": [{"name": p.ticket.name, "state": p.ticket.status.state.value}
                    for p in placed if p.column == BOARDING],
        "stations": [station_json(name) for name in track.stations],
        "offTrack": [{"name": p.ticket.name, "state": p.ticket.status.state.value, "station": p.column}
                     for p in placed if p.column != BOARDING and p.column not in track.stations],
        "recent": [{"name": t.name, "state": t.status.state.value, "station": _last_station(t)}
                   for t in recent_finished(track, tickets)],
    }


def _last_station(ticket: model.Ticket) -> str | None:
    return ticket.status.journey[-1].station if ticket.status.journey else None
