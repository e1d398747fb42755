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
    held: str | None = None  # the Track's hold when the ticket was created: it waits at boarding until resume


def create_ticket(store: Store, namespace: str, track: str, *, images: Sequence[model.ImagePin] = (),
                  config_commit: str | None = None, actor: str, via: str, name: str | None = None,
                  default_config: str | None = None, drop_images: Sequence[str] = (),
                  annotations: dict[str, str] | None = None, refuse_held: bool = False) -> Created:
    """A new ticket: ``images``/``config_commit`` over the Track's newest snapshot.

    ``refuse_held``: refuse on a held Track, naming the hold (the CLI, unless the operator insists).
    Intake does not refuse: it reads the hold before it acts, and a hold placed in between only means
    the ticket waits at boarding (decide's hold rule) until ``resume``, so nothing is lost.

    ``name``: create exactly this ticket (intake derives it from the change; AlreadyExists is
    ``created=False``). ``default_config``: the config commit when neither the caller nor the Track's
    newest snapshot has one (the newest main commit a config Subscription saw). ``drop_images``:
    image names whose inherited pins the new ticket leaves out.
    """
    spec = store.track(namespace, track)  # a clear "track x not found" before anything is written
    if refuse_held and spec.hold is not None:
        raise errors.Refused(f"track {track} is held ({spec.hold}): nothing boards it but "
                             + (f"ticket {spec.hold_ticket}" if spec.hold_ticket else "no ticket")
                             + f" until k8sta resume {track}; to create a ticket that waits at boarding until "
                               "then, add --despite-hold")

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
            return Created(namespace, name, track, snapshot, created=False, held=spec.hold)
    else:
        name, snapshot = store.create_ticket(namespace, track, snapshot_for, annotations,
                                             reserved=(spec.hold_ticket,) if spec.hold_ticket else ())
    store.record(namespace, name, store.uid_of(namespace, name), "Created",
                 f"created by {actor} via {via}: {what or 'same pins as the newest ticket'}; "
                 f"pins {intake.describe_snapshot(snapshot)}")
    return Created(namespace, name, track, snapshot, held=spec.hold)


def newest_seen_config(store: Store, namespace: str, track: str) -> str | None:
    """The newest main commit a config Subscription of ``track`` saw (None: no such Subscription, or unreadable)."""
    try:
        objects = store.subscriptions(namespace)
    except errors.K8staError:
        return None
    return subscriptions.seen_config(objects, track)


def hold(store: Store, namespace: str, track: str, reason: str, *, actor: str,
         ticket: str | None = None) -> model.TrackSpec:
    """Hold ``track`` (``spec.hold``): no ticket boards it (whoever created it) and intake creates none on
    it until ``resume``; ``ticket``, a rollback's, is the one that may board. A hold placed on a Track
    already held by a rollback keeps that rollback's ticket (a merge patch): the rollback still rides."""
    store.track(namespace, track)
    body: dict[str, Any] = {"reason": reason[:1024], "by": actor[:253], "since": codec.format_time(time.time())}
    if ticket is not None:
        body["ticket"] = ticket
    store.patch_track_spec(namespace, track, {"hold": body})
    return store.track(namespace, track)


def resume(store: Store, namespace: str, track: str) -> model.TrackSpec:
    """Lift the hold on ``track``: the newest ticket waiting at boarding boards (older waiting ones are
    superseded), and the changes Subscriptions found meanwhile become tickets on the next read."""
    store.track(namespace, track)
    store.patch_track_spec(namespace, track, {"hold": None})
    return store.track(namespace, track)


ROLLBACK_ATTEMPTS = 8  # a rollback's name taken by a concurrent create: another name, hold again


def rollback(store: Store, namespace: str, track: str, to: str, *, actor: str, via: str) -> Created:
    """A new ticket on ``track`` pinned to ticket ``to``'s snapshot (tickets never move backwards), and a
    hold on the Track, so nothing else boards it until ``k8sta resume``: not intake, not a junction child.

    The hold comes first and names the ticket, then the ticket is created: a ticket that intake or a
    junction creates in between is held at boarding (decide's hold rule), so it can neither follow nor
    supersede the rollback. Idempotent and resumable: interrupted between the two steps, the command
    run again takes the name the hold reserved; run again after it completed, while that ticket is still
    live with the same pins, it changes nothing (``created`` False).
    """
    spec = store.track(namespace, track)
    target = store.ticket(namespace, to)
    tickets = {t.name: t for t in store.tickets(namespace)}

    def ours(ticket: model.Ticket | None) -> bool:
        return ticket is not None and ticket.track == track and ticket.snapshot == target.snapshot

    reserved = spec.hold_ticket
    if reserved is not None and reserved in tickets:
        existing = tickets[reserved]
        if ours(existing) and not existing.status.state.terminal:
            return Created(namespace, reserved, track, existing.snapshot, created=False, held=spec.hold)
        reserved = None  # an earlier rollback's, done or different: this one is a new ticket
    annotations = {intake.SOURCE_ANNOTATION: f"{actor} via {via}", intake.ROLLBACK_ANNOTATION: to,
                   intake.REASON_ANNOTATION: f"rollback to {to}"}
    taken = set(tickets)
    for _ in range(ROLLBACK_ATTEMPTS):
        name = reserved or intake.next_ticket_name(track, taken)
        reason = f"rollback to {to} (ticket {name})"
        hold(store, namespace, track, reason, actor=actor, ticket=name)
        snapshot, created = store.create_named_ticket(namespace, name, track, lambda _tickets: target.snapshot,
                                                      annotations)
        if created:
            break
        try:
            if ours(store.ticket(namespace, name)):  # the same rollback, run twice at once
                return Created(namespace, name, track, target.snapshot, created=False, held=reason)
        except errors.NotFound:
            pass
        taken.add(name)
        reserved = None
    else:
        raise errors.Unavailable(f"rolling back track {track}: {ROLLBACK_ATTEMPTS} ticket names taken by "
                                 "concurrent creates in a row; the track stays held, run the rollback again")
    store.record(namespace, name, store.uid_of(namespace, name), "RolledBack",
                 f"created by {actor} via {via}: rollback to the snapshot of {to}: "
                 f"{intake.describe_snapshot(snapshot)}")
    store.record(namespace, to, target.uid, "RollbackTarget", f"{actor} rolled track {track} back to this "
                 f"ticket's snapshot with new ticket {name}")
    return Created(namespace, name, track, snapshot, held=reason)


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
