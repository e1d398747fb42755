"""The Stations' statuses as written, read back for ``core.station_status`` once per pass.

Caller: the controller loop, after ``decide``, with the same sub-World and view. Each written status is
parsed once per resourceVersion (a full pass at 1,000 Tracks reads 3,000 of them every resync); one
this daemon cannot read is logged once and counts as none, so the next write replaces it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from k8sta_daemon.core import actions, model, station_status
from k8sta_daemon.reactor.cache import View

log = logging.getLogger("k8sta.controller")


class StationStatuses:
    def __init__(self) -> None:
        self._parsed: dict[model.StationRef, tuple[str, station_status.StationStatus | None]] = {}

    def plan(self, world: model.World, view: View,
             heads: Mapping[model.AppRef, station_status.BranchHead]) -> list[actions.UpdateStationStatus]:
        """The status writes of the Stations in ``world`` (``core.station_status.decide``)."""
        observed = {ref: self.observed(view, ref) for ref in world.stations}
        if len(self._parsed) > 2 * len(view.objects["Station"]) + 100:  # forget deleted Stations, seldom
            self._parsed = {ref: hit for ref, hit in self._parsed.items()
                            if view.get("Station", ref.namespace, ref.name) is not None}
        return station_status.decide(world, observed, heads)

    def observed(self, view: View, ref: model.StationRef) -> station_status.StationStatus | None:
        obj = view.get("Station", ref.namespace, ref.name)
        if obj is None:
            return None
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        hit = self._parsed.get(ref)
        if hit is not None and version and hit[0] == version:
            return hit[1]
        try:
            status = station_status.from_dict(obj.get("status"), f"Station {ref}")
        except station_status.MalformedStatus as exc:
            log.warning("rewriting the unreadable status of Station %s: %s", ref, exc)
            status = None
        self._parsed[ref] = (version, status)
        return status
