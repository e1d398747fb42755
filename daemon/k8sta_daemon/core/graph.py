"""Checks of the Track graph: missing references, duplicate Stations, junction cycles and deadlocks.

Caller: ``decide.decide`` asks ``check_tracks`` once per decision; a Track whose verdict is not ``ok``
gets a ``Ready=False`` condition and no ticket moves on it. Pure and deterministic (sorted iteration,
iterative Tarjan). Three graph rules:

- Junction cycles: junction Stations make a directed graph of Tracks (Track T -> Track U when a
  Station on T names U); a cycle there would spawn tickets forever, so every Track on a cycle is
  refused (``CycleDetected``).
- Station order (deadlocks): a ticket keeps its Station until it has entered the next one, and a
  Station holds one ticket across all Tracks. Two Tracks that share Stations in opposite order
  (a: (x, y), b: (y, x)) can each hold the Station the other waits for, forever; so can three Tracks
  rotating (a: (x, y), b: (y, z), c: (z, x)). Every Track contributes "x before y" for every pair of
  its Stations (not only neighbours: disabling the Station between them makes them neighbours); if
  these orders contradict each other (a cycle in the Station order graph), every Track with two
  Stations in that cycle is refused (``StationOrderConflict``), naming the Tracks and Stations.
- Junction sharing: a Track whose junctions lead (directly or through further junctions) to a Track
  that shares a Station with it is refused (``JunctionSharesStation``): the child would redeploy the
  parent's Station with the parent's snapshot, possibly after a newer ticket of the parent's Track
  had been there, and the two tickets could wait for each other. Only the parent Track is refused;
  tickets created directly on the child Track are not affected.
- Application sharing: two Stations listed by Tracks must not name the same Application
  (``ApplicationShared``; every Track listing either Station is refused, naming the Application and
  both Stations). Occupancy is per Station and an Application has one app branch, so two tickets,
  one at each Station, would push that branch at once and the earlier would wait for a commit that
  is no longer the head. Refused rather than counting occupancy per Application: a Station is the
  unit K8sTA deploys, judges, soaks and approves, and an Application deployed by two Stations would
  have its verified state overwritten by the other Station's visit (arriving at one Station would
  no longer mean what runs there); drift repair and re-renders also find an Application's single
  Station; and Station order alone rules out deadlocks only while no two Stations share anything
  else. Disabled Stations, Applications and Tracks count (enabling one must not create a conflict
  at run time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from k8sta_daemon.core import model

N = TypeVar("N", model.TrackRef, model.StationRef)


@dataclass(frozen=True)
class TrackVerdict:
    """Why a Track may or may not carry tickets; ``reason`` is VALID when it may."""

    reason: model.ConditionReason
    message: str

    @property
    def ok(self) -> bool:
        return self.reason is model.ConditionReason.VALID

    def condition(self) -> model.Condition:
        status = model.ConditionStatus.TRUE if self.ok else model.ConditionStatus.FALSE
        return model.Condition(model.ConditionType.READY, status, self.reason, self.message)


def junction_edges(tracks: Mapping[model.TrackRef, model.TrackSpec],
                   stations: Mapping[model.StationRef, model.StationSpec],
                   ) -> dict[model.TrackRef, tuple[model.TrackRef, ...]]:
    """Track -> the existing Tracks its junction Stations spawn onto (disabled Stations included:
    enabling one must not create a cycle at run time)."""
    edges: dict[model.TrackRef, tuple[model.TrackRef, ...]] = {}
    for ref in sorted(tracks):
        targets: list[model.TrackRef] = []
        for station_name in tracks[ref].stations:
            station = stations.get(model.StationRef(ref.namespace, station_name))
            if station is None:
                continue
            for target_name in station.tracks:
                target = model.TrackRef(ref.namespace, target_name)
                if target in tracks and target not in targets:
                    targets.append(target)
        edges[ref] = tuple(targets)
    return edges


def find_cycles(edges: Mapping[model.TrackRef, tuple[model.TrackRef, ...]],
                ) -> dict[model.TrackRef, tuple[model.TrackRef, ...]]:
    """Every node on a cycle -> one cycle through its strongly connected component, as a path
    that starts and ends at the component's smallest node (e.g. ``(a, b, a)``)."""
    result: dict[model.TrackRef, tuple[model.TrackRef, ...]] = {}
    for component in _strongly_connected(edges):
        members = set(component)
        start = min(component)
        if len(component) == 1 and start not in edges.get(start, ()):
            continue
        path = _cycle_through(start, members, edges)
        for node in component:
            result[node] = path
    return result


