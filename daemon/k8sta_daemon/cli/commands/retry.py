"""``k8sta retry TICKET``: ask the controller to re-enter a Failed ticket's Station (spec.retry + 1)."""

from __future__ import annotations

from k8sta_daemon.core import model
from k8sta_daemon.ops.errors import Refused

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit
from ..requested import requested


def run(ctx: Context, *, ticket: str) -> ExitCode:
    store = ctx.store()
    current = store.ticket(ctx.namespace, ticket)
    if current.retry_count > current.status.observed_retry:
        emit(ctx, requested(current, "retry", False, retry=current.retry_count),
             lambda _: f"ticket {ticket}: retry #{current.retry_count} is already requested; the controller "
                       "has not acted on it yet")
        return EXIT_OK
    if current.status.state is not model.TicketState.FAILED:
        raise Refused(f"ticket {ticket} is {current.status.state.value}; only a Failed ticket can be retried")
    count = current.retry_count + 1
    store.patch_ticket_spec(current, {"retry": count})
    where = current.status.journey[-1].station if current.status.journey else "its first station"
    store.record(ctx.namespace, ticket, current.uid, "RetryRequested",
                 f"retry #{count} of {where} requested by {ctx.actor} via k8sta CLI")
    emit(ctx, requested(current, "retry", True, retry=count),
         lambda _: f"ticket {ticket}: retry #{count} requested (re-enters {where})")
    return EXIT_OK
