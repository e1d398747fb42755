"""Carry out ``decide``'s actions through the units: the one place that turns exceptions into outcomes.

Callers: the loop, once per pass, with the actions decided from one view of the cache (``Cache.view``).
The rules, per ticket's group of actions (core's order kept):

1. **Status first, from the decision's snapshot.** The status write carries the resourceVersion of the
   object the decision saw; if it does not take effect (a conflict: an operator's change landed
   mid-pass; an API error), the rest of that ticket's actions are dropped and decided again.
2. **Events go out with the status change they describe**: once the status is written, every Event of
   the group is sent, whatever happens to its push (deferred, failed) or spawn; a failed Event is
   logged and does not stop the others.
3. **Then the rest, in order** (spawns, pushes), up to the first that does not take effect. A push runs
   only while the ticket is still as the decision saw it (the cache's resourceVersion equals the
   view's, our own writes included), so a push decided before an ``abandon`` does not run.
4. **One ticket's trouble stays its own.** Every exception becomes an outcome here (``outcome_of``);
   an unnamed one is ``Broken``, never an aborted pass. What it means is ``core``'s decision
   (``outcomes.follow_up`` for a push, ``failures.trouble`` for the condition and Warning Event
   recorded on the ticket); pushes back off (``backoff``). If a status write that released a Station
   did not take effect, the writes that took that Station in the same decision are held back
   (``failures.released``/``taken``).
5. **Fenced.** Before each status write and push, ``fence`` must confirm this replica still holds its
   Lease (and its claim on the namespace); otherwise the whole pass stops (``Fenced``).

Every unit is idempotent: status writes are compare-and-swap, pushes are recognised by their trailers,
child tickets by their deterministic names.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.git import errors as git_errors
from k8sta_daemon.core import actions, codec, failures, model, outcomes, sources
from k8sta_daemon.reactor import backoff, repairs, units
from k8sta_daemon.reactor.cache import View
from k8sta_daemon.reactor.units import push_station
from k8sta_daemon.reactor.units import trouble as trouble_unit

log = logging.getLogger("k8sta.controller")

Fence = Callable[[str], str | None]  # namespace -> None (may act) or why this replica must stop
STATUS_WRITES: tuple[type, ...] = (actions.UpdateTicketStatus, actions.SetTicketCondition, actions.SetTrackCondition,
                                   actions.UpdateStationStatus)
FENCED: tuple[type, ...] = (*STATUS_WRITES, actions.PushStation, actions.SpawnTicket, actions.RequestSync,
                            actions.RepairDrift)
# Deferrable actions of one ticket that do not depend on each other (one per Application): one in
# backoff does not hold back the next.
INDEPENDENT: tuple[type, ...] = (actions.RequestSync, actions.RepairDrift)


def outcome_of(exc: Exception) -> outcomes.Outcome:
    """The outcome an adapter's exception stands for; anything unnamed is ``Broken`` (logged with its trace)."""
    if isinstance(exc, kube.Conflict):
        return outcomes.Stale(str(exc))
    if isinstance(exc, argocd.ArgoCDRefused):  # its answer, shown on the ticket: a token, RBAC, a sync window
        return outcomes.Refused(exc.answer)
    if isinstance(exc, kube.KubeError | argocd.ArgoCDError):
        return outcomes.Unavailable(str(exc))
    if isinstance(exc, git_errors.RetryLater):
        return outcomes.RetryLater(str(exc), exc.delay)
    if isinstance(exc, sources.UnknownApplication):
        return outcomes.RetryLater(str(exc), sources.UNKNOWN_APPLICATION_DELAY)
    if isinstance(exc, git_errors.GiveUp | sources.InvalidSource):
        return outcomes.PushFailed(str(exc))
    detail = " ".join(str(exc).split())
    return outcomes.Broken(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)


@dataclass
class PassResult:
    done: int = 0
    fenced: str | None = None  # why the pass stopped early


