"""Carry out ``decide``'s actions through the units: the one place that turns exceptions into outcomes.

Callers: the loop, one ticket's actions at a time in the order the core emitted them (status first; on a
status conflict the rest of that ticket's actions are dropped and decided again). Every unit is
idempotent: status writes are compare-and-swap on resourceVersion, pushes are recognised by their
trailers, child tickets by their deterministic names.

kopf's ``actions/execution.py`` shape: ``attempt`` runs a unit and maps each adapter error to an
``outcomes`` value (``Stale``, ``Unavailable``, ``RetryLater``, ``PushFailed``); only this module
schedules backoff (``not_before``). What a push's outcome means for the ticket is
``core.outcomes.follow_up``'s decision; the actions it returns run through the same units.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence

from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.git import errors as git_errors
from k8sta_daemon.core import actions, codec, model, outcomes, sources
from k8sta_daemon.reactor import repairs, units
from k8sta_daemon.reactor.units import push_station

log = logging.getLogger("k8sta.controller")
SYNC_BACKOFF_BASE = 2.0  # seconds before asking Argo CD again for the same (Application, revision)
SYNC_BACKOFF_MAX = 60.0


def outcome_of(exc: Exception) -> outcomes.Outcome | None:
    """The outcome an adapter's exception stands for; None for anything else (a bug: it propagates)."""
    if isinstance(exc, kube.Conflict):
        return outcomes.Stale(str(exc))
    if isinstance(exc, kube.KubeError | argocd.ArgoCDError):
        return outcomes.Unavailable(str(exc))
    if isinstance(exc, git_errors.RetryLater):
        return outcomes.RetryLater(str(exc), exc.delay)
    if isinstance(exc, sources.UnknownApplication):
        return outcomes.RetryLater(str(exc), sources.UNKNOWN_APPLICATION_DELAY)
    if isinstance(exc, git_errors.GiveUp | sources.InvalidSource):
        return outcomes.PushFailed(str(exc))
    return None


