"""Pure human view of one ticket (``k8sta ticket show``): what it carries and where it has been.

Callers: the ``ticket show`` command with a view from ``board.ticket_json``; colour is a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .railway import STATE_COLOURS

_RESET = "\x1b[0m"


def _paint(colour: bool, code: str | None, text: str) -> str:
    return f"\x1b[{code}m{text}{_RESET}" if colour and code and text else text


def _time(value: str | None) -> str:
    return value.replace("T", " ") if value else "-"


def _pin(image: Mapping[str, Any]) -> str:
    ref = f"{image['name']}:{image['tag']}"
    return ref + (f"@{image['digest']}" if image.get("digest") else "")


def _short(commit: str) -> str:
    return commit[:12]


def render_ticket(view: Mapping[str, Any], *, colour: bool = False) -> str:
    """Header (state, track, pins, parent/children), then one block per journey record."""
    state = view["state"]
    where = f" at {view['station']}" if view.get("station") else ""
    snapshot = view["snapshot"]
    lines = [
        f"Ticket:     {view['namespace']}/{view['name']}",
        f"Track:      {view['track']}",
        f"State:      {_paint(colour, STATE_COLOURS.get(state), state)}{where}",
        f"Created:    {_time(view.get('created'))}",
        f"Config:     {_short(snapshot['configCommit']) if snapshot.get('configCommit') else '(source branch tip)'}",
    ]
    images = snapshot.get("images") or []
    lines.append("Images:     " + (_pin(images[0]) if images else "(none)"))
    lines.extend("            " + _pin(image) for image in images[1:])
    if view.get("parent"):
        lines.append(f"Parent:     {view['parent']}")
    if view.get("children"):
        lines.append("Children:   " + ", ".join(view["children"]))
    if view.get("approvedStations"):
        lines.append("Approved:   " + ", ".join(view["approvedStations"]))
    if view.get("retry"):
        lines.append(f"Retries:    {view['retry']}")
    if view.get("abandon") and state != "Abandoned":
        lines.append("Abandon:    requested")
    if view.get("message"):
        lines.append(f"Message:    {view['message']}")
    for condition in view.get("conditions") or []:
        if condition["status"] == "True" or condition["type"] != "Blocked":
            lines.append(f"Condition:  {condition['type']}={condition['status']} {condition['reason']}: "
                         f"{condition['message']}")

    lines.append("")
    journey = view.get("journey") or []
    if not journey:
        lines.append("Journey:    not boarded yet")
    else:
        lines.append("Journey:")
        lines.extend(_journey(journey, colour))
    if view.get("events"):
        lines.append("")
        lines.append("Events:")
        lines.extend(_events(view["events"], colour))
    return "\n".join(lines)


def _events(events: list[Mapping[str, Any]], colour: bool) -> list[str]:
    width = max(len(e["reason"]) for e in events)
    lines = []
    for event in events:
        kind = _paint(colour, "33" if event["type"] == "Warning" else None, event["type"].ljust(7))
        repeated = f" (x{event['count']})" if event.get("count", 1) > 1 else ""
        lines.append(f"  {_time(event['time'])}  {kind}  {event['reason'].ljust(width)}  {event['message']}{repeated}")
    return lines


def _journey(journey: list[Mapping[str, Any]], colour: bool) -> list[str]:
    lines: list[str] = []
    width = max(len(r["station"]) for r in journey)
    colour_codes = {"Failed": "31;1", "Skipped": "2", "Abandoned": "2", "Arrived": "32", "Departed": "32"}
    for record in journey:
        state_text = _paint(colour, colour_codes.get(record["state"]), record["state"])
        lines.append(f"  {record['station'].ljust(width)}  {state_text}")
        times = [f"entered {_time(record.get('enteredAt'))}"]
        if record.get("arrivedAt"):
            times.append(f"arrived {_time(record['arrivedAt'])}")
        if record.get("departedAt"):
            times.append(f"departed {_time(record['departedAt'])}")
        if record.get("enteredAt"):
            lines.append("      " + ", ".join(times))
        for pushed in record.get("pushed") or []:
            lines.append(f"      pushed {pushed['application']}: {pushed['branch']} @ {_short(pushed['commit'])}"
                         f" ({pushed['repoURL']})")
        skipped = record.get("skippedApplications") or []
        if skipped:
            lines.append("      skipped " + ", ".join(skipped))
        if record.get("message"):
            lines.append(f"      {record['message']}")
    return lines
