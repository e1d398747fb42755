"""The departure board's world as pure state: Tracks, Stations and Tickets fed by watch events.

Callers: ``web.boardwatch`` (its watch threads call ``replace_all``/``apply`` and re-render the Tracks
these return), the board's views (``track_views``, ``ticket``) and the board benchmark, which feeds the
same dicts a watch would. No I/O, no clock, no lock: the caller serialises access.

Objects arrive as the API returns them and are parsed once (``k8sta_daemon.core.codec``, as the controller
and the CLI read them); each change answers *which Tracks look different now*, so only those are
re-rendered and pushed to browsers. The picture of a Track is ``ops.board.track_json`` (the one shape the
CLI and ``/api/v1`` show) plus, per ticket, the reason the core already wrote (``status.message``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.core import codec, model, station_status
from k8sta_daemon.ops import board

log = logging.getLogger(__name__)

KINDS = ("Track", "Station", "Ticket")
_PARSE = {"Track": codec.track_from_dict, "Station": codec.station_from_dict, "Ticket": codec.ticket_from_dict}


def track_hold(track: model.TrackSpec) -> str | None:
    """Why ``track`` is held (``k8sta hold``, or a rollback): nothing boards it; or None. The board draws the
    hold as a stop signal before the first Station, with the reason in the header."""
    return track.hold


@dataclass(frozen=True)
class TicketCard:
    """One ticket as the board shows it: where it stands and, for a live one, why it is not moving."""

    name: str
    state: str
    column: str  # a Station name or ``board.BOARDING``
    reason: str  # the core's own words (status.message); "" when it wrote none
    parent: str | None = None
    pending_gate: str | None = None  # the Station whose approval it awaits


@dataclass(frozen=True)
class TrackView:
    """Everything the SVG renderer needs for one Track (``view`` is ``ops.board.track_json``)."""

    ref: model.TrackRef
    view: Mapping[str, Any]
    cards: Mapping[str, TicketCard]  # by ticket name, live and recently finished
    hold: str | None = None


def pending_gate(track: model.TrackSpec, stations: Mapping[str, model.StationSpec],
                 ticket: model.Ticket) -> str | None:
    """The approval gate an AwaitingApproval ticket stands before: the next enabled Station after the one
    it holds (the first one when not boarded), as the core moves tickets (disabled Stations are passed)."""
    if ticket.status.state is not model.TicketState.AWAITING_APPROVAL:
        return None
    names = list(track.stations)
    start = names.index(ticket.status.station) + 1 if ticket.status.station in names else 0
    for name in names[start:]:
        spec = stations.get(name)
        if spec is None:
            return None
        if not spec.disabled:
            return name if spec.approval_required else None
    return None


def track_view(track: model.TrackSpec, stations: Mapping[str, model.StationSpec],
               tickets: Iterable[model.Ticket],
               runs: Mapping[str, Mapping[str, Any] | None] | None = None) -> TrackView:
    """The board's picture of one Track (``stations``: the Track's namespace's Stations by name, ``runs``
    what runs at each, as ``board.runs_json``)."""
    tickets = list(tickets)
    view = board.track_json(track, stations, tickets, runs)
    shown = {t["name"] for t in view["waiting"]} | {t["name"] for t in view["offTrack"]} | {
        t["name"] for t in view["recent"]} | {t["name"] for s in view["stations"] for t in s["tickets"]}
    cards = {}
    for ticket in tickets:
        if ticket.name not in shown:
            continue
        cards[ticket.name] = TicketCard(
            name=ticket.name, state=ticket.status.state.value, column=ticket.status.station or board.BOARDING,
            reason=ticket.status.message, parent=ticket.parent, pending_gate=pending_gate(track, stations, ticket))
    return TrackView(track.ref, view, cards, track_hold(track))


def _runs(obj: Mapping[str, Any]) -> station_status.StationStatus | None:
    """What runs at a Station (its status); an unreadable status shows as nothing known."""
    try:
        return station_status.from_dict(obj.get("status"))
    except station_status.MalformedStatus as exc:
        log.warning("board ignores the unreadable status of a Station: %s", exc)
        return None


def _version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class BoardState:
    """The latest Tracks, Stations and Tickets; each change returns the Tracks it affects."""

    def __init__(self) -> None:
        self.tracks: dict[model.TrackRef, model.TrackSpec] = {}
        self.stations: dict[str, dict[str, model.StationSpec]] = {}  # namespace -> name -> spec
        self.runs: dict[str, dict[str, dict[str, Any] | None]] = {}  # namespace -> name -> runs_json of its status
        self.tickets: dict[model.TrackRef, dict[str, model.Ticket]] = {}  # by the Track they name
        self._versions: dict[tuple[str, str, str], str] = {}  # (kind, namespace, name) -> resourceVersion
        self._ticket_track: dict[tuple[str, str], model.TrackRef] = {}

    # -- feeding ---------------------------------------------------------------------------------

    def apply(self, kind: str, event: str, obj: Mapping[str, Any]) -> set[model.TrackRef]:
        """One watch event (ADDED, MODIFIED, DELETED); returns the Tracks whose picture may change."""
        meta = obj.get("metadata") or {}
        key = (kind, meta.get("namespace", ""), meta.get("name", ""))
        if event == "DELETED":
            self._versions.pop(key, None)
            return self._remove(kind, key[1], key[2])
        try:
            parsed = _PARSE[kind](obj)
        except codec.MalformedObject as exc:
            log.warning("board skips malformed %s %s/%s: %s", kind, key[1], key[2], exc)
            self._versions.pop(key, None)
            return self._remove(kind, key[1], key[2])
        self._versions[key] = _version(obj)
        if kind == "Station":
            self.runs.setdefault(key[1], {})[key[2]] = board.runs_json(_runs(obj))
        return self._put(kind, parsed)

    def replace_all(self, kind: str, items: Iterable[Mapping[str, Any]]) -> set[model.TrackRef]:
        """A (re)list: objects not in ``items`` are gone; only objects whose resourceVersion changed count."""
        affected: set[model.TrackRef] = set()
        seen = set()
        for obj in items:
            meta = obj.get("metadata") or {}
            key = (kind, meta.get("namespace", ""), meta.get("name", ""))
            seen.add(key)
            if key in self._versions and self._versions[key] == _version(obj) and _version(obj):
                continue
            affected |= self.apply(kind, "MODIFIED", obj)
        for key in [k for k in self._versions if k[0] == kind and k not in seen]:
            del self._versions[key]
            affected |= self._remove(kind, key[1], key[2])
        return affected

    def _put(self, kind: str, parsed: Any) -> set[model.TrackRef]:
        if kind == "Track":
            self.tracks[parsed.ref] = parsed
            return {parsed.ref}
        if kind == "Station":
            self.stations.setdefault(parsed.namespace, {})[parsed.name] = parsed
            return self._tracks_with_station(parsed.namespace, parsed.name)
        affected = self._remove("Ticket", parsed.namespace, parsed.name)
        self.tickets.setdefault(parsed.track_ref, {})[parsed.name] = parsed
        self._ticket_track[(parsed.namespace, parsed.name)] = parsed.track_ref
        return affected | {parsed.track_ref}

    def _remove(self, kind: str, namespace: str, name: str) -> set[model.TrackRef]:
        if kind == "Track":
            ref = model.TrackRef(namespace, name)
            return {ref} if self.tracks.pop(ref, None) is not None else set()
        if kind == "Station":
            self.runs.get(namespace, {}).pop(name, None)
            if self.stations.get(namespace, {}).pop(name, None) is None:
                return set()
            return self._tracks_with_station(namespace, name)
        track = self._ticket_track.pop((namespace, name), None)
        if track is None:
            return set()
        self.tickets.get(track, {}).pop(name, None)
        return {track}

    def _tracks_with_station(self, namespace: str, name: str) -> set[model.TrackRef]:
        return {ref for ref, track in self.tracks.items() if ref.namespace == namespace and name in track.stations}

    # -- reading ---------------------------------------------------------------------------------

    def namespaces(self) -> list[str]:
        return sorted({ref.namespace for ref in self.tracks} | {ref.namespace for ref in self.tickets})

    def track_view(self, ref: model.TrackRef) -> TrackView | None:
        """None when the Track is gone."""
        track = self.tracks.get(ref)
        if track is None:
            return None
        return track_view(track, self.stations.get(ref.namespace, {}), self.tickets.get(ref, {}).values(),
                          self.runs.get(ref.namespace, {}))

    def track_refs(self) -> list[model.TrackRef]:
        return sorted(self.tracks)

    def ticket(self, namespace: str, name: str) -> model.Ticket | None:
        track = self._ticket_track.get((namespace, name))
        return None if track is None else self.tickets.get(track, {}).get(name)
