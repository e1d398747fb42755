"""App-branch commit messages: words a human reads in the Argo CD UI, trailers a restarted daemon reads.

Pure functions (no git). The headline says what moved where; the body lists the pins and what they
replaced; the trailers (``K8sTA-Ticket``, ``K8sTA-Station``, ``K8sTA-Track``, ``K8sTA-Rerender``)
make a commit machine-findable, which is how appbranch.py knows it already pushed a ticket.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from k8sta_cmp import contract

TICKET = "K8sTA-Ticket"
STATION = "K8sTA-Station"
TRACK = "K8sTA-Track"
RERENDER = "K8sTA-Rerender"
_TRAILER = re.compile(r"^(?P<key>[A-Za-z0-9][A-Za-z0-9-]*):\s+(?P<value>\S.*)$")
_HEADLINE_IMAGES = 2


@dataclass(frozen=True)
class Trailers:
    ticket: str | None
    station: str | None
    track: str | None
    rerender: str | None


@dataclass(frozen=True)
class HandEdit:
    """A human commit a K8sTA commit lands on top of: named in that commit's message."""

    sha: str
    author: str
    subject: str


def short(sha: str) -> str:
    return sha[:12]


def _pin_words(pin: contract.ImagePin) -> str:
    return f"{pin.name}:{pin.tag}"


def headline_pins(images: Sequence[contract.ImagePin], config_commit: str) -> str:
    if not images:
        return f"config {short(config_commit)}"
    shown = ", ".join(_pin_words(p) for p in images[:_HEADLINE_IMAGES])
    more = len(images) - _HEADLINE_IMAGES
    return shown + (f" +{more} more" if more > 0 else "")


def _trailer_block(meta: contract.BranchMetadata, rerender: str | None = None) -> str:
    lines = [f"{TICKET}: {meta.ticket}", f"{STATION}: {meta.station}", f"{TRACK}: {meta.track}"]
    if rerender:
        lines.append(f"{RERENDER}: {rerender}")
    return "\n".join(lines)


def _image_lines(new: Sequence[contract.ImagePin], old: Sequence[contract.ImagePin] | None) -> list[str]:
    before = {p.name: p for p in old or ()}
    lines = []
    for pin in new:
        was = before.pop(pin.name, None)
        if was is None:
            change = " (new)" if old is not None else ""
        elif was == pin:
            change = " (unchanged)"
        else:
            change = f" (was {was.reference.removeprefix(pin.name + ':')})"
        lines.append(f"  image {pin.reference}{change}")
    lines += [f"  image {p.name} no longer pinned (was {p.reference})" for p in before.values()]
    return lines


def promotion(meta: contract.BranchMetadata, previous: contract.BranchMetadata | None, note: str = "",
              over: HandEdit | None = None) -> str:
    """The message of a commit that brings ticket ``meta.ticket`` to ``meta.station`` (``over``: the
    hand edit it lands on top of, named so the branch's history explains itself)."""
    src = meta.source
    head = (f"k8sta: ticket {meta.ticket.name} → station {meta.station} "
            f"({headline_pins(meta.images, src.config_commit)})")
    body = [f"Application {meta.application} on track {meta.track} now renders:"]
    body += _image_lines(meta.images, previous.images if previous else None)
    was = ""
    if previous is not None:
        old = previous.source.config_commit
        was = " (unchanged)" if old == src.config_commit else f" (was {short(old)})"
    body.append(f"  config {src.branch}@{short(src.config_commit)}{was}")
    body.append(f"  overlay {meta.kustomization}/ from {src.branch}@{short(src.overlay_commit)}")
    body.append(f"  rendered sha256 {meta.rendered_sha256}")
    if previous is None and over is None:
        body.append("First K8sTA commit of this branch (orphan: no history from the source branch).")
    parts = [head, "\n".join(body)]
    if over is not None:
        parts.append(f"Lands on top of hand edit {short(over.sha)} by {over.author} (\"{over.subject}\"), which is "
                     "not K8sTA's commit; this commit replaces its content (history keeps the edit).")
    if note.strip():
        parts.append(note.strip())
    parts.append(_trailer_block(meta))
    return "\n\n".join(parts) + "\n"


def rerender(meta: contract.BranchMetadata, previous: contract.BranchMetadata) -> str:
    """The message of a commit that re-renders an app branch for an overlay-only source change."""
    src = meta.source
    head = (f"k8sta: re-render {meta.kustomization} for {src.branch}@{short(src.overlay_commit)} "
            f"(ticket {meta.ticket.name} stays at station {meta.station})")
    body = "\n".join([
        f"Application {meta.application}: overlay {meta.kustomization}/ changed on {src.branch}; "
        "the pins stay as they were.",
        f"  overlay {src.branch}@{short(src.overlay_commit)} (was {short(previous.source.overlay_commit)})",
        f"  config {src.branch}@{short(src.config_commit)} (unchanged)",
        f"  images {', '.join(p.reference for p in meta.images) or 'none'} (unchanged)",
        f"  rendered sha256 {meta.rendered_sha256}",
    ])
    return "\n\n".join([head, body, _trailer_block(meta, rerender=src.overlay_commit)]) + "\n"


def trailers(message: str) -> Trailers:
    """K8sTA's trailers from the last paragraph of ``message`` (absent ones are None)."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    found: dict[str, str] = {}
    if len(paragraphs) > 1:
        for line in paragraphs[-1].splitlines():
            match = _TRAILER.match(line.strip())
            if match:
                found.setdefault(match["key"].lower(), match["value"].strip())
    return Trailers(
        ticket=found.get(TICKET.lower()),
        station=found.get(STATION.lower()),
        track=found.get(TRACK.lower()),
        rerender=found.get(RERENDER.lower()),
    )
