"""``k8sta hold TRACK [--reason TEXT]`` and ``k8sta resume TRACK``: hold a Track and lift the hold.

While held, no ticket boards the Track (whoever created it: intake, a junction, the CLI; only a
rollback's own ticket) and Subscriptions create none; tickets already on it keep moving. Resume lets
the newest waiting ticket board.
"""

from __future__ import annotations

from typing import Any

from k8sta_daemon.ops import operations

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit


def hold(ctx: Context, *, track: str, reason: str | None) -> ExitCode:
    spec = operations.hold(ctx.store(), ctx.namespace, track, reason or f"by {ctx.actor}", actor=ctx.actor)
    emit(ctx, {"namespace": spec.namespace, "track": spec.name, "hold": spec.hold}, _held)
    return EXIT_OK


def resume(ctx: Context, *, track: str) -> ExitCode:
    spec = operations.resume(ctx.store(), ctx.namespace, track)
    emit(ctx, {"namespace": spec.namespace, "track": spec.name, "hold": spec.hold}, _resumed)
    return EXIT_OK


def _held(data: dict[str, Any]) -> str:
    return (f"track {data['track']} held ({data['hold']}): no ticket boards it and intake creates none "
            f"until k8sta resume {data['track']}")


def _resumed(data: dict[str, Any]) -> str:
    return f"track {data['track']} resumed: the newest waiting ticket boards, and intake creates tickets again"