class Executor:
    def __init__(self, context: units.Context, clock: Callable[[], float] = time.time) -> None:
        self.context = context
        self.clock = clock
        self.not_before: dict[model.TicketRef, float] = {}  # push backoff after RetryLater
        # sync requests: (app, revision) -> (attempts so far, not before)
        self.sync_backoff: dict[tuple[model.AppRef, str], tuple[int, float]] = {}
        self.repairs = repairs.Repairs(context, clock)  # RepairDrift: own backoff and follow-up

    def run(self, batch: Sequence[actions.Action], world: model.World) -> int:
        """Execute one ticket's (or one track's) actions in the core's order; returns how many took effect.

        The first action is the ticket's status change: if it does not take effect, nothing after it
        may happen (its Events describe a change that did not happen). Once it is written, every later
        action is attempted even when one of them is deferred or fails (``actions`` ordering contract):
        an Event is never lost behind a push in backoff.
        """
        done = 0
        for index, action in enumerate(batch):
            if isinstance(action, actions.PushStation):
                outcome = self._push(action, world)
            elif isinstance(action, actions.RequestSync):
                outcome = self._sync(action)
            elif isinstance(action, actions.RepairDrift):
                outcome = self.repairs.run(action, self.attempt)
            else:
                outcome = self.attempt(action)
            if outcomes.took_effect(outcome):
                done += 1
            elif index == 0 and _is_status_change(action):
                break
        return done

    def attempt(self, action: actions.Action) -> outcomes.Outcome:
        """Run the action's unit once and report its outcome; adapter errors become outcomes here."""
        try:
            return units.UNITS[type(action)](action, self.context)
        except Exception as exc:
            outcome = outcome_of(exc)
            if outcome is None:
                raise
        if isinstance(outcome, outcomes.Stale):
            log.info("stale view, deciding again", extra=_fields(action))
        elif isinstance(outcome, outcomes.Unavailable):
            log.warning("action failed: %s", outcome.reason, extra=_fields(action))
        return outcome

    # -- sync requests ------------------------------------------------------------------------

    def _sync(self, action: actions.RequestSync) -> outcomes.Outcome:
        """Ask Argo CD to sync, at most as often as the exponential backoff (with jitter) allows."""
        key = (action.app, action.revision)
        for stale in [k for k in self.sync_backoff if k[0] == action.app and k[1] != action.revision]:
            del self.sync_backoff[stale]  # a new revision starts a new backoff
        attempts, not_before = self.sync_backoff.get(key, (0, 0.0))
        now = self.clock()
        if not_before > now:
            return outcomes.Waiting()
        outcome = self.attempt(action)
        delay = min(SYNC_BACKOFF_MAX, SYNC_BACKOFF_BASE * 2 ** attempts) * random.uniform(0.5, 1.0)
        self.sync_backoff[key] = (attempts + 1, now + delay)
        if not outcomes.took_effect(outcome):
            self.context.metrics.argocd_errors.labels(call="sync").inc()
        return outcome

    # -- pushes ---------------------------------------------------------------------------------

    def _push(self, action: actions.PushStation, world: model.World) -> outcomes.Outcome:
        now = self.clock()
        if self.not_before.get(action.ticket, 0) > now:
            return outcomes.Waiting()
        started = time.monotonic()
        outcome = self.attempt(action)
        metrics = self.context.metrics
        if isinstance(outcome, outcomes.RetryLater):
            metrics.git_errors.labels(kind="retry").inc()
            self.not_before[action.ticket] = now + outcome.delay
            log.warning("push will be retried in %.0f s: %s", outcome.delay, outcome.reason, extra=_fields(action))
            return outcome
        if isinstance(outcome, outcomes.PushFailed):
            metrics.git_errors.labels(kind="permanent").inc()
            log.error("push failed for good: %s", outcome.reason, extra=_fields(action))
            self._follow_up(action, outcome)
            return outcome
        if not isinstance(outcome, outcomes.Pushed):
            return outcome
        self.not_before.pop(action.ticket, None)
        recorded = self._follow_up(action, outcome)
        if not outcomes.took_effect(recorded):
            return recorded  # decided again next pass; the trailers make the repeated push a no-op
        metrics.promotions.labels(track=action.track, station=action.station).inc()
        self._observe_latency(action, world, started)
        log.info("pushed %s", ", ".join(f"{p.branch}@{p.commit[:12]}" for p in outcome.commits),
                 extra=_fields(action))
        push_station.refresh_and_sync(outcome.commits, self.context)
        return outcome

    def _follow_up(self, action: actions.PushStation, outcome: outcomes.Outcome) -> outcomes.Outcome:
        """Carry out what ``core.outcomes`` says the push's outcome means for the ticket, as now cached."""
        obj = self.context.cache.get("Ticket", action.ticket.namespace, action.ticket.name)
        if obj is None:
            log.warning("action failed: Ticket %s is not in the cache", action.ticket, extra=_fields(action))
            return outcomes.Unavailable(f"Ticket {action.ticket} is not in the cache")
        for step in outcomes.follow_up(codec.ticket_from_dict(obj), action, outcome):
            result = self.attempt(step)
            if not outcomes.took_effect(result):
                return result
        return outcomes.Done()

    def _observe_latency(self, action: actions.PushStation, world: model.World, started: float) -> None:
        """Arrival at the previous Station (an Argo CD event) to this Station's branches pushed."""
        ticket = world.tickets.get(action.ticket)
        track = world.tracks.get(model.TrackRef(action.ticket.namespace, action.track))
        if ticket is None or track is None or action.station not in track.stations:
            return
        index = track.stations.index(action.station)
        if index == 0:
            return
        previous = world.stations.get(model.StationRef(action.ticket.namespace, track.stations[index - 1]))
        if previous is None or not previous.active_applications:
            return
        stamps = self.context.cache.app_event_times(previous.active_applications)
        if any(s is None for s in stamps):
            return
        trigger = max(s for s in stamps if s is not None)
        if trigger <= started:  # only when that event is what this decision reacted to
            self.context.metrics.observe_latency(time.monotonic() - trigger)


def _is_status_change(action: actions.Action) -> bool:
    return isinstance(action, actions.UpdateTicketStatus | actions.SetTicketCondition)


def _fields(action: actions.Action) -> dict[str, str]:
    fields = {"action": type(action).__name__}
    ticket = getattr(action, "ticket", None) or getattr(action, "parent", None)
    if ticket is not None:
        fields["ticket"] = str(ticket)
    for name in ("track", "station"):
        value = getattr(action, name, None)
        if isinstance(value, str):
            fields[name] = value
    return fields
