"""Carry out ``RepairDrift``: backoff per drifted head, the unit's push, what it means, the refresh.

Callers: ``reactor/execution.py`` hands every ``RepairDrift`` here (kept apart from the executor's
push and sync paths, which it mirrors). The push is ``units/repair_drift.py``; what the new commit means
for the ticket is ``core.drift.after_repair``; the executor's ``attempt`` turns errors into outcomes.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.core import actions, codec, drift, model, outcomes
from k8sta_daemon.reactor.units import Context, push_station
from k8sta_daemon.reactor.units.emit_event import ARGOCD_API_VERSION

log = logging.getLogger("k8sta.controller")
BACKOFF_BASE = 2.0
BACKOFF_MAX = 60.0

Attempt = Callable[[actions.Action], outcomes.Outcome]


class Repairs:
    def __init__(self, context: Context, clock: Callable[[], float] = time.time) -> None:
        self.context = context
        self.clock = clock
        self.on_repaired: Callable[[model.AppRef, str], None] = lambda app, head: None
        self.backoff: dict[tuple[model.AppRef, str], tuple[int, float]] = {}  # (app, head) -> attempts, not before

    def run(self, action: actions.RepairDrift, attempt: Attempt) -> outcomes.Outcome:
        key = (action.app, action.head)
        for stale in [k for k in self.backoff if k[0] == action.app and k[1] != action.head]:
            del self.backoff[stale]  # a new head is a new drift: a new backoff
        tries, not_before = self.backoff.get(key, (0, 0.0))
        now = self.clock()
        if not_before > now:
            return outcomes.Waiting()
        outcome = attempt(action)
        if not isinstance(outcome, outcomes.Pushed):
            delay = outcome.delay if isinstance(outcome, outcomes.RetryLater) else min(
                BACKOFF_MAX, BACKOFF_BASE * 2 ** tries) * random.uniform(0.5, 1.0)
            self.backoff[key] = (tries + 1, now + delay)
            reason = getattr(outcome, "reason", type(outcome).__name__)
            log.warning("repair of %s (%s) will be retried: %s", action.branch, action.app, reason)
            return outcome
        self.backoff.pop(key, None)
        (commit,) = outcome.commits
        log.info("repaired %s@%s over hand edit %s", action.branch, commit.commit[:12], action.head[:12],
                 extra={"action": "RepairDrift", "station": action.station,
                        **({"ticket": str(action.ticket)} if action.ticket else {})})
        if action.ticket is not None:
            recorded = self._record(action, commit, attempt)
            if not outcomes.took_effect(recorded):
                # the drift stays reported, so decide asks again; the unit then finds its commit (idempotent)
                log.warning("repair commit %s not recorded on %s yet", commit.commit[:12], action.ticket)
                return recorded
        else:
            self._event_on_app(action, commit)
        self.on_repaired(action.app, action.head)
        push_station.refresh_and_sync(outcome.commits, self.context)
        return outcome

    def _record(self, action: actions.RepairDrift, commit: model.PushedCommit, attempt: Attempt) -> outcomes.Outcome:
        assert action.ticket is not None
        obj = self.context.cache.get("Ticket", action.ticket.namespace, action.ticket.name)
        if obj is None:
            return outcomes.Unavailable(f"Ticket {action.ticket} is not in the cache")
        for step in drift.after_repair(codec.ticket_from_dict(obj), action, commit):
            result = attempt(step)
            if not outcomes.took_effect(result):
                return result
        return outcomes.Done()

    def _event_on_app(self, action: actions.RepairDrift, commit: model.PushedCommit) -> None:
        """No ticket holds the Station, so decide has no ticket to hang the Event on: say it on the app."""
        app = self.context.cache.application(action.app)
        if app is None:
            return
        involved = {"apiVersion": ARGOCD_API_VERSION, "kind": "Application", "namespace": action.app.namespace,
                    "name": action.app.name, "uid": app["metadata"].get("uid", "")}
        message = (f"station {action.station}: branch {action.branch} was edited by hand (head {action.head[:12]} "
                   f"is not K8sTA's commit); restored K8sTA's content on top of it as {commit.commit[:12]}")
        try:
            self.context.kube.emit_event(involved, actions.EventType.WARNING.value, actions.EventReason.DRIFT.value,
                                         message)
        except (kube.KubeError, argocd.ArgoCDError) as exc:
            log.warning("drift event on %s failed: %s", action.app, exc)
