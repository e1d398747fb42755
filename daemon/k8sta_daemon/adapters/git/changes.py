"""Classify a source-branch commit by the paths it changed (pure: no git, no I/O).

Shared config (anything outside ``env/``) starts a new ticket; a change only inside overlays
re-renders just those app branches with their current pins; anything else under ``env/`` that is no
overlay reaches no app branch. The intake calls this with ``history.touched_paths``.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass

OVERLAYS_ROOT = "env"


class ChangeKind(enum.Enum):
    NONE = "none"                     # nothing that reaches an app branch
    OVERLAY_ONLY = "overlay-only"     # re-render the touched overlays' app branches, no ticket ride
    SHARED_CONFIG = "shared-config"   # a new ticket (it picks up the newest overlays anyway)


@dataclass(frozen=True)
class SourceChange:
    shared: tuple[str, ...]
    overlays: frozenset[str]
    unused: tuple[str, ...]

    @property
    def kind(self) -> ChangeKind:
        if self.shared:
            return ChangeKind.SHARED_CONFIG
        if self.overlays:
            return ChangeKind.OVERLAY_ONLY
        return ChangeKind.NONE


def classify(paths: Iterable[str], *, overlay_dirs: Collection[str] | None = None,
             overlays_root: str = OVERLAYS_ROOT) -> SourceChange:
    """Split changed ``paths``; ``overlay_dirs`` None means the convention ``env/<name>/``."""
    root = overlays_root.strip("/") + "/"
    known = sorted((d.strip("/") for d in overlay_dirs), key=len, reverse=True) if overlay_dirs else None
    shared: list[str] = []
    overlays: set[str] = set()
    unused: list[str] = []
    for path in paths:
        if not path.startswith(root):
            shared.append(path)
            continue
        if known is None:
            rest = path[len(root):]
            if "/" in rest:
                overlays.add(root + rest.split("/", 1)[0])
            else:
                unused.append(path)
            continue
        owner = next((d for d in known if path.startswith(d + "/")), None)
        if owner is None:
            unused.append(path)
        else:
            overlays.add(owner)
    return SourceChange(shared=tuple(sorted(shared)), overlays=frozenset(overlays), unused=tuple(sorted(unused)))
