"""``k8sta retry TICKET``: ask the controller to re-enter a Failed ticket's Station (spec.retry + 1)."""

from __future__ import annotations

from k8sta_daemon.ops import operations

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit
from ..requested import requested


def run(ctx: Context, *, ticket: str) -> ExitCode:
    result = operations.retry_ticket(ctx.store(), ctx.namespace, ticket, actor=ctx.actor, via="k8sta CLI")
    current = result.ticket
    if not result.changed:
        emit(ctx, requested(current, "retry", False, retry=current.retry_count),
             lambda _: f"ticket {ticket}: retry #{current.retry_count} is already requested; the controller "
                       "has not acted on it yet")
        return EXIT_OK
    count = current.retry_count + 1
    where = current.status.journey[-1].station if current.status.journey else "its first station"
    emit(ctx, requested(current, "retry", True, retry=count),
         lambda _: f"ticket {ticket}: retry #{count} requested (re-enters {where})")
    return EXIT_OK
