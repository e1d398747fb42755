"""``k8sta ticket create --track T (--image repo:tag[@digest] ... | --config COMMIT) [--despite-hold]``.

Other pins are inherited from the Track's newest snapshot; an image replaces the pin of its name. On a
held Track it refuses, naming the hold, unless ``--despite-hold``: then the ticket waits at boarding
until ``k8sta resume`` (nothing boards a held Track but a rollback's ticket).
"""

from __future__ import annotations

from typing import Any

from k8sta_daemon.ops import board, intake, operations

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit


def run(ctx: Context, *, track: str, images: list[str], config: str | None,
        drop_images: list[str] | None = None, despite_hold: bool = False) -> ExitCode:
    pins = [intake.parse_image(ref) for ref in images]  # validate before touching the cluster
    intake.check_unique(pins)
    commit = intake.check_commit(config) if config is not None else None
    created = operations.create_ticket(ctx.store(), ctx.namespace, track, images=pins, config_commit=commit,
                                       actor=ctx.actor, via="k8sta CLI", drop_images=drop_images or (),
                                       refuse_held=not despite_hold)
    data = {"namespace": created.namespace, "name": created.name, "track": created.track,
            "snapshot": board.snapshot_json(created.snapshot)}
    if created.held is not None:  # --despite-hold: it waits at boarding, say why
        data["held"] = created.held
    emit(ctx, data, _human)
    return EXIT_OK


def _human(data: dict[str, Any]) -> str:
    return created_message(data)


def created_message(data: dict[str, Any]) -> str:
    """Shared with ``rollback``: what was created and what it carries."""
    snapshot = data["snapshot"]
    lines = [f"ticket {data['name']} created on track {data['track']} (namespace {data['namespace']})",
             f"  config {snapshot['configCommit'] or '(source branch tip)'}"]
    lines.extend(f"  image  {i['name']}:{i['tag']}" + (f"@{i['digest']}" if i.get("digest") else "")
                 for i in snapshot["images"])
    if data.get("held") and not data.get("rollbackOf"):
        lines.append(f"  track {data['track']} is held ({data['held']}): it waits at boarding until "
                     f"k8sta resume {data['track']}")
    lines.append(f"follow it with: k8sta ticket show {data['name']} -n {data['namespace']}")
    return "\n".join(lines)
