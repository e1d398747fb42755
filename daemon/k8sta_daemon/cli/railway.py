"""Pure terminal picture of a Track: its Stations in order on a rail, and which ticket stands where.

Callers: the ``tracks`` command, with a view from ``board.track_json``. Colour is a parameter (the
command decides from the TTY and NO_COLOR), so the picture is tested as plain text.

    api · boarding NewestSupersedes · Ready
      boarding   dev         staging     prod
                             soak 60s    gate, ⇒ eu,us
      ▷──────────●───────────●───────────○
                 api-11      api-10      runs 3f2a9c1 api:1.4.2
                 Deploying   Soaking     from api-9
      api-12
      Waiting
      recent: api-9 Completed at prod

Under a Station at rest (no ticket there): what runs there (``k8sta stations`` shows all of it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from k8sta_daemon.ops.board import BOARDING

_RESET = "\x1b[0m"
STATE_COLOURS = {
    "Waiting": "2",  # dim
    "Deploying": "33",  # yellow
    "Suspended": "35",  # magenta
    "Soaking": "36",  # cyan
    "AwaitingApproval": "34;1",  # bold blue
    "Completed": "32",  # green
    "Failed": "31;1",  # bold red
    "Superseded": "2",
    "Abandoned": "2",
}
GAP = 3


class _Paint:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, code: str | None, text: str) -> str:
        if not self.colour or not code or not text.strip():
            return text
        stripped = text.rstrip(" ")
        return f"\x1b[{code}m{stripped}{_RESET}" + text[len(stripped):]

    def state(self, state: str, text: str) -> str:
        return self(STATE_COLOURS.get(state), text)


def _notes(station: Mapping[str, Any]) -> str:
    notes = []
    if not station.get("found", True):
        notes.append("not found")
    if station.get("disabled"):
        notes.append("disabled")
    if station.get("approvalRequired"):
        notes.append("gate")
    if station.get("soakSeconds"):
        notes.append(f"soak {station['soakSeconds']:g}s")
    if station.get("junctionTracks"):
        notes.append("⇒ " + ",".join(station["junctionTracks"]))
    return ", ".join(notes)


def _marker(station: Mapping[str, Any]) -> str:
    if not station.get("found", True):
        return "?"
    if station.get("disabled"):
        return "x"
    return "●" if station.get("tickets") else "○"


def _at_rest(station: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """What runs at a Station no ticket stands at, as two cells under it (none when nothing is known)."""
    runs = station.get("runs")
    if not runs:
        return []
    source = f"from {runs['ticket']}" if runs.get("ticket") else "from app branches"
    return [{"name": f"runs {runs['version']}", "state": source, "runs": True}]


def _header(view: Mapping[str, Any], paint: _Paint) -> str:
    parts = [paint("1", view["name"]), f"boarding {view['boarding']}"]
    if view.get("disabled"):
        parts.append(paint("31", "disabled"))
    if view.get("hold"):
        parts.append(paint("33", f"held ({view['hold']}): boarding paused, k8sta resume {view['name']}"))
    if view.get("frozen"):
        parts.append(paint("31;1", f"namespace frozen ({view['frozen']}): no ticket enters a station, "
                                   "k8sta unfreeze"))
    ready = next((c for c in view.get("conditions", ()) if c["type"] == "Ready"), None)
    if ready is None:
        parts.append("readiness unknown")
    elif ready["status"] == "True":
        parts.append(paint("32", "Ready"))
    else:
        parts.append(paint("31;1", f"not ready: {ready['reason']}") + (f" ({ready['message']})" if ready["message"]
                                                                        else ""))
    return " · ".join(parts)


def render_track(view: Mapping[str, Any], *, colour: bool = False, indent: str = "  ") -> str:
    """The railway picture of one ``board.track_json`` view (no trailing newline)."""
    paint = _Paint(colour)
    columns: list[tuple[str, str, str, list[Mapping[str, str]]]] = [  # label, note, marker, tickets
        ("boarding", "", "▷", list(view.get("waiting", ())))]
    for station in view["stations"]:
        columns.append((station["name"], _notes(station), _marker(station),
                        list(station.get("tickets", ())) or _at_rest(station)))
    for lost in view.get("offTrack", ()):
        columns.append((lost["station"], "off track", "?", [lost]))

    widths = []
    for label, note, _, tickets in columns:
        cells = [label, note] + [t["name"] for t in tickets] + [t["state"] for t in tickets]
        widths.append(max(len(c) for c in cells) + GAP)
    widths[-1] -= GAP

    lines = [_header(view, paint)]
    lines.append(indent + "".join(label.ljust(w) for (label, *_), w in zip(columns, widths, strict=True)).rstrip())
    if any(note for _, note, _, _ in columns):
        lines.append(indent + "".join(note.ljust(w) for (_, note, _, _), w in zip(columns, widths, strict=True))
                     .rstrip())
    rail = []
    for index, ((_, _, marker, tickets), width) in enumerate(zip(columns, widths, strict=True)):
        last = index == len(columns) - 1
        segment = marker if last else marker + "─" * (width - 1)
        state = tickets[0]["state"] if tickets and not tickets[0].get("runs") else None
        rail.append(paint.state(state, marker) + segment[1:] if state and colour else segment)
    lines.append(indent + "".join(rail))

    depth = max(len(t) for *_, t in columns)
    for row in range(depth):
        names, states = [], []
        for (*_, tickets), width in zip(columns, widths, strict=True):
            if row < len(tickets) and tickets[row].get("runs"):
                names.append(paint("2", tickets[row]["name"].ljust(width)))
                states.append(paint("2", tickets[row]["state"].ljust(width)))
            elif row < len(tickets):
                ticket = tickets[row]
                names.append(paint.state(ticket["state"], ticket["name"].ljust(width)))
                states.append(paint.state(ticket["state"], ticket["state"].ljust(width)))
            else:
                names.append(" " * width)
                states.append(" " * width)
        lines.append((indent + "".join(names)).rstrip())
        lines.append((indent + "".join(states)).rstrip())
    recent = view.get("recent", ())
    if recent:
        items = [paint.state(t["state"], f"{t['name']} {t['state']}") + (f" at {t['station']}" if t.get("station")
                                                                           else "") for t in recent]
        lines.append(indent + "recent: " + " · ".join(items))
    return "\n".join(lines)


def render_tracks(views: Sequence[Mapping[str, Any]], *, colour: bool = False) -> str:
    """Every Track's picture, separated by a blank line; a hint when there are none."""
    if not views:
        return "no tracks found"
    return "\n\n".join(render_track(v, colour=colour) for v in views)


__all__ = ["BOARDING", "STATE_COLOURS", "render_track", "render_tracks"]
