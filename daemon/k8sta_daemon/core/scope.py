"""Which Tracks a change can concern, and the part of a World that decides them (pure).

Caller: the controller loop (``reactor.standing``), so that a pass decides only the Tracks whose
objects changed instead of every Track of the cluster (work proportional to what changed, not to the
size of the world).

``decide`` couples Tracks only through what they share: a Station (occupancy: one holder across all
Tracks, and Station-order conflicts), an Application two Stations name (the graph check refuses
their Tracks), a junction (its Tracks' graph verdicts, child tickets), a ticket
holding a Station of another Track (after a Track edit), a parent ticket and its children (a child's
existence, the Track a recorded child goes onto). ``Index`` keeps those couplings object by object and
walks the connected components of the changed objects; its ``restrict`` of a union of whole components
keeps every Track, Station, ticket and Application status that decisions about those Tracks read, so
``decide`` on it returns exactly the actions ``decide`` on the whole World returns for those Tracks.
The property tests check both against a plain definition over the whole World (union-find,
``tests/daemon/scope_reference.py``) on every step of random worlds. Malformed tickets and drift
are read across Tracks in ways not modelled here (a malformed ticket holds a Station no Track knows it
holds; an unheld drifted branch is repaired unless any held Station deploys its Application): the caller
decides such a World whole. A re-render is read only by the visit it names, at a Station that visit
holds, so ``restrict`` keeps the re-renders of its Stations' Applications and a part is cut as usual
(while a re-rendered head stays the branch head, until the next push, deciding the whole World on
every pass cost O(installation) per event).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.core import decide, model


@dataclass(frozen=True)
class Changed:
    """What changed since the last decision, by key (namespace, name); ``everything``: decide it all."""

    tracks: frozenset[tuple[str, str]] = frozenset()
    stations: frozenset[tuple[str, str]] = frozenset()
    tickets: frozenset[tuple[str, str]] = frozenset()
    apps: frozenset[model.AppRef] = frozenset()
    everything: bool = False

    @property
    def empty(self) -> bool:
        return not (self.everything or self.tracks or self.stations or self.tickets or self.apps)


Link = tuple[dict, object]  # (one of an Index's maps, the key under which an object is listed there)


def _add(index: dict, key: object, value: object) -> None:
    index.setdefault(key, set()).add(value)


def _drop(index: dict, key: object, value: object) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(value)
        if not members:
            del index[key]


class Index:
    """The parsed World kept across passes, with who couples with whom, updated object by object.

    Caller: the controller loop. Grouping the whole World (union-find, ``tests/daemon/scope_reference.py``)
    on every pass made a pass O(N Tracks) however little changed. Here a changed object costs its own
    entries (``put_*``), and ``tracks_with`` walks only the components of its seeds along the same
    couplings (the property tests check both give the same Tracks and the same sub-World on every
    step of random worlds), so a pass costs what its components hold.
    """

    def __init__(self) -> None:
        self.tracks: dict[model.TrackRef, model.TrackSpec] = {}
        self.stations: dict[model.StationRef, model.StationSpec] = {}
        self.tickets: dict[model.TicketRef, model.Ticket] = {}
        self._on_track: dict[model.TrackRef, set[model.TicketRef]] = {}  # tickets by their Track
        self._at_station: dict[model.StationRef, set[model.TicketRef]] = {}  # tickets by the Station held
        self._listing: dict[model.StationRef, set[model.TrackRef]] = {}  # Tracks listing a Station
        self._junctions: dict[model.TrackRef, set[model.StationRef]] = {}  # Stations with it as junction
        self._naming: dict[model.AppRef, set[model.StationRef]] = {}  # Stations naming an Application
        self._children: dict[model.TicketRef, set[model.TicketRef]] = {}  # parent -> tickets naming it
        self._recording: dict[str, set[model.TicketRef]] = {}  # namespace -> tickets with recorded children
        self._in_namespace: dict[str, set[model.TrackRef]] = {}  # Tracks by namespace (child names)
        self.states: Counter[model.TicketState] = Counter()  # tickets by state (the metrics' gauge)

    @classmethod
    def of(cls, world: model.World) -> Index:
        index = cls()
        for ref, track in world.tracks.items():
            index.put_track(ref, track)
        for ref, station in world.stations.items():
            index.put_station(ref, station)
        for ref, ticket in world.tickets.items():
            index.put_ticket(ref, ticket)
        return index

    # -- updates --------------------------------------------------------------------------------

    def put_track(self, ref: model.TrackRef, track: model.TrackSpec | None) -> None:
        """``track`` replaces what ``ref`` held (None: gone)."""
        self._put(self.tracks, ref, track, self._track_links)

    def put_station(self, ref: model.StationRef, station: model.StationSpec | None) -> None:
        self._put(self.stations, ref, station, self._station_links)

    def put_ticket(self, ref: model.TicketRef, ticket: model.Ticket | None) -> None:
        old = self.tickets.get(ref)
        if old is not None:
            self.states[old.status.state] -= 1
        if ticket is not None:
            self.states[ticket.status.state] += 1
        self._put(self.tickets, ref, ticket, self._ticket_links)

    def _put(self, store: dict, ref: Any, value: Any, links: Callable[[Any, Any], Iterator[Link]]) -> None:
        """Replace ``store[ref]``, dropping the old value's index entries and adding the new one's:
        one description of each kind's entries (``links``) serves both, so they cannot disagree."""
        old = store.pop(ref, None)
        if old is not None:
            for index, key in links(ref, old):
                _drop(index, key, ref)
        if value is not None:
            store[ref] = value
            for index, key in links(ref, value):
                _add(index, key, ref)

    def _track_links(self, ref: model.TrackRef, track: model.TrackSpec) -> Iterator[Link]:
        yield self._in_namespace, ref.namespace
        for name in track.stations:
            yield self._listing, model.StationRef(ref.namespace, name)

    def _station_links(self, ref: model.StationRef, station: model.StationSpec) -> Iterator[Link]:
        for name in station.tracks:
            yield self._junctions, model.TrackRef(ref.namespace, name)
        for app in station.applications:
            yield self._naming, app

    def _ticket_links(self, ref: model.TicketRef, ticket: model.Ticket) -> Iterator[Link]:
        yield self._on_track, ticket.track_ref
        if ticket.status.station is not None:
            yield self._at_station, model.StationRef(ref.namespace, ticket.status.station)
        if ticket.parent is not None:
            yield self._children, model.TicketRef(ref.namespace, ticket.parent)
        if ticket.status.children:
            yield self._recording, ref.namespace

    # -- reading --------------------------------------------------------------------------------

    def named(self, app: model.AppRef) -> bool:
        """Some Station names ``app`` (its status belongs in the World)."""
        return app in self._naming

    def stations_naming(self, apps: Iterable[model.AppRef]) -> set[model.StationRef]:
        return {station for app in apps for station in self._naming.get(app, ())}

    def affected(self, changed: Changed) -> frozenset[model.TrackRef] | None:
        """The Tracks to decide after ``changed`` (whole components); None: decide everything (a change
        this cannot place, e.g. a ticket that is not in the World any more)."""
        if changed.everything:
            return None
        seeds: list[model.TrackRef | model.StationRef] = [model.TrackRef(ns, name) for ns, name in changed.tracks]
        seeds += [model.StationRef(ns, name) for ns, name in changed.stations]
        for ns, name in changed.tickets:
            ticket = self.tickets.get(model.TicketRef(ns, name))
            if ticket is None:
                return None  # deleted or unreadable: what it held is not in the World
            seeds.append(ticket.track_ref)
        seeds += self.stations_naming(changed.apps)
        return self.tracks_with(seeds) if seeds else frozenset()

    def tracks_with(self, seeds: Iterable[model.TrackRef | model.StationRef]) -> frozenset[model.TrackRef]:
        """Every Track in a component of one of ``seeds`` (a walk along the couplings)."""
        seen: set[model.TrackRef | model.StationRef] = set(seeds)
        todo = list(seen)
        while todo:
            node = todo.pop()
            neighbours = self._track_neighbours(node) if isinstance(node, model.TrackRef) else \
                self._station_neighbours(node)
            for other in neighbours:
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return frozenset(node for node in seen if isinstance(node, model.TrackRef))

    def _station_neighbours(self, ref: model.StationRef) -> Iterator[model.TrackRef | model.StationRef]:
        yield from self._listing.get(ref, ())
        station = self.stations.get(ref)
        if station is not None:
            yield from (model.TrackRef(ref.namespace, name) for name in station.tracks)
        for held_by in self._at_station.get(ref, ()):
            yield self.tickets[held_by].track_ref
        if station is not None:  # another Station naming one of its Applications (graph.application_sharing)
            for app in station.applications:
                yield from self._naming.get(app, ())

    def _track_neighbours(self, ref: model.TrackRef) -> Iterator[model.TrackRef | model.StationRef]:
        namespace = ref.namespace
        track = self.tracks.get(ref)
        if track is not None:
            yield from (model.StationRef(namespace, name) for name in track.stations)
        yield from self._junctions.get(ref, ())
        on_track = self._on_track.get(ref, ())
        for ticket_ref in on_track:
            ticket = self.tickets[ticket_ref]
            if ticket.status.station is not None:
                yield model.StationRef(namespace, ticket.status.station)
            if ticket.parent is not None and (parent := self.tickets.get(
                    model.TicketRef(namespace, ticket.parent))) is not None:
                yield parent.track_ref
            for child in self._children.get(ticket_ref, ()):
                yield self.tickets[child].track_ref
            if ticket.status.children:  # where its recorded children go (or went)
                wanted = set(ticket.status.children)
                for name in wanted:
                    if (existing := self.tickets.get(model.TicketRef(namespace, name))) is not None:
                        yield existing.track_ref
                for other in self._in_namespace.get(namespace, ()):
                    if decide.child_ticket_name(ticket.name, other.name) in wanted:
                        yield other
        for recorder_ref in self._recording.get(namespace, ()):  # a parent that records a child here
            recorder = self.tickets[recorder_ref]
            wanted = set(recorder.status.children)
            if (track is not None and decide.child_ticket_name(recorder.name, ref.name) in wanted) or any(
                    self.tickets[t].name in wanted for t in on_track):
                yield recorder.track_ref

    def restrict(self, scope: frozenset[model.TrackRef], now: float,
                 apps: Mapping[model.AppRef, model.AppStatus],
                 rerendered: Mapping[model.AppRef, model.Rerendered] | None = None,
                 frozen: Mapping[str, str] | None = None) -> model.World:
        """The part of the indexed World that decides the Tracks of ``scope`` (a union of whole
        components; no malformed tickets or drift): its Tracks, their tickets, the Stations those
        list, hold or passed, and those Stations' Application statuses and re-renders; ``frozen``
        (the stopped namespaces) is the whole World's, as every Track of a namespace reads it."""
        tracks = {ref: self.tracks[ref] for ref in scope if ref in self.tracks}
        tickets = {ref: self.tickets[ref] for track in scope for ref in self._on_track.get(track, ())}
        wanted = {model.StationRef(ref.namespace, name) for ref, track in tracks.items() for name in track.stations}
        wanted |= {model.StationRef(t.namespace, t.status.station) for t in tickets.values()
                   if t.status.station is not None}
        wanted |= {model.StationRef(t.namespace, r.station) for t in tickets.values() for r in t.status.journey}
        stations = {ref: self.stations[ref] for ref in wanted if ref in self.stations}
        statuses = {app: status for station in stations.values() for app in station.applications
                    if (status := apps.get(app)) is not None}
        heads = {app: head for station in stations.values() for app in station.applications
                 if (head := (rerendered or {}).get(app)) is not None}
        return model.World(now=now, tracks=tracks, stations=stations, tickets=tickets, apps=statuses,
                           rerendered=heads, frozen=dict(frozen or {}))
