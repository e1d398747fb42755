"""The departure board's picture of one Track: an HTML ``<section>`` holding an SVG railway and the
ticket list that says, in the core's words, why each ticket is where it is.

Callers: ``web.boardwatch`` renders every Track once per change and hands the same fragment to the page
and to every SSE client; the board benchmark times it. Pure: a ``TrackView`` in, ``Markup`` out.
Every name and message comes from users (or from Argo CD), so every one goes through ``escape`` (the
stdlib's ``html.escape`` with quotes: the same five characters as markupsafe, without building a
``Markup`` per string, which the benchmark showed to be a third of the render); the fragment is built
only from escaped values and fixed markup, and returned as ``Markup`` so Jinja inserts it as is.

Layout (left to right): the boarding column (tickets waiting before the first Station), then one column
per Station on a horizontal rail. A ticket is a train on the rail at its Station, its state and the
start of its reason below; a junction is a branch leaving its Station towards the Tracks it feeds.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from k8sta_daemon.ops.board import BOARDING

from .boardstate import TicketCard, TrackView

COLUMN = 180  # px between columns
LEFT = 90  # centre of the boarding column
RAIL_Y = 64
TRAIN_W, TRAIN_H = 132, 22
WAITING_SHOWN = 3
REASON_LINES, REASON_WIDTH = 2, 28  # at 11px, 28 characters stay inside a column's half-width
JUNCTION_DX, JUNCTION_LABEL = COLUMN // 2, 24  # where a junction's branch drops; longest Track name shown
STATE_COLOURS = {  # fill of the train; the same states the CLI colours (cli.railway.STATE_COLOURS)
    "Waiting": "#8a8f98",
    "Deploying": "#d98b00",
    "Suspended": "#a23ea8",
    "Soaking": "#138a9c",
    "AwaitingApproval": "#1f5fbf",
    "Completed": "#2e7d32",
    "Failed": "#c62828",
    "Superseded": "#8a8f98",
    "Abandoned": "#8a8f98",
}


@functools.lru_cache(maxsize=65536)
def escape(text: str) -> str:
    """``&``, ``<``, ``>``, ``"`` and ``'`` as entities: safe in element text and in quoted attributes.
    Memoised: a change re-renders a Track whose names and most messages are the ones escaped last time."""
    return html.escape(text, quote=True)


def dom_id(namespace: str, name: str) -> str:
    """The section's id (and the SSE event's target); Kubernetes names never contain ``/``."""
    return f"track/{namespace}/{name}"


@functools.lru_cache(maxsize=8192)
def ticket_href(prefix: str, namespace: str, name: str) -> str:
    return f"{prefix}/tickets/{quote(namespace, safe='')}/{quote(name, safe='')}"


def _text(x: float, y: float, content: str, cls: str, anchor: str = "middle") -> str:
    """A label centred on x (the text-anchor attribute only when it differs: 1,000 Tracks make it weigh)."""
    where = "" if anchor == "middle" else f' text-anchor="{anchor}"'
    return f'<text x="{x:g}" y="{y:g}" class="{escape(cls)}"{where}>{escape(content)}</text>'


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _reason_lines(reason: str) -> list[str]:
    """The reason wrapped at word boundaries into at most ``REASON_LINES`` lines, "…" when cut."""
    lines: list[str] = []
    line = ""
    cut = False
    for word in reason.split():
        candidate = f"{line} {word}" if line else word
        if len(candidate) <= REASON_WIDTH or not line:
            line = candidate
            continue
        lines.append(line)
        line = word
        if len(lines) == REASON_LINES:
            cut = True
            break
    if line and not cut:
        lines.append(line)
    lines = [_short(x, REASON_WIDTH) for x in lines]
    if cut and not lines[-1].endswith("…"):
        lines[-1] = _short(lines[-1] + " …", REASON_WIDTH)
    return lines


def _train(card: TicketCard, x: float, y: float, href: str, *, compact: bool = False) -> str:
    """A ticket as a train centred on (x, y); its full reason is the tooltip."""
    colour = STATE_COLOURS.get(card.state, "#8a8f98")
    label = f"{card.name} · {card.state}" if compact else card.name
    title = f"{card.name}: {card.state}" + (f" — {card.reason}" if card.reason else "")
    return (f'<a href="{escape(href)}" class="train" data-ticket="{escape(card.name)}" '
            f'data-state="{escape(card.state)}"><title>{escape(title)}</title>'
            f'<rect x="{x - TRAIN_W / 2:g}" y="{y - TRAIN_H / 2:g}" width="{TRAIN_W}" height="{TRAIN_H}" rx="6" '
            f'fill="{colour}"/>'
            f'<circle cx="{x - TRAIN_W / 2 + 14:g}" cy="{y + TRAIN_H / 2:g}" r="3" class="wheel"/>'
            f'<circle cx="{x + TRAIN_W / 2 - 14:g}" cy="{y + TRAIN_H / 2:g}" r="3" class="wheel"/>'
            + _text(x, y + 4, _short(label, 21), "train-label") + "</a>")


def _under(card: TicketCard, x: float, y: float) -> list[str]:
    """State and the first lines of the reason, under a train."""
    parts = [_text(x, y, card.state + (f" → {card.pending_gate}" if card.pending_gate else ""),
                   f"state state-{card.state}")]
    for index, line in enumerate(_reason_lines(card.reason)):
        parts.append(_text(x, y + 13 * (index + 1), line, "reason"))
    return parts


def _runs(runs: Mapping[str, Any] | None, x: float, y: float) -> list[str]:
    """What runs at a Station at rest, under its stop: the version, then the ticket that brought it."""
    if not runs:
        return []
    source = f"from {runs['ticket']}" if runs.get("ticket") else "from app branches"
    title = f"runs {runs['version']} ({source}" + (f", arrived {runs['arrivedAt']})" if runs.get("arrivedAt") else ")")
    return [f'<g class="runs"><title>{escape(title)}</title>', _text(x, y, _short(runs["version"], REASON_WIDTH),
                                                                        "runs-version"),
            _text(x, y + 13, _short(source, REASON_WIDTH), "runs-source"), "</g>"]


def _notes(station: Mapping[str, Any]) -> str:
    notes = []
    if not station["found"]:
        notes.append("not found")
    if station["disabled"]:
        notes.append("disabled")
    if station["approvalRequired"]:
        notes.append("approval gate")
    if station["soakSeconds"]:
        notes.append(f"soak {station['soakSeconds']:g}s")
    return " · ".join(notes)


def render_track(track: TrackView, *, prefix: str = "/board") -> Markup:
    """The ``<section>`` of one Track: header, SVG railway, ticket list with reasons, recent tickets."""
    view, cards, ns = track.view, track.cards, track.ref.namespace
    stations: Sequence[Mapping[str, Any]] = view["stations"]
    off_track: Sequence[Mapping[str, Any]] = view["offTrack"]
    waiting = [cards[t["name"]] for t in view["waiting"] if t["name"] in cards]
    columns = 1 + len(stations) + len(off_track)
    width = LEFT + COLUMN * (columns - 1) + COLUMN // 2 + 10
    if stations and stations[-1]["junctionTracks"] and not off_track:  # room for the last Station's branch labels
        longest = max(len(_short(t, JUNCTION_LABEL)) for t in stations[-1]["junctionTracks"])
        width = max(width, LEFT + COLUMN * (columns - 1) + JUNCTION_DX + 14 + 8 * (longest + 2))
    most_junctions = max((len(s["junctionTracks"]) for s in stations), default=0)
    height = max(RAIL_Y + 62, RAIL_Y + 30 + TRAIN_H * min(len(waiting), WAITING_SHOWN + 1) + 8,
                 RAIL_Y + 62 + (18 + 15 * most_junctions if most_junctions else 0))
    href = lambda name: ticket_href(prefix, ns, name)  # noqa: E731

    svg: list[str] = []
    rail_end = LEFT + COLUMN * (columns - 1) + 40
    svg.append(f'<line x1="{LEFT - 60}" y1="{RAIL_Y}" x2="{rail_end}" y2="{RAIL_Y}" class="rail"/>')
    # the boarding column
    svg.append(_text(LEFT, 24, "boarding", "station-name boarding"))
    if track.hold:
        svg.append(f'<g class="hold"><title>{escape("held: " + track.hold)}</title>'
                   f'<line x1="{LEFT + 70}" y1="{RAIL_Y - 26}" x2="{LEFT + 70}" y2="{RAIL_Y}" class="signal-post"/>'
                   f'<circle cx="{LEFT + 70}" cy="{RAIL_Y - 30}" r="7" class="signal-stop"/></g>')
    if len(waiting) == 1:
        svg.append(_train(waiting[0], LEFT, RAIL_Y, href(waiting[0].name)))
        svg.extend(_under(waiting[0], LEFT, RAIL_Y + 28))
    else:
        for row, card in enumerate(waiting[:WAITING_SHOWN]):
            svg.append(_train(card, LEFT, RAIL_Y + row * (TRAIN_H + 4), href(card.name), compact=True))
        if len(waiting) > WAITING_SHOWN:
            svg.append(_text(LEFT, RAIL_Y + WAITING_SHOWN * (TRAIN_H + 4) + 4,
                             f"+{len(waiting) - WAITING_SHOWN} more waiting", "reason"))
    # the Stations
    for index, station in enumerate(stations, start=1):
        x = LEFT + COLUMN * index
        gate_for = [c for c in cards.values() if c.pending_gate == station["name"]]
        classes = ["station"]
        if station["disabled"] or not station["found"]:
            classes.append("station-off")
        if station["approvalRequired"]:
            classes.append("station-gate")
        svg.append(f'<g class="{" ".join(classes)}" data-station="{escape(station["name"])}">')
        svg.append(_text(x, 24, _short(station["name"], 24), "station-name"))
        if gate_for:  # the gate's note names who waits at it
            pending = "approval pending: " + ", ".join(c.name for c in gate_for)
            svg.append(_text(x, 38, _short(pending, 30), "station-notes gate-label"))
        elif notes := _notes(station):
            svg.append(_text(x, 38, notes, "station-notes"))
        if station["approvalRequired"]:
            pending = " pending" if gate_for else ""
            svg.append(f'<rect x="{x - COLUMN / 2 + 6:g}" y="{RAIL_Y - 14}" width="5" height="28" '
                       f'class="gate{pending}"><title>{escape("approval gate")}</title></rect>')
        svg.append(f'<circle cx="{x}" cy="{RAIL_Y}" r="8" class="stop"/>')
        for j, target in enumerate(station["junctionTracks"]):
            # the branch leaves the rail right of the train and drops halfway to the next column, clear of
            # the text under both trains, to the label of the Track it feeds
            y = RAIL_Y + 78 + 15 * j
            bx = x + JUNCTION_DX
            svg.append(f'<path d="M{x} {RAIL_Y} L{bx - 22} {RAIL_Y} Q{bx} {RAIL_Y} {bx} {RAIL_Y + 22} L{bx} {y - 10} '
                       f'Q{bx} {y - 4} {bx + 8} {y - 4}" class="junction"/>')
            svg.append(f'<a href="#{escape(dom_id(ns, target))}" class="junction-link">'
                       + _text(bx + 12, y, f"⇒ {_short(target, JUNCTION_LABEL)}", "junction-label", "start") + "</a>")
        svg.append("</g>")
        for ticket in station["tickets"]:
            card = cards.get(ticket["name"])
            if card is not None:
                svg.append(_train(card, x, RAIL_Y, href(card.name)))
                svg.extend(_under(card, x, RAIL_Y + 28))
                break  # a Station holds at most one ticket
        else:
            svg.extend(_runs(station.get("runs"), x, RAIL_Y + 28))
    for index, lost in enumerate(off_track, start=1 + len(stations)):
        x = LEFT + COLUMN * index
        svg.append(_text(x, 24, _short(lost["station"], 24), "station-name"))
        svg.append(_text(x, 38, "not on this track", "station-notes"))
        card = cards.get(lost["name"])
        if card is not None:
            svg.append(_train(card, x, RAIL_Y, href(card.name)))
            svg.extend(_under(card, x, RAIL_Y + 28))

    label = f"Track {ns}/{view['name']}: " + ", ".join(s["name"] for s in stations)
    picture = (f'<svg class="railway" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
               f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">' + "".join(svg) + "</svg>")
    return Markup(f'<section class="track" id="{escape(dom_id(ns, view["name"]))}" data-namespace="{escape(ns)}">'
                  + _header(track) + picture + _list(track, prefix) + "</section>")


def _header(track: TrackView) -> str:
    view = track.view
    ready = next((c for c in view["conditions"] if c["type"] == "Ready"), None)
    if ready is None:
        status = '<span class="badge unknown">readiness unknown</span>'
    elif ready["status"] == "True":
        status = '<span class="badge ok">Ready</span>'
    else:
        detail = f": {ready['message']}" if ready["message"] else ""
        status = f'<span class="badge bad">not ready: {escape(ready["reason"])}{escape(detail)}</span>'
    parts = [f'<h2><a class="ns" href="?namespace={escape(quote(track.ref.namespace, safe=""))}">'
             f'{escape(track.ref.namespace)}</a> / {escape(view["name"])}</h2>', status,
             f'<span class="badge">boarding {escape(view["boarding"])}</span>']
    if view["disabled"]:
        parts.append('<span class="badge bad">disabled</span>')
    if track.hold:
        parts.append(f'<span class="badge bad hold">held: {escape(track.hold)}</span>')
    if view.get("frozen"):
        parts.append(f'<span class="badge bad frozen">namespace frozen: {escape(view["frozen"])} '
                     f'(k8sta unfreeze)</span>')
    return '<header>' + "".join(parts) + "</header>"


def _where(card: TicketCard) -> str:
    return "before the first station" if card.column == BOARDING else f"at {card.column}"


def _list(track: TrackView, prefix: str) -> str:
    """Every ticket on the line in words (the picture abbreviates reasons; this never does)."""
    view, cards, ns = track.view, track.cards, track.ref.namespace
    order = [t["name"] for s in reversed(view["stations"]) for t in s["tickets"]]
    order += [t["name"] for t in view["offTrack"]] + [t["name"] for t in view["waiting"]]
    items = []
    for name in order:
        card = cards.get(name)
        if card is None:
            continue
        items.append(_item(card, ns, prefix, _where(card)))
    recent = []
    for finished in view["recent"]:
        card = cards.get(finished["name"])
        if card is None:
            continue
        where = f"last at {finished['station']}" if finished.get("station") else ""
        if card.state == "Failed":  # stopped for good until retried: its reason stays in sight
            items.append(_item(card, ns, prefix, where))
        else:
            recent.append(_item(card, ns, prefix, where))
    out = ""
    if items:
        out += '<ul class="tickets">' + "".join(items) + "</ul>"
    else:
        out += '<p class="empty">no tickets on this track</p>'
    if recent:
        out += ('<details class="recent"><summary>recent</summary><ul class="tickets">' + "".join(recent)
                + "</ul></details>")
    return out


def _item(card: TicketCard, ns: str, prefix: str, where: str) -> str:
    parent = (f' <span class="parent">from <a href="{escape(ticket_href(prefix, ns, card.parent))}">'
              f'{escape(card.parent)}</a></span>') if card.parent else ""
    reason = f' <span class="reason">{escape(card.reason)}</span>' if card.reason else ""
    where_html = f' <span class="where">{escape(where)}</span>' if where else ""
    return (f'<li class="ticket" data-ticket="{escape(card.name)}" data-state="{escape(card.state)}">'
            f'<a href="{escape(ticket_href(prefix, ns, card.name))}">{escape(card.name)}</a> '
            f'<span class="state state-{escape(card.state)}">{escape(card.state)}</span>{where_html}{reason}{parent}'
            "</li>")
