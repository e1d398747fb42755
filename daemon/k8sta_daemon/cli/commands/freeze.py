"""``k8sta freeze [--reason TEXT]`` / ``k8sta unfreeze``: stop every Track of the namespace at once and
let them go; ``k8sta ticket pass-window TICKET --reason TEXT``: let one ticket through freeze windows.

Frozen, no ticket enters a Station in the namespace (tickets at a Station are still judged; intake keeps
creating tickets, which wait). Shown by ``kubectl get tracks`` (Frozen), the board, each waiting
ticket's message and Events. See ``ops.freeze``.
"""

from __future__ import annotations

from typing import Any

from k8sta_daemon.ops import freeze as freezing

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit
from ..requested import requested


def freeze(ctx: Context, *, reason: str | None) -> ExitCode:
    result = freezing.freeze(ctx.store(), ctx.namespace, reason or "", actor=ctx.actor)
    emit(ctx, _data(result), lambda d: (f"namespace {d['namespace']} frozen ({d['reason']}): no ticket enters a "
                                        f"station on {_names(d)} until k8sta unfreeze"))
    return EXIT_OK


def unfreeze(ctx: Context) -> ExitCode:
    result = freezing.unfreeze(ctx.store(), ctx.namespace, actor=ctx.actor)
    emit(ctx, _data(result), lambda d: f"namespace {d['namespace']} unfrozen: {_names(d)} move again")
    return EXIT_OK


def pass_window(ctx: Context, *, ticket: str, reason: str) -> ExitCode:
    result = freezing.pass_window(ctx.store(), ctx.namespace, ticket, reason, actor=ctx.actor, via="k8sta CLI")
    done = "may now pass" if result.changed else "already had that pass through"
    emit(ctx, requested(result.ticket, "pass-window", result.changed, reason=reason),
         lambda _: f"ticket {ticket} {done} freeze windows ({reason}); a namespace freeze still stops it")
    return EXIT_OK


def _data(result: freezing.Freeze) -> dict[str, Any]:
    return {"namespace": result.namespace, "frozen": result.reason is not None, "reason": result.reason,
            "tracks": list(result.tracks)}


def _names(data: dict[str, Any]) -> str:
    names = data["tracks"]
    return ("track " if len(names) == 1 else "tracks ") + ", ".join(names)
