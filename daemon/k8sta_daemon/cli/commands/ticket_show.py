"""``k8sta ticket show NAME``: one ticket's pins and journey (stations, times, commits, children)."""

from __future__ import annotations

from .. import board, journey
from ..context import Context
from ..errors import EXIT_OK, ExitCode
from ..output import emit


def run(ctx: Context, *, name: str) -> ExitCode:
    ticket = ctx.store().ticket(ctx.namespace, name)
    emit(ctx, board.ticket_json(ticket), lambda view: journey.render_ticket(view, colour=ctx.colour))
    return EXIT_OK
