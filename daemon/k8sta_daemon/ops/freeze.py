"""Stop-the-line and window passes: ``k8sta freeze`` / ``k8sta unfreeze`` and ``k8sta ticket pass-window``.

Callers: the CLI (and later the board's actions). The freeze lives as the ``k8sta.io/freeze``
annotation on every Track of the namespace (``codec.FREEZE_ANNOTATION``), not in an object of its own:
the controller and the board already watch Tracks, so no new watch, cache kind or RBAC rule is needed,
``kubectl get tracks`` shows it (printer column ``Frozen``), and the operators who may hold a Track
(``patch tracks``) may freeze. The controller counts a namespace frozen while *any* of its Tracks
carries the annotation, so the first write already stops every Track at once (a Track created during
the freeze included), an interrupted freeze is finished by running it again, and an interrupted unfreeze
leaves the namespace stopped (the safe side) until it is run again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.core import codec, model

from . import errors
from .operations import Requested, _compare_and_swap
from .store import Store


@dataclass(frozen=True)
class Freeze:
    namespace: str
    reason: str | None  # None: unfrozen
    tracks: tuple[str, ...]


def freeze(store: Store, namespace: str, reason: str, *, actor: str) -> Freeze:
    """Stop every Track of ``namespace``: no ticket enters a Station there until ``unfreeze``; tickets
    at a Station keep being judged, intake keeps creating tickets (they wait)."""
    reason = reason.strip()[:1024] or f"frozen by {actor}"
    by = f"{actor[:200]} at {codec.format_time(time.time())}"
    names = store.annotate_tracks(namespace, {codec.FREEZE_ANNOTATION: reason, codec.FROZEN_BY_ANNOTATION: by},
                                  "Frozen", f"namespace {namespace} frozen by {actor}: {reason}; no ticket "
                                            "enters a Station until k8sta unfreeze")
    if not names:
        raise errors.NotFound(f"no Tracks in namespace {namespace}: nothing to freeze")
    return Freeze(namespace, reason, tuple(names))


def unfreeze(store: Store, namespace: str, *, actor: str) -> Freeze:
    """Lift the freeze from every Track of ``namespace``; waiting tickets move on the next decision."""
    names = store.annotate_tracks(namespace, {codec.FREEZE_ANNOTATION: None, codec.FROZEN_BY_ANNOTATION: None},
                                  "Unfrozen", f"namespace {namespace} unfrozen by {actor}")
    if not names:
        raise errors.NotFound(f"no Tracks in namespace {namespace}: nothing to unfreeze")
    return Freeze(namespace, None, tuple(names))


def pass_window(store: Store, namespace: str, name: str, reason: str, *, actor: str, via: str) -> Requested:
    """Let one ticket through freeze windows (``spec.windowPass``, the reason recorded on it and in an
    Event); never through a namespace freeze."""
    reason = reason.strip()
    if not reason:
        raise errors.Invalid("a window pass needs a reason (--reason): it is recorded on the ticket")

    def change(ticket: model.Ticket) -> dict[str, Any] | None:
        if ticket.status.state.terminal:
            raise errors.Refused(f"ticket {name} is {ticket.status.state.value}; it waits at no window")
        if ticket.window_pass == reason[:1024]:
            return None
        return {"windowPass": {"reason": reason[:1024], "by": actor[:253], "at": codec.format_time(time.time())}}

    result = _compare_and_swap(store, namespace, name, change)
    if result.changed:
        store.record(namespace, name, result.ticket.uid, "WindowPass",
                     f"{actor} via {via} lets this ticket through freeze windows: {reason}")
    return result
