"""``k8sta ticket show NAME``: one ticket's pins and journey (stations, times, commits, children),
then its recent Events (operator actions and the controller's moves)."""

from __future__ import annotations

from k8sta_daemon.ops import board

from .. import journey
from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit


def run(ctx: Context, *, name: str) -> ExitCode:
    store = ctx.store()
    ticket = store.ticket(ctx.namespace, name)
    events = [board.event_json(e.time, e.type, e.reason, e.message, e.count, e.source)
              for e in store.events(ctx.namespace, name)]
    view = {**board.ticket_json(ticket), "events": events}
    emit(ctx, view, lambda data: journey.render_ticket(data, colour=ctx.colour))
    return EXIT_OK
