"""``k8sta approve TICKET STATION``: let a ticket enter a gated Station (recorded in spec and an Event)."""

from __future__ import annotations

from k8sta_daemon.core import model
from k8sta_daemon.ops.errors import NotFound, Refused

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit
from ..requested import requested


def run(ctx: Context, *, ticket: str, station: str) -> ExitCode:
    store = ctx.store()
    current = store.ticket(ctx.namespace, ticket)
    if current.status.state.terminal:
        raise Refused(f"ticket {ticket} is {current.status.state.value}; there is nothing left to approve")
    track = store.track(ctx.namespace, current.track)
    if station not in track.stations:
        raise NotFound(f"station {station} is not on track {track.name} (stations: {', '.join(track.stations)})")
    spec = store.stations(ctx.namespace).get(model.StationRef(ctx.namespace, station))
    note = "" if spec is None or spec.approval_required else f" (station {station} does not require approval)"
    if station in current.approved_stations:
        emit(ctx, requested(current, "approve", False, station=station),
             lambda _: f"ticket {ticket}: station {station} was already approved{note}")
        return EXIT_OK
    store.patch_ticket_spec(current, {"approvedStations": sorted(current.approved_stations | {station})})
    store.record(ctx.namespace, ticket, current.uid, "Approved",
                 f"station {station} approved by {ctx.actor} via k8sta CLI")
    emit(ctx, requested(current, "approve", True, station=station),
         lambda _: f"ticket {ticket}: station {station} approved{note}")
    return EXIT_OK