def check_tracks(tracks: Mapping[model.TrackRef, model.TrackSpec],
                 stations: Mapping[model.StationRef, model.StationSpec],
                 ) -> dict[model.TrackRef, TrackVerdict]:
    """A verdict per Track. Structural problems are reported before ``Disabled`` (more useful)."""
    edges = junction_edges(tracks, stations)
    cycles = find_cycles(edges)
    conflicts = station_order_conflicts(tracks)
    sharing = junction_sharing(tracks, edges)
    shared_apps = application_sharing(tracks, stations)
    verdicts: dict[model.TrackRef, TrackVerdict] = {}
    reason = model.ConditionReason
    for ref in sorted(tracks):
        track = tracks[ref]
        duplicates = sorted({s for s in track.stations if track.stations.count(s) > 1})
        missing = [s for s in track.stations if model.StationRef(ref.namespace, s) not in stations]
        missing_junctions = sorted({
            t for s in track.stations
            if (station := stations.get(model.StationRef(ref.namespace, s))) is not None
            for t in station.tracks if model.TrackRef(ref.namespace, t) not in tracks
        })
        if not track.stations:
            verdict = TrackVerdict(reason.STATION_NOT_FOUND, "track lists no stations")
        elif duplicates:
            verdict = TrackVerdict(reason.DUPLICATE_STATION,
                                   f"station(s) listed more than once: {', '.join(duplicates)}")
        elif missing:
            verdict = TrackVerdict(reason.STATION_NOT_FOUND,
                                   f"station(s) not found in namespace {ref.namespace}: {', '.join(missing)}")
        elif missing_junctions:
            verdict = TrackVerdict(reason.JUNCTION_TRACK_NOT_FOUND,
                                   "junction station(s) name track(s) not found: "
                                   + ", ".join(missing_junctions))
        elif ref in cycles:
            path = " -> ".join(t.name for t in cycles[ref])
            verdict = TrackVerdict(reason.CYCLE_DETECTED,
                                   f"junction stations form a cycle of tracks ({path}); "
                                   "tickets on these tracks do not move")
        elif ref in conflicts:
            verdict = TrackVerdict(reason.STATION_ORDER_CONFLICT, conflicts[ref])
        elif ref in sharing:
            verdict = TrackVerdict(reason.JUNCTION_SHARES_STATION, sharing[ref])
        elif ref in shared_apps:
            verdict = TrackVerdict(reason.APPLICATION_SHARED, shared_apps[ref])
        elif track.disabled:
            verdict = TrackVerdict(reason.DISABLED, "track is disabled; no ticket moves on it")
        else:
            verdict = TrackVerdict(reason.VALID, "track is valid")
        verdicts[ref] = verdict
    return verdicts


def station_order_conflicts(tracks: Mapping[model.TrackRef, model.TrackSpec]) -> dict[model.TrackRef, str]:
    """Tracks whose Station orders contradict each other's (see the module docstring) -> why.

    Tracks are compared within their namespace (Stations are namespaced like them)."""
    edges: dict[model.StationRef, list[model.StationRef]] = {}
    for ref in sorted(tracks):
        names = tracks[ref].stations
        for i, first in enumerate(names):
            source = model.StationRef(ref.namespace, first)
            targets = edges.setdefault(source, [])
            for later in names[i + 1:]:
                target = model.StationRef(ref.namespace, later)
                edges.setdefault(target, [])
                if target != source and target not in targets:
                    targets.append(target)
    graph = {node: tuple(sorted(targets)) for node, targets in edges.items()}
    result: dict[model.TrackRef, str] = {}
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        members = set(component)
        involved = {ref: [s for s in tracks[ref].stations if model.StationRef(ref.namespace, s) in members]
                    for ref in sorted(tracks) if ref.namespace == component[0].namespace}
        involved = {ref: order for ref, order in involved.items() if len(order) >= 2}
        orders = "; ".join(f"{ref.name}: {' -> '.join(order)}" for ref, order in involved.items())
        message = (f"tracks {', '.join(ref.name for ref in involved)} share stations "
                   f"{', '.join(sorted(s.name for s in members))} in contradicting order ({orders}); "
                   "their tickets could each hold the station the other waits for (deadlock); "
                   "list shared stations in the same order on every track")
        for ref in involved:
            result.setdefault(ref, message)
    return result


