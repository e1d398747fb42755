"""``k8sta diff``: what a ticket would change at a Station, or what promoting one Station's version to
another would change: image pins, the shared-config commits in between, the rendered objects.

``ops.diff`` reads both ends and ``core.diff`` compares them; this module only picks the git access and
prints. A Secret's values are never printed (``core.diff`` replaced them before anything here sees the
diff): a changed Secret reads "data changed (keys: ...)". ``-o json|yaml`` prints the same data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from k8sta_daemon.core import diff as core_diff
from k8sta_daemon.ops import board, diff

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit

SIGNS = {"added": "+", "removed": "-", "changed": "~"}


def run(ctx: Context, *, ticket: str | None, station: str | None, source: str | None,
        target: str | None) -> ExitCode:
    store = ctx.store()
    git = diff.git_access(store.api, ctx.environ)
    if ticket is not None:
        found = diff.ticket_diff(store, git, ctx.namespace, ticket, station)
    else:
        assert source is not None and target is not None  # main's parser checked it
        found = diff.stations_diff(store, git, ctx.namespace, source, target)
    emit(ctx, core_diff.to_json(found, board.iso), render)
    return EXIT_OK


def _pin(pin: Mapping[str, Any] | None) -> str:
    if pin is None:
        return "(none)"
    return f"{pin['tag']}@{pin['digest']}" if pin["digest"] else f"{pin['tag']} (no digest)"


def render(data: Mapping[str, Any]) -> str:
    """The human form: a header naming both ends, then images, config commits, objects."""
    old, new = data["old"], data["new"]
    lines = [f"diff {old['label']} -> {new['label']}"]
    if data["empty"]:
        lines.append("  no difference: same images, same config commit, same rendered objects")
        return "\n".join(lines)
    lines.append("images:")
    if not data["images"]:
        lines.append("  (unchanged)")
    for change in data["images"]:
        lines.append(f"  {SIGNS[change['change']]} {change['name']}  {_pin(change['old'])} -> {_pin(change['new'])}")
    config = data["config"]
    if config["old"] == config["new"]:
        lines.append(f"config: (unchanged) {config['new'] or '-'}")
    else:
        lines.append(f"config: {config['old'] or '-'} -> {config['new'] or '-'}")
        for commit in config["ahead"]:
            lines.append(f"  + {commit['sha'][:12]}  {commit['subject']}  ({commit['author']}, {commit['time']})")
        for commit in config["behind"]:
            lines.append(f"  - {commit['sha'][:12]}  {commit['subject']}  ({commit['author']}, {commit['time']}) "
                         "(not in the new version)")
    lines.append("objects:")
    if not data["objects"]:
        lines.append("  (unchanged)")
    for change in data["objects"]:
        lines.append(f"  {SIGNS[change['change']]} {change['object']}" + (
            f" (was {change['oldName']})" if change["oldName"] else ""))
        keys = change["secretKeys"]
        if keys is not None and change["change"] == "changed" and keys:
            lines.append(f"      data changed (keys: {', '.join(keys)})")
        elif keys is not None and change["change"] != "changed":
            lines.append(f"      keys: {', '.join(keys) or '(none)'}")
        if change["diff"]:
            lines.extend(f"      {line}" for line in change["diff"].rstrip("\n").splitlines())
    return "\n".join(lines)
