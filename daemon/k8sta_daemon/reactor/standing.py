"""The World kept across passes: parsed objects, who couples with whom, the managed Applications'
statuses, updated by what changed since the previous pass.

Caller: the controller loop, once per pass. Rebuilding the World from the whole cache made every pass
cost O(installation) however little changed (bench/bench_scale.py, cProfile at 100 Tracks: 63% of an
event-driven pass). Here a pass parses and indexes only the objects its changes name (``core.scope.Index``)
and cuts the sub-World of their components from the index; "everything" (a relist, a deletion, a
namespace claimed or lost, a pass that stopped early) rebuilds it all, as the resync does.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any

from k8sta_daemon.core import codec, model, scope
from k8sta_daemon.reactor.cache import Key, View
from k8sta_daemon.reactor.health import HealthReasons

log = logging.getLogger("k8sta.controller")
AWAITING = frozenset({model.TicketState.DEPLOYING, model.TicketState.SUSPENDED})
PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "Track": codec.track_from_dict, "Station": codec.station_from_dict, "Ticket": codec.ticket_or_malformed}


class Standing:
    def __init__(self, health: HealthReasons | None = None) -> None:
        self.health = health
        self.index = scope.Index()
        self.malformed: dict[model.TicketRef, model.MalformedTicket] = {}
        self.apps: dict[model.AppRef, model.AppStatus] = {}  # the named Applications' statuses
        self.claimed: frozenset[str] | None = None  # the namespaces the index was built for (None: all)
        # (kind, key) -> (resourceVersion, parsed value or the MalformedObject it raised)
        self._parsed: dict[tuple[str, Key], tuple[str, Any]] = {}
        self._statuses: dict[model.AppRef, tuple[str, str, model.AppStatus]] = {}
        self._warned: set[tuple[object, ...]] = set()
        self.frozen: dict[str, str] = {}  # namespace -> why it is stopped (``k8sta freeze``)

    def update(self, view: View, changed: scope.Changed, claimed: frozenset[str] | None,
               rebuild: bool = False) -> scope.Changed:
        """Bring the kept World up to ``view`` by the keys ``changed`` names, or wholly when ``rebuild``
        (the cache was relisted or lost an object) or the claimed namespaces moved; returns ``changed``
        as the index can place it (the other controllers' tickets left out; everything when rebuilt)."""
        if claimed is not None:  # another controller's objects are not in the World: not ours to decide
            def ours(keys: frozenset[Key]) -> frozenset[Key]:
                return frozenset(key for key in keys if key[0] in claimed)
            changed = scope.Changed(tracks=ours(changed.tracks), stations=ours(changed.stations),
                                    tickets=ours(changed.tickets), apps=changed.apps, everything=changed.everything)
        if rebuild or claimed != self.claimed:
            self._rebuild(view, claimed)
            self.frozen = self._frozen()
            return scope.Changed(everything=True)
        for ns, name in changed.tracks:
            self.index.put_track(model.TrackRef(ns, name), self._read(view, "Track", (ns, name)))
        if changed.tracks and (frozen := self._frozen()) != self.frozen:
            self.frozen = frozen  # a freeze stops (or frees) every Track of its namespace: decide them all
            changed = dataclasses.replace(changed, everything=True)
        for ns, name in changed.stations:
            self.index.put_station(model.StationRef(ns, name), self._read(view, "Station", (ns, name)))
        for ns, name in changed.tickets:
            self._put_ticket(model.TicketRef(ns, name), self._read(view, "Ticket", (ns, name)))
        apps = set(changed.apps)
        for ns, name in changed.stations:
            station = self.index.stations.get(model.StationRef(ns, name))
            apps.update(station.applications if station is not None else ())
        gone = [ref for ref in self.apps if not self.index.named(ref)] if changed.stations else []
        for ref in gone:
            del self.apps[ref]
            self._statuses.pop(ref, None)
        self._refresh(view, apps)
        return changed

    def world(self, now: float, drift: Iterable[model.Drift] = (),
              rerendered: Iterable[model.Rerendered] = ()) -> model.World:
        """The whole World (a shallow copy of the index: one dict per kind)."""
        index = self.index
        return model.World(now=now, tracks=dict(index.tracks), stations=dict(index.stations),
                           tickets=dict(index.tickets), apps=dict(self.apps), malformed=dict(self.malformed),
                           drift={d.app: d for d in drift}, rerendered={r.app: r for r in rerendered},
                           frozen=dict(self.frozen))

    def part(self, changed: scope.Changed, now: float, drift: tuple[model.Drift, ...] = (),
             rerendered: tuple[model.Rerendered, ...] = ()) -> model.World:
        """The sub-World of the Tracks ``changed`` concerns (with the re-renders of its Applications:
        only the visit a re-render names reads it), or the whole World when it cannot be cut
        (everything changed, a ticket it cannot place, malformed tickets, drift). A new or changed
        re-render needs no seed here: the drift watcher's ``on_change`` makes that pass a full one."""
        tracks = self.index.affected(changed)
        if tracks is None or self.malformed or drift:
            return self.world(now, drift, rerendered)
        return self.index.restrict(tracks, now, self.apps, {r.app: r for r in rerendered}, self.frozen)

    def _frozen(self) -> dict[str, str]:
        """The namespaces ``k8sta freeze`` stopped: those with a Track carrying the freeze annotation
        (any one: the first Track it writes stops them all, and one a failed unfreeze left keeps them
        stopped), with the reason of the first such Track by name."""
        frozen: dict[str, str] = {}
        for ref in sorted(self.index.tracks):
            track = self.index.tracks[ref]
            if track.freeze is not None:
                frozen.setdefault(ref.namespace, track.freeze)
        return frozen

    def awaited(self) -> set[model.AppRef]:
        """The Applications a ticket waits on to arrive (Deploying or Suspended at their Station):
        the ones whose lost stream event would hold a ticket up."""
        found: set[model.AppRef] = set()
        for ticket in self.index.tickets.values():
            status = ticket.status
            if status.station is not None and status.state in AWAITING:
                station = self.index.stations.get(model.StationRef(ticket.namespace, status.station))
                found.update(station.active_applications if station is not None else ())
        return found

    # -- internals ------------------------------------------------------------------------------

    def _rebuild(self, view: View, claimed: frozenset[str] | None) -> None:
        self.index, self.malformed, self.claimed = scope.Index(), {}, claimed
        known, self._parsed = self._parsed, {}
        for kind in PARSERS:
            for key, obj in view.objects[kind].items():
                if claimed is not None and key[0] not in claimed:
                    continue  # another controller's namespace (or not claimed yet)
                value = self._parse(kind, key, obj, known)
                if kind == "Track":
                    self.index.put_track(model.TrackRef(*key), value)
                elif kind == "Station":
                    self.index.put_station(model.StationRef(*key), value)
                else:
                    self._put_ticket(model.TicketRef(*key), value)
        self.apps = {}
        self._statuses = {ref: entry for ref, entry in self._statuses.items() if self.index.named(ref)}
        self._refresh(view, {app for station in self.index.stations.values() for app in station.applications})

    def _read(self, view: View, kind: str, key: Key) -> Any:
        obj = view.objects[kind].get(key)
        if obj is None:
            self._parsed.pop((kind, key), None)
            return None
        return self._parse(kind, key, obj, self._parsed)

    def _parse(self, kind: str, key: Key, obj: dict[str, Any], known: dict[tuple[str, Key], tuple[str, Any]]) -> Any:
        """The model value of ``obj``, parsed once per resourceVersion; None when it is malformed
        (logged once), a ``MalformedTicket`` for a Ticket (it keeps its Station and says why)."""
        version = (obj.get("metadata") or {}).get("resourceVersion")
        hit = known.get((kind, key))
        if hit is not None and version is not None and hit[0] == version:
            value = hit[1]  # an object never changes without a new resourceVersion
        else:
            try:
                value = PARSERS[kind](obj)
            except codec.MalformedObject as exc:
                value = exc
        if version is not None:
            self._parsed[(kind, key)] = (version, value)
        if isinstance(value, codec.MalformedObject):
            self._warn_once(kind, obj, f"ignoring malformed {kind} {key[0]}/{key[1]}: {value}")
            return None
        return value

    def _put_ticket(self, ref: model.TicketRef, value: model.Ticket | model.MalformedTicket | None) -> None:
        if isinstance(value, model.MalformedTicket):
            self.index.put_ticket(ref, None)
            self.malformed[ref] = value
        else:
            self.index.put_ticket(ref, value)
            self.malformed.pop(ref, None)

    def _refresh(self, view: View, apps: set[model.AppRef]) -> None:
        """The statuses of ``apps`` that a Station names, from the view (and Argo CD's health reasons
        for the active ones that are not Healthy). While an Application's reasons are being read (off
        the loop's thread, ``reactor.health``) it keeps the status it had: its new one is decided with
        them (their answer is news of it). Seen for the first time, it shows its status without them."""
        named = [ref for ref in apps if self.index.named(ref)]
        active = {app for station in self.index.stations_naming(named) for app in
                  self.index.stations[station].active_applications if app in apps}
        reasons, pending = ({}, set()) if self.health is None else self.health.reasons(view.apps, active)
        for ref in named:
            app = view.apps.get(ref)
            if app is None:
                self.apps.pop(ref, None)
                self._statuses.pop(ref, None)
            elif ref in pending and (held := self._statuses.get(ref)) is not None:
                self.apps[ref] = held[2]
            else:
                self.apps[ref] = self._status(ref, app, reasons.get(ref, ""), view.refusals.get(ref))

    def _status(self, ref: model.AppRef, app: dict[str, Any], reasons: str,
                refused: model.SyncRefusal | None) -> model.AppStatus:
        """An Application's status, parsed once per resourceVersion (and health reasons), with Argo CD's
        refusal of K8sTA's latest sync request (``Cache.set_refusal``)."""
        version = str((app.get("metadata") or {}).get("resourceVersion") or "")
        hit = self._statuses.get(ref)
        if hit is not None and version and hit[0] == version and hit[1] == reasons:
            status = hit[2]
        else:
            status = codec.app_status_from_dict(app, reasons)
            self._statuses[ref] = (version, reasons, status)
        return status if refused is None else dataclasses.replace(status, sync_refused=refused)

    def _warn_once(self, kind: str, obj: dict, message: str) -> None:
        """Log a malformed object once per resourceVersion, not on every pass."""
        meta = obj.get("metadata") or {}
        key = (kind, meta.get("namespace"), meta.get("name"), meta.get("resourceVersion"))
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)
