"""``k8sta rollback --track T --to TICKET``: a new ticket pinned to an older ticket's snapshot.

Tickets never travel backwards; rolling back is riding forward with old pins. The Track is held first,
naming the new ticket, so nothing else boards it until ``k8sta resume``; running the command again
finishes an interrupted rollback, or says the rollback is already there.
"""

from __future__ import annotations

from typing import Any

from k8sta_daemon.ops import board, operations

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit
from .ticket_create import created_message


def run(ctx: Context, *, track: str, to: str) -> ExitCode:
    created = operations.rollback(ctx.store(), ctx.namespace, track, to, actor=ctx.actor, via="k8sta CLI")
    data = {"namespace": created.namespace, "name": created.name, "track": created.track,
            "rollbackOf": to, "snapshot": board.snapshot_json(created.snapshot), "held": created.held,
            "created": created.created}
    emit(ctx, data, _human)
    return EXIT_OK


def _human(data: dict[str, Any]) -> str:
    if not data["created"]:
        return (f"ticket {data['name']} already rolls track {data['track']} back to {data['rollbackOf']} "
                f"(held: {data['held']}); follow it with: k8sta ticket show {data['name']} -n {data['namespace']}")
    return (created_message(data) + f"\ntrack {data['track']} held ({data['held']}): nothing else boards it "
            f"until k8sta resume {data['track']}")
