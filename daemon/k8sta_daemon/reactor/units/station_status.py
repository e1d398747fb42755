"""Unit ``UpdateStationStatus``: replace a Station's status subresource with what runs there.

What to write, and when, is ``core.station_status``'s decision; this unit writes it, compare-and-swap on
the resourceVersion of the pass's view (a Station edited mid-pass conflicts and is decided again).
"""

from __future__ import annotations

import logging

from k8sta_daemon.core import actions, outcomes, station_status
from k8sta_daemon.reactor.units.context import Context

log = logging.getLogger("k8sta.controller")


def run(action: actions.UpdateStationStatus, context: Context) -> outcomes.Outcome:
    ref = action.station
    obj = context.object("Station", ref.namespace, ref.name)
    context.wrote("Station", context.kube.replace_status("Station", obj, station_status.to_dict(action.status)))
    log.info("station %s runs %s (ticket %s)", ref, action.status.version, action.status.ticket or "-",
             extra={"action": type(action).__name__, "station": str(ref)})
    return outcomes.Done()