def junction_sharing(tracks: Mapping[model.TrackRef, model.TrackSpec],
                     edges: Mapping[model.TrackRef, tuple[model.TrackRef, ...]]) -> dict[model.TrackRef, str]:
    """Tracks whose junctions lead (transitively) to a Track sharing a Station with them -> why."""
    result: dict[model.TrackRef, str] = {}
    for ref in sorted(tracks):
        seen: list[model.TrackRef] = []
        frontier = list(edges.get(ref, ()))
        while frontier:
            node = frontier.pop(0)
            if node in seen or node == ref:
                continue
            seen.append(node)
            frontier.extend(edges.get(node, ()))
        mine = set(tracks[ref].stations)
        for target in seen:
            shared = sorted(mine & set(tracks[target].stations))
            if shared:
                result[ref] = (f"a junction of this track leads to track {target.name}, which shares "
                               f"station(s) {', '.join(shared)} with track {ref.name}; a child ticket would "
                               "redeploy them with the parent's snapshot (and the two could wait for each "
                               "other); give the junction track its own stations")
                break
    return result


def application_sharing(tracks: Mapping[model.TrackRef, model.TrackSpec],
                        stations: Mapping[model.StationRef, model.StationSpec]) -> dict[model.TrackRef, str]:
    """Tracks listing a Station that names an Application another listed Station names too -> why
    (see the module docstring). Stations on no Track take no tickets and do not count."""
    owner: dict[model.AppRef, model.StationRef] = {}  # every pass: one look per listed Station
    shared: dict[model.AppRef, set[model.StationRef]] = {}
    for ref, track in tracks.items():
        for name in track.stations:
            station_ref = model.StationRef(ref.namespace, name)
            station = stations.get(station_ref)
            if station is None:
                continue
            for app in station.applications:
                first = owner.setdefault(app, station_ref)
                if first is not station_ref and first != station_ref:
                    shared.setdefault(app, {first}).add(station_ref)
    conflicts = {app: sorted(refs) for app, refs in shared.items()}
    result: dict[model.TrackRef, str] = {}
    for app in sorted(conflicts):
        sharing = conflicts[app]
        for ref in sorted(tracks):
            mine = [s for s in sharing if s.namespace == ref.namespace and s.name in tracks[ref].stations]
            if not mine or ref in result:
                continue
            names = ", ".join(s.name if s.namespace == ref.namespace else f"{s.namespace}/{s.name}"
                              for s in sharing)
            result[ref] = (f"application {app.namespace}/{app.name} is named by stations {names}: it has one "
                           "app branch, so tickets at two of these stations would push it at once (the earlier "
                           "then waits for a commit that is no longer the head); let one station own each "
                           "application")
    return result


def _strongly_connected(edges: Mapping[N, tuple[N, ...]]) -> list[list[N]]:
    """Tarjan's algorithm without recursion (deep graphs must not hit the recursion limit)."""
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    on_stack: set[N] = set()
    stack: list[N] = []
    components: list[list[N]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[N, int]] = [(root, 0)]
        while work:
            node, child_index = work.pop()
            if child_index == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = edges.get(node, ())
            if child_index < len(successors):
                work.append((node, child_index + 1))
                succ = successors[child_index]
                if succ not in index:
                    work.append((succ, 0))
                elif succ in on_stack:
                    low[node] = min(low[node], index[succ])
                continue
            if low[node] == index[node]:
                component: list[N] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cycle_through(start: model.TrackRef, members: set[model.TrackRef],
                   edges: Mapping[model.TrackRef, tuple[model.TrackRef, ...]],
                   ) -> tuple[model.TrackRef, ...]:
    """Shortest cycle from ``start`` back to itself inside one component (breadth first)."""
    previous: dict[model.TrackRef, model.TrackRef] = {}
    frontier = [start]
    while frontier:
        following: list[model.TrackRef] = []
        for node in frontier:
            for succ in edges.get(node, ()):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return (start, *reversed(path[:-1]), start) if node != start else (start, start)
                if succ in members and succ not in previous and succ != start:
                    previous[succ] = node
                    following.append(succ)
        frontier = following
    return (start, start)
