"""The plain definition ``core.scope.Index`` is checked against: union-find over the whole World.

``Index`` keeps the couplings per object and walks components from the changes, because grouping the
whole World on every pass made a pass O(installation). This is that whole-World grouping, kept as the
reference: ``sim.check_scope`` decides each of its components alone against the whole decision, and
``sim.check_index`` compares the Index with it on every step of the property tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from k8sta_daemon.core import decide, model

# Nodes are plain tuples, (TRACK or STATION, namespace, name).
Node = tuple[int, str, str]
TRACK, STATION = 0, 1


@dataclass
class Coupling:
    """Union-find over Tracks and Stations: one component per group of Tracks that decide together."""

    parent: dict[Node, Node] = field(default_factory=dict)

    @classmethod
    def of(cls, world: model.World) -> Coupling:
        coupling = cls()
        union, find = coupling.union, coupling.find
        for ref, track in world.tracks.items():
            node = (TRACK, ref.namespace, ref.name)
            find(node)
            for name in track.stations:
                union(node, (STATION, ref.namespace, name))
        naming: dict[model.AppRef, Node] = {}
        for ref, station in world.stations.items():
            for name in station.tracks:  # junction: its Track (through the Station) and the child Track
                union((STATION, ref.namespace, ref.name), (TRACK, ref.namespace, name))
            for app in station.applications:  # two Stations naming one Application (refused together)
                union(naming.setdefault(app, (STATION, ref.namespace, ref.name)), (STATION, ref.namespace, ref.name))
        children: list[model.Ticket] = []
        for ticket in world.tickets.values():
            node = (TRACK, ticket.namespace, ticket.track)
            find(node)
            if ticket.status.station is not None:
                union(node, (STATION, ticket.namespace, ticket.status.station))
            if ticket.parent is not None:
                parent = world.tickets.get(model.TicketRef(ticket.namespace, ticket.parent))
                if parent is not None:
                    union(node, (TRACK, parent.namespace, parent.track))
            if ticket.status.children:
                children.append(ticket)
        for parent_ticket in children:  # where a recorded child goes (or went)
            namespace, node = parent_ticket.namespace, (TRACK, parent_ticket.namespace, parent_ticket.track)
            wanted = set(parent_ticket.status.children)
            for child in wanted:
                existing = world.tickets.get(model.TicketRef(namespace, child))
                if existing is not None:
                    union(node, (TRACK, namespace, existing.track))
            for ref in world.tracks:
                if ref.namespace == namespace and decide.child_ticket_name(parent_ticket.name, ref.name) in wanted:
                    union(node, (TRACK, namespace, ref.name))
        return coupling

    def find(self, node: Node) -> Node:
        parent = self.parent
        root = parent.setdefault(node, node)
        while parent[root] != root:
            root = parent[root]
        while node != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def union(self, a: Node, b: Node) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[root_b] = root_a

    def component(self, ref: model.TrackRef | model.StationRef) -> Node:
        """The root of ``ref``'s component (the same for every member)."""
        kind = TRACK if isinstance(ref, model.TrackRef) else STATION
        return self.find((kind, ref.namespace, ref.name))

    def tracks_with(self, seeds: Iterable[model.TrackRef | model.StationRef]) -> frozenset[model.TrackRef]:
        """Every Track in a component of one of ``seeds``."""
        roots = {self.component(seed) for seed in seeds}
        return frozenset(model.TrackRef(node[1], node[2]) for node in list(self.parent)
                         if node[0] == TRACK and self.find(node) in roots)


def restrict(world: model.World, scope: frozenset[model.TrackRef]) -> model.World | None:
    """The part of ``world`` that decides the Tracks of ``scope`` (a union of whole components).
    None when the World holds what is read across Tracks (malformed tickets, drift); a re-render is
    read only by the visit it names, so the part keeps those of its Stations' Applications."""
    if world.malformed or world.drift:
        return None
    tracks = {ref: track for ref, track in world.tracks.items() if ref in scope}
    tickets = {ref: ticket for ref, ticket in world.tickets.items() if ticket.track_ref in scope}
    wanted = {model.StationRef(ref.namespace, name) for ref, track in tracks.items() for name in track.stations}
    wanted |= {model.StationRef(t.namespace, t.status.station) for t in tickets.values()
               if t.status.station is not None}
    wanted |= {model.StationRef(t.namespace, r.station) for t in tickets.values() for r in t.status.journey}
    stations = {ref: station for ref, station in world.stations.items() if ref in wanted}
    apps = {app: status for station in stations.values() for app in station.applications
            if (status := world.apps.get(app)) is not None}
    rerendered = {app: head for station in stations.values() for app in station.applications
                  if (head := world.rerendered.get(app)) is not None}
    return dataclasses.replace(world, tracks=tracks, stations=stations, tickets=tickets, apps=apps,
                               rerendered=rerendered)
