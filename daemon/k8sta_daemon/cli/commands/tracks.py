"""``k8sta tracks``: every Track as a small railway picture (or JSON/YAML for scripts)."""

from __future__ import annotations

from typing import Any

from k8sta_daemon.core import model

from .. import board, railway
from ..context import Context
from ..errors import EXIT_OK, ExitCode
from ..output import emit


def run(ctx: Context, *, names: list[str], all_namespaces: bool) -> ExitCode:
    store = ctx.store()
    namespace = None if all_namespaces else ctx.namespace
    tracks = [store.track(ctx.namespace, name) for name in names] if names else store.tracks(namespace)
    stations = store.stations(namespace)
    tickets = store.tickets(namespace)
    views = [board.track_json(track, _stations_of(track, stations), tickets) for track in tracks]
    emit(ctx, {"items": views}, lambda data: _human(ctx, data))
    return EXIT_OK


def _stations_of(track: model.TrackSpec,
                 stations: dict[model.StationRef, model.StationSpec]) -> dict[str, model.StationSpec]:
    return {s.name: s for ref, s in stations.items() if ref.namespace == track.namespace}


def _human(ctx: Context, data: dict[str, Any]) -> str:
    if not data["items"]:
        return f"no tracks found in namespace {ctx.namespace}"
    return railway.render_tracks(data["items"], colour=ctx.colour)
