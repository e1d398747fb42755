"""``k8sta abandon TICKET``: stop a ticket for good (spec.abandon); it frees its Station."""

from __future__ import annotations

from k8sta_daemon.ops.errors import Refused

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit
from ..requested import requested


def run(ctx: Context, *, ticket: str) -> ExitCode:
    store = ctx.store()
    current = store.ticket(ctx.namespace, ticket)
    if current.status.state.terminal:
        raise Refused(f"ticket {ticket} is already {current.status.state.value}; there is nothing to abandon")
    if current.abandon:
        emit(ctx, requested(current, "abandon", False),
             lambda _: f"ticket {ticket}: abandon is already requested")
        return EXIT_OK
    store.patch_ticket_spec(current, {"abandon": True})
    store.record(ctx.namespace, ticket, current.uid, "AbandonRequested",
                 f"abandon requested by {ctx.actor} via k8sta CLI")
    emit(ctx, requested(current, "abandon", True), lambda _: f"ticket {ticket}: abandon requested")
    return EXIT_OK
