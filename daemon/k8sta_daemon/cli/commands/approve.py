"""``k8sta approve TICKET STATION``: let a ticket enter a gated Station (recorded in spec and an Event)."""

from __future__ import annotations

from k8sta_daemon.core import model
from k8sta_daemon.ops import operations

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit
from ..requested import requested


def run(ctx: Context, *, ticket: str, station: str) -> ExitCode:
    store = ctx.store()
    result = operations.approve(store, ctx.namespace, ticket, station, actor=ctx.actor, via="k8sta CLI")
    spec = store.stations(ctx.namespace).get(model.StationRef(ctx.namespace, station))
    note = "" if spec is None or spec.approval_required else f" (station {station} does not require approval)"
    done = "approved" if result.changed else "was already approved"
    emit(ctx, requested(result.ticket, "approve", result.changed, station=station),
         lambda _: f"ticket {ticket}: station {station} {done}{note}")
    return EXIT_OK
