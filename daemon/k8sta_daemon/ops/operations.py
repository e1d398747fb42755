"""Ticket creation as one operation shared by ``k8sta ticket create``, ``k8sta rollback`` and the
image webhook: check the Track, build the snapshot, create the Ticket, record who asked and why.

Callers: CLI commands and the web webhooks blueprint; I/O goes through ``store.Store``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from k8sta_daemon.core import model

from . import intake
from .store import Store


@dataclass(frozen=True)
class Created:
    namespace: str
    name: str
    track: str
    snapshot: model.Snapshot
    created: bool = True  # False: an identical newest ticket already existed (webhook redelivery)


def create_ticket(store: Store, namespace: str, track: str, *, images: Sequence[model.ImagePin] = (),
                  config_commit: str | None = None, actor: str, via: str,
                  skip_if_unchanged: bool = False) -> Created:
    """A new ticket: ``images``/``config_commit`` over the Track's newest snapshot.

    ``skip_if_unchanged``: when the result equals the newest snapshot, create nothing (registries
    redeliver webhooks; a second identical ticket would only supersede the first).
    """
    store.track(namespace, track)  # a clear "track x not found" before anything is written
    if skip_if_unchanged:
        newest = intake.newest_ticket(store.tickets(namespace, track), track)
        if newest is not None and intake.inherit(newest.snapshot, images, config_commit) == newest.snapshot:
            return Created(namespace, newest.name, track, newest.snapshot, created=False)

    def snapshot_for(tickets: list[model.Ticket]) -> model.Snapshot:
        return intake.require_config(intake.inherit(intake.newest_snapshot(tickets, track), images, config_commit),
                                     track)

    what = ", ".join(p.reference for p in images) or (f"config {config_commit}" if config_commit else "")
    annotations = {intake.SOURCE_ANNOTATION: f"{actor} via {via}", intake.REASON_ANNOTATION: what or "manual"}
    name, snapshot = store.create_ticket(namespace, track, snapshot_for, annotations)
    store.record(namespace, name, store.uid_of(namespace, name), "Created",
                 f"created by {actor} via {via}: {what or 'same pins as the newest ticket'}; "
                 f"pins {intake.describe_snapshot(snapshot)}")
    return Created(namespace, name, track, snapshot)


def rollback(store: Store, namespace: str, track: str, to: str, *, actor: str, via: str) -> Created:
    """A new ticket on ``track`` pinned to ticket ``to``'s snapshot (tickets never move backwards)."""
    store.track(namespace, track)
    target = store.ticket(namespace, to)
    annotations = {intake.SOURCE_ANNOTATION: f"{actor} via {via}", intake.ROLLBACK_ANNOTATION: to,
                   intake.REASON_ANNOTATION: f"rollback to {to}"}
    name, snapshot = store.create_ticket(namespace, track, lambda _tickets: target.snapshot, annotations)
    store.record(namespace, name, store.uid_of(namespace, name), "RolledBack",
                 f"created by {actor} via {via}: rollback to the snapshot of {to}: "
                 f"{intake.describe_snapshot(snapshot)}")
    store.record(namespace, to, target.uid, "RollbackTarget", f"{actor} rolled track {track} back to this "
                 f"ticket's snapshot with new ticket {name}")
    return Created(namespace, name, track, snapshot)
