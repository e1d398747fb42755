"""``k8sta abandon TICKET``: stop a ticket for good (spec.abandon); it frees its Station."""

from __future__ import annotations

from k8sta_daemon.ops import operations

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit
from ..requested import requested


def run(ctx: Context, *, ticket: str) -> ExitCode:
    result = operations.abandon(ctx.store(), ctx.namespace, ticket, actor=ctx.actor, via="k8sta CLI")
    message = "abandon requested" if result.changed else "abandon is already requested"
    emit(ctx, requested(result.ticket, "abandon", result.changed), lambda _: f"ticket {ticket}: {message}")
    return EXIT_OK