class _Stop(Exception):
    """The fence refused: unwind the whole pass."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Executor:
    def __init__(self, context: units.Context, clock: Callable[[], float] = time.time,
                 fence: Fence | None = None) -> None:
        self.context = context
        self.clock = clock
        self.fence = fence or (lambda _namespace: None)
        self.not_before: dict[model.TicketRef, float] = {}  # push backoff
        self.failures: dict[model.TicketRef, int] = {}  # consecutive failed pushes, for the backoff
        # sync requests: (app, revision) -> (attempts so far, not before)
        self.sync_backoff: dict[tuple[model.AppRef, str], tuple[int, float]] = {}
        self.repairs = repairs.Repairs(context, clock)  # RepairDrift: own backoff and follow-up

    # -- one pass ---------------------------------------------------------------------------------

    def execute(self, planned: Sequence[actions.Action], world: model.World, view: View) -> PassResult:
        """Run one decision's actions, grouped per ticket (or Track); see the module docstring."""
        context = dataclasses.replace(self.context, view=view)
        result = PassResult()
        unreleased: set[model.StationRef] = set()
        for batch in batches(planned):
            status = batch[0] if isinstance(batch[0], actions.UpdateTicketStatus) else None
            if status is not None and failures.taken(world, status) & unreleased:
                log.info("not entering: a Station it takes was not released in this pass; deciding again",
                         extra=_fields(status))
                continue
            try:
                done, written = self._batch(batch, world, context)
            except _Stop as stop:
                log.warning("stopping the pass: %s", stop.reason)
                result.fenced = stop.reason
                return result
            result.done += done
            if status is not None and not written:
                unreleased |= failures.released(world, status)
        return result

    def run(self, batch: Sequence[actions.Action], world: model.World, view: View) -> int:
        """One group of actions on its own (tests, tools); returns how many took effect."""
        return self.execute(batch, world, view).done

    def _batch(self, batch: Sequence[actions.Action], world: model.World,
               context: units.Context) -> tuple[int, bool]:
        """One ticket's actions; returns (how many took effect, whether its status write did)."""
        done = 0
        rest = list(batch)
        written = False
        if isinstance(rest[0], STATUS_WRITES):
            head = rest.pop(0)
            if not outcomes.took_effect(self.attempt(head, context)):
                return 0, False  # the change did not happen: neither may its Events, pushes or spawns
            done, written = 1, True
        for event in [a for a in rest if isinstance(a, actions.EmitEvent)]:
            done += outcomes.took_effect(self.attempt(event, context))
        for action in [a for a in rest if not isinstance(a, actions.EmitEvent)]:
            if isinstance(action, actions.PushStation):
                outcome = self._push(action, world, context)
            elif isinstance(action, actions.RequestSync):
                outcome = self._sync(action, context)
            elif isinstance(action, actions.RepairDrift):
                outcome = self.repairs.run(action, lambda step: self.attempt(step, context))
            else:
                outcome = self.attempt(action, context)
                if isinstance(outcome, outcomes.PushFailed) and isinstance(getattr(action, "station", None), str):
                    self._follow_up(action, outcome, context)  # type: ignore[arg-type]  # final: the ticket fails
                elif not outcomes.took_effect(outcome):
                    self._record_trouble(action, outcome, context)
            if outcomes.took_effect(outcome):
                done += 1
            elif not isinstance(action, INDEPENDENT):
                break
        return done, written

    def attempt(self, action: actions.Action, context: units.Context) -> outcomes.Outcome:
        """Run the action's unit once and report its outcome; every exception becomes an outcome here."""
        if isinstance(action, FENCED):
            self._check_fence(_namespace(action))
        try:
            outcome = units.UNITS[type(action)](action, context)
        except Exception as exc:
            outcome = outcome_of(exc)
            if isinstance(outcome, outcomes.Broken):
                log.exception("action failed unexpectedly: %s", outcome.reason, extra=_fields(action))
                return outcome
        if isinstance(outcome, outcomes.Stale):
            log.info("stale view, deciding again", extra=_fields(action))
        elif isinstance(outcome, outcomes.Unavailable | outcomes.Refused):
            log.warning("action failed: %s", outcome.reason, extra=_fields(action))
        return outcome

    def _check_fence(self, namespace: str) -> None:
        refused = self.fence(namespace)
        if refused is not None:
            raise _Stop(refused)

    # -- sync requests ------------------------------------------------------------------------

    def _sync(self, action: actions.RequestSync, context: units.Context) -> outcomes.Outcome:
        """Ask Argo CD to sync, at most as often as the reactor's backoff (exponential, jitter) allows."""
        key = (action.app, action.revision)
        for stale in [k for k in self.sync_backoff if k[0] == action.app and k[1] != action.revision]:
            del self.sync_backoff[stale]  # a new revision starts a new backoff
        attempts, not_before = self.sync_backoff.get(key, (0, 0.0))
        now = self.clock()
        if not_before > now:
            return outcomes.Waiting()
        outcome = self.attempt(action, context)
        self.sync_backoff[key] = (attempts + 1, now + backoff.delay(attempts + 1))
        if not outcomes.took_effect(outcome):
            self.context.metrics.argocd_errors.labels(call="sync").inc()
        self._remember_answer(action, outcome)
        return outcome

    def _remember_answer(self, action: actions.RequestSync, outcome: outcomes.Outcome) -> None:
        """Keep Argo CD's refusal of this Application's latest sync request in the cache until a request
        is accepted (``decide`` names it in the ticket's message). Without an answer (Unavailable,
        Broken) the last one stands."""
        if isinstance(outcome, outcomes.Refused):
            self.context.cache.set_refusal(action.app, model.SyncRefusal(action.revision, outcome.reason))
        elif isinstance(outcome, outcomes.Done):
            self.context.cache.set_refusal(action.app, None)

    # -- pushes ---------------------------------------------------------------------------------

    def _push(self, action: actions.PushStation, world: model.World, context: units.Context) -> outcomes.Outcome:
        now = self.clock()
        if self.not_before.get(action.ticket, 0) > now:
            return outcomes.Waiting()
        ref = action.ticket
        seen = context.view.resource_version("Ticket", ref.namespace, ref.name) if context.view else None
        if seen is not None and self.context.cache.resource_version("Ticket", ref.namespace, ref.name) != seen:
            log.info("ticket changed since the decision; not pushing, deciding again", extra=_fields(action))
            return outcomes.Stale(f"ticket {ref} changed since the decision")
        started = time.monotonic()
        outcome = self.attempt(action, context)
        metrics = self.context.metrics
        if isinstance(outcome, outcomes.RetryLater | outcomes.Broken | outcomes.Unavailable):
            metrics.git_errors.labels(kind="retry").inc()
            attempts = self.failures.get(ref, 0) + 1
            self.failures[ref] = attempts
            floor = outcome.delay if isinstance(outcome, outcomes.RetryLater) else 0.0
            self.not_before[ref] = now + backoff.delay(attempts, floor)
            log.warning("push will be retried in %.0f s: %s", self.not_before[ref] - now, outcome.reason,
                        extra=_fields(action))
            self._record_trouble(action, outcome, context)
            return outcome
        if isinstance(outcome, outcomes.PushFailed):
            metrics.git_errors.labels(kind="permanent").inc()
            log.error("push failed for good: %s", outcome.reason, extra=_fields(action))
            self._follow_up(action, outcome, context)
            return outcome
        if not isinstance(outcome, outcomes.Pushed):
            return outcome
        self.not_before.pop(ref, None)
        self.failures.pop(ref, None)
        recorded = self._follow_up(action, outcome, context)
        if not outcomes.took_effect(recorded):
            return recorded  # decided again next pass; the trailers make the repeated push a no-op
        self._clear_trouble(ref, context)
        for edit in outcome.hand_edits:  # the push replaced a hand edit as a repair would: the watcher may stop
            self.repairs.on_repaired(edit.app, edit.head)
        metrics.promotions.labels(track=action.track, station=action.station).inc()
        self._observe_latency(action, world, started)
        log.info("pushed %s", ", ".join(f"{p.branch}@{p.commit[:12]}" for p in outcome.commits),
                 extra=_fields(action))
        push_station.refresh_and_sync(outcome.commits, self.context)
        return outcome

    def _follow_up(self, action: actions.PushStation, outcome: outcomes.Outcome,
                   context: units.Context) -> outcomes.Outcome:
        """Carry out what ``core.outcomes`` says the push's outcome means for the ticket, as last written."""
        try:
            ticket = codec.ticket_from_dict(context.object("Ticket", action.ticket.namespace, action.ticket.name))
        except Exception as exc:
            result = outcome_of(exc)
            log.warning("recording the push failed: %s", getattr(result, "reason", exc), extra=_fields(action))
            return result
        for step in outcomes.follow_up(ticket, action, outcome):
            result = self.attempt(step, context)
            if not outcomes.took_effect(result):
                return result
        return outcomes.Done()

    # -- trouble --------------------------------------------------------------------------------

    def _record_trouble(self, action: actions.Action, outcome: outcomes.Outcome, context: units.Context) -> None:
        """Say on the ticket why its action keeps failing (``core.failures``), once per reason."""
        ref = getattr(action, "ticket", None) or getattr(action, "parent", None)
        if not isinstance(ref, model.TicketRef):
            return

        def wanted(obj: dict[str, Any]) -> failures.Trouble | None:
            found = failures.trouble(codec.ticket_from_dict(obj), action, outcome)
            return found if found is not None else codec.trouble_of(obj)  # nothing to say: left as it is

        self._write_trouble(ref, wanted, context, "recording", _fields(action))

    def _clear_trouble(self, ref: model.TicketRef, context: units.Context) -> None:
        self._write_trouble(ref, lambda _obj: None, context, "clearing", {"ticket": str(ref)})

    def _write_trouble(self, ref: model.TicketRef, wanted: Callable[[dict[str, Any]], failures.Trouble | None],
                       context: units.Context, doing: str, extra: dict[str, str]) -> None:
        """Make the ticket's trouble ``wanted(obj)`` (None: no trouble) unless it already is; fenced like
        every status write. A failure is logged, never raised: the trouble is said again on a later pass."""
        try:
            obj = context.object("Ticket", ref.namespace, ref.name)
            trouble = wanted(obj)
            if trouble == codec.trouble_of(obj):
                return
            self._check_fence(ref.namespace)
            trouble_unit.run(ref, trouble, self.clock(), context)
        except _Stop:
            raise
        except Exception as exc:
            log.warning("%s the trouble failed: %s", doing, outcome_of(exc), extra=extra)

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


def batches(planned: Sequence[actions.Action]) -> list[list[actions.Action]]:
    """Group actions per ticket (or Track, or Station), keeping the core's order within each group."""
    groups: dict[object, list[actions.Action]] = {}
    for action in planned:
        key = getattr(action, "ticket", None) or getattr(action, "parent", None) or getattr(action, "track", None)
        if isinstance(action, actions.UpdateStationStatus):
            key = action.station
        groups.setdefault(key, []).append(action)
    return list(groups.values())


def _namespace(action: actions.Action) -> str:
    """The namespace an action acts in (what the fence checks): its ticket's, parent's or Track's, or for
    a drift repair no ticket holds, the Station's."""
    ref = getattr(action, "ticket", None) or getattr(action, "parent", None) or getattr(action, "track", None)
    return getattr(ref, "namespace", "") or getattr(action, "namespace", "")


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
