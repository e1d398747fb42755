"""``k8sta tracks``: every Track as a small railway picture (or JSON/YAML for scripts).

``--watch SECONDS`` redraws until interrupted (on a terminal the screen is cleared between
pictures), so a ticket's ride can be followed live.
"""

from __future__ import annotations

from typing import Any

from k8sta_daemon.ops import board

from .. import railway
from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit

CLEAR = "\x1b[H\x1b[2J"


def run(ctx: Context, *, names: list[str], all_namespaces: bool, watch: float | None = None,
        rounds: int | None = None) -> ExitCode:
    """``rounds`` bounds ``--watch`` (tests); None watches until Ctrl-C."""
    store = ctx.store()
    done = 0
    while True:
        data = {"items": _views(ctx, store, names, all_namespaces)}
        if watch is not None and ctx.colour and ctx.output == "human":
            ctx.stdout.write(CLEAR)
        elif done:
            ctx.stdout.write("\n")
        emit(ctx, data, lambda d: _human(ctx, d))
        ctx.stdout.flush()
        done += 1
        if watch is None or (rounds is not None and done >= rounds):
            return EXIT_OK
        ctx.sleep(watch)


def _views(ctx: Context, store: Any, names: list[str], all_namespaces: bool) -> list[dict[str, Any]]:
    namespace = None if all_namespaces else ctx.namespace
    tracks = [store.track(ctx.namespace, name) for name in names] if names else store.tracks(namespace)
    stations = store.stations_running(namespace)
    tickets = store.tickets(namespace)
    return [board.track_json(track, {s.name: s for s, _ in stations if s.namespace == track.namespace}, tickets,
                             {s.name: board.runs_json(runs) for s, runs in stations if s.namespace == track.namespace})
            for track in tracks]


def _human(ctx: Context, data: dict[str, Any]) -> str:
    if not data["items"]:
        return f"no tracks found in namespace {ctx.namespace}"
    return railway.render_tracks(data["items"], colour=ctx.colour)
