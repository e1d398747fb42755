"""Ticket creation as one operation shared by ``k8sta ticket create``, ``k8sta rollback`` and intake
(the Subscriptions' pollers): check the Track, build the snapshot, create the Ticket, record who asked and
why. And the operator requests (``approve``, ``retry_ticket``, ``abandon``): each a compare-and-swap on
the ticket's resourceVersion with re-read-and-retry on a conflict, so two concurrent requests both land.

Callers: CLI commands and ``watch.poller`` (webhooks create no tickets: they only nudge the pollers);
I/O goes through ``store.Store``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.adapters import retry
from k8sta_daemon.core import codec, model, subscriptions

from . import errors, intake
from .store import Store


@dataclass(frozen=True)
class Created:
    namespace: str
    name: str
    track: str
    snapshot: model.Snapshot
    created: bool = True  # False: the named ticket already existed (intake acting on a change again)


def create_ticket(store: Store, namespace: str, track: str, *, images: Sequence[model.ImagePin] = (),
                  config_commit: str | None = None, actor: str, via: str, name: str | None = None,
                  default_config: str | None = None, drop_images: Sequence[str] = (),
                  annotations: dict[str, str] | None = None) -> Created:
    """A new ticket: ``images``/``config_commit`` over the Track's newest snapshot.

    ``name``: create exactly this ticket (intake derives it from the change; AlreadyExists is
    ``created=False``). ``default_config``: the config commit when neither the caller nor the Track's
    newest snapshot has one (the newest main commit a config Subscription saw). ``drop_images``:
    image names whose inherited pins the new ticket leaves out.
    """
    store.track(namespace, track)  # a clear "track x not found" before anything is written

    def snapshot_for(tickets: list[model.Ticket]) -> model.Snapshot:
        base = intake.drop(intake.newest_snapshot(tickets, track), drop_images)
        snapshot = intake.inherit(base, images, config_commit)
        if snapshot.config_commit is None:
            fallback = default_config if default_config is not None else newest_seen_config(store, namespace, track)
            if fallback is not None:
                snapshot = model.Snapshot(fallback, snapshot.images)
        return intake.require_config(snapshot, track)

    what = ", ".join(p.reference for p in images) or (f"config {config_commit}" if config_commit else "")
    if drop_images:
        what = ", ".join(filter(None, [what, *(f"without {n}" for n in drop_images)]))
    annotations = {intake.SOURCE_ANNOTATION: f"{actor} via {via}", intake.REASON_ANNOTATION: what or "manual",
                   **(annotations or {})}
    if name is not None:
        snapshot, created = store.create_named_ticket(namespace, name, track, snapshot_for, annotations)
        if not created:
            return Created(namespace, name, track, snapshot, created=False)
    else:
        name, snapshot = store.create_ticket(namespace, track, snapshot_for, annotations)
    store.record(namespace, name, store.uid_of(namespace, name), "Created",
                 f"created by {actor} via {via}: {what or 'same pins as the newest ticket'}; "
                 f"pins {intake.describe_snapshot(snapshot)}")
    return Created(namespace, name, track, snapshot)


def newest_seen_config(store: Store, namespace: str, track: str) -> str | None:
    """The newest main commit a config Subscription of ``track`` saw (None: no such Subscription, or unreadable)."""
    try:
        objects = store.subscriptions(namespace)
    except errors.K8staError:
        return None
    return subscriptions.seen_config(objects, track)


def hold(store: Store, namespace: str, track: str, reason: str, *, actor: str) -> model.TrackSpec:
    """Pause intake on ``track`` (``spec.hold``): Subscriptions create no ticket on it until ``resume``."""
    store.track(namespace, track)
    store.patch_track_spec(namespace, track, {"hold": {"reason": reason[:1024], "by": actor[:253],
                                                       "since": codec.format_time(time.time())}})
    return store.track(namespace, track)


def resume(store: Store, namespace: str, track: str) -> model.TrackSpec:
    """Restart intake on ``track``: the changes Subscriptions found meanwhile become tickets on the next read."""
    store.track(namespace, track)
    store.patch_track_spec(namespace, track, {"hold": None})
    return store.track(namespace, track)


def rollback(store: Store, namespace: str, track: str, to: str, *, actor: str, via: str) -> Created:
    """A new ticket on ``track`` pinned to ticket ``to``'s snapshot (tickets never move backwards), and a
    hold on the Track, so intake never undoes the rollback (``k8sta resume`` lifts it)."""
    store.track(namespace, track)
    target = store.ticket(namespace, to)
    annotations = {intake.SOURCE_ANNOTATION: f"{actor} via {via}", intake.ROLLBACK_ANNOTATION: to,
                   intake.REASON_ANNOTATION: f"rollback to {to}"}
    name, snapshot = store.create_ticket(namespace, track, lambda _tickets: target.snapshot, annotations)
    store.record(namespace, name, store.uid_of(namespace, name), "RolledBack",
                 f"created by {actor} via {via}: rollback to the snapshot of {to}: "
                 f"{intake.describe_snapshot(snapshot)}")
    hold(store, namespace, track, f"rollback to {to} (ticket {name})", actor=actor)
    store.record(namespace, to, target.uid, "RollbackTarget", f"{actor} rolled track {track} back to this "
                 f"ticket's snapshot with new ticket {name}")
    return Created(namespace, name, track, snapshot)


# -- operator requests: compare-and-swap on the ticket's resourceVersion ------------------------------

CAS_ATTEMPTS = 8  # concurrent operators (two approvals of one ticket) each re-read and re-apply


@dataclass(frozen=True)
class Requested:
    """An operator request on a ticket; ``changed`` False: it was already there (requests are idempotent)."""

    ticket: model.Ticket  # as read when the request was applied
    changed: bool


def _compare_and_swap(store: Store, namespace: str, name: str,
                      change: Callable[[model.Ticket], dict[str, Any] | None]) -> Requested:
    """Read the ticket, let ``change`` say which spec fields to set (None: nothing to do), write them
    only if nobody wrote the ticket since; on a conflict read again and decide again."""
    def attempt() -> Requested:
        ticket, version = store.ticket_at(namespace, name)
        spec = change(ticket)
        if spec is None:
            return Requested(ticket, False)
        store.patch_ticket_spec(ticket, spec, version)
        return Requested(ticket, True)

    try:
        return retry.retrying(attempt, on=errors.Conflict, attempts=CAS_ATTEMPTS)
    except errors.Conflict:
        raise errors.Unavailable(f"ticket {namespace}/{name} kept changing while it was updated "
                                 f"({CAS_ATTEMPTS} attempts); try again") from None


def approve(store: Store, namespace: str, name: str, station: str, *, actor: str, via: str) -> Requested:
    """Add ``station`` to the ticket's approved Stations (other approvals, even concurrent ones, kept)."""
    def change(ticket: model.Ticket) -> dict[str, Any] | None:
        if ticket.status.state.terminal:
            raise errors.Refused(f"ticket {name} is {ticket.status.state.value}; there is nothing left to approve")
        track = store.track(namespace, ticket.track)
        if station not in track.stations:
            raise errors.NotFound(f"station {station} is not on track {track.name} "
                                  f"(stations: {', '.join(track.stations)})")
        if station in ticket.approved_stations:
            return None
        return {"approvedStations": sorted(ticket.approved_stations | {station})}

    result = _compare_and_swap(store, namespace, name, change)
    if result.changed:
        store.record(namespace, name, result.ticket.uid, "Approved", f"station {station} approved by {actor} via {via}")
    return result


