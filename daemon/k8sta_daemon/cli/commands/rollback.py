"""``k8sta rollback --track T --to TICKET``: a new ticket pinned to an older ticket's snapshot.

Tickets never travel backwards; rolling back is riding forward with old pins.
"""

from __future__ import annotations

from k8sta_daemon.ops import board, operations

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit
from .ticket_create import created_message


def run(ctx: Context, *, track: str, to: str) -> ExitCode:
    created = operations.rollback(ctx.store(), ctx.namespace, track, to, actor=ctx.actor, via="k8sta CLI")
    data = {"namespace": created.namespace, "name": created.name, "track": created.track,
            "rollbackOf": to, "snapshot": board.snapshot_json(created.snapshot)}
    emit(ctx, data, created_message)
    return EXIT_OK