def retry_ticket(store: Store, namespace: str, name: str, *, actor: str, via: str) -> Requested:
    """Bump ``spec.retry`` of a Failed ticket by one (a retry already asked for is not asked twice)."""
    def change(ticket: model.Ticket) -> dict[str, Any] | None:
        if ticket.retry_count > ticket.status.observed_retry:
            return None
        if ticket.status.state is not model.TicketState.FAILED:
            raise errors.Refused(f"ticket {name} is {ticket.status.state.value}; only a Failed ticket can be retried")
        return {"retry": ticket.retry_count + 1}

    result = _compare_and_swap(store, namespace, name, change)
    if result.changed:
        ticket = result.ticket
        where = ticket.status.journey[-1].station if ticket.status.journey else "its first station"
        store.record(namespace, name, ticket.uid, "RetryRequested",
                     f"retry #{ticket.retry_count + 1} of {where} requested by {actor} via {via}")
    return result


def abandon(store: Store, namespace: str, name: str, *, actor: str, via: str) -> Requested:
    """Set ``spec.abandon`` (the controller then frees the ticket's Station)."""
    def change(ticket: model.Ticket) -> dict[str, Any] | None:
        if ticket.status.state.terminal:
            raise errors.Refused(f"ticket {name} is already {ticket.status.state.value}; there is nothing to abandon")
        return None if ticket.abandon else {"abandon": True}

    result = _compare_and_swap(store, namespace, name, change)
    if result.changed:
        store.record(namespace, name, result.ticket.uid, "AbandonRequested", f"abandon requested by {actor} via {via}")
    return result
