"""Carry out ``decide``'s actions with the adapters: the "do" half of the controller.

Callers: the controller loop, one ticket's actions at a time in the order the core emitted them
(status first; on a status conflict the rest of that ticket's actions are dropped and decided again).
Every step is idempotent: status writes are compare-and-swap on resourceVersion, pushes are
recognised by their trailers, child tickets by their deterministic names.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.git import errors as git_errors
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import actions, codec, model
from k8sta_daemon.promoter import Promoter
from k8sta_daemon.reactor.cache import Cache

log = logging.getLogger("k8sta.controller")

ARGOCD_API_VERSION = "argoproj.io/v1alpha1"


class Executor:
    def __init__(self, kube_api: kube.Kube, argo: argocd.ArgoCD, promoter: Promoter, cache: Cache,
                 metrics: Metrics, clock: Callable[[], float] = time.time) -> None:
        self.kube = kube_api
        self.argo = argo
        self.promoter = promoter
        self.cache = cache
        self.metrics = metrics
        self.clock = clock
        self.not_before: dict[model.TicketRef, float] = {}  # push backoff after RetryLater

    # -- entry ----------------------------------------------------------------------------------

    def run(self, batch: Sequence[actions.Action], world: model.World) -> int:
        """Execute one ticket's (or one track's) actions in order; returns how many took effect."""
        done = 0
        for action in batch:
            try:
                if not self._one(action, world):
                    break
                done += 1
            except kube.Conflict:
                log.info("stale view, deciding again", extra=_fields(action))
                break
            except (kube.KubeError, argocd.ArgoCDError) as exc:
                log.warning("action failed: %s", exc, extra=_fields(action))
                break
        return done

    def _one(self, action: actions.Action, world: model.World) -> bool:
        if isinstance(action, actions.UpdateTicketStatus):
            self._write_status(action.ticket, action.status)
            log.info("status %s at %s", action.status.state.value, action.status.station or "-",
                     extra=_fields(action))
            return True
        if isinstance(action, actions.PushStation):
            return self._push(action, world)
        if isinstance(action, actions.EmitEvent):
            self._event(action)
            return True
        if isinstance(action, actions.SpawnTicket):
            self._spawn(action)
            return True
        if isinstance(action, actions.SetTrackCondition):
            self._track_condition(action)
            return True
        raise TypeError(f"unknown action {action!r}")

    # -- status ---------------------------------------------------------------------------------

    def _raw(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        objects, _ = self.cache.copy()
        obj = objects[kind].get((namespace, name))
        if obj is None:
            raise kube.NotFound(f"{kind} {namespace}/{name} is not in the cache")
        return obj

    def _write_status(self, ref: model.TicketRef, status: model.TicketStatus) -> None:
        obj = self._raw("Ticket", ref.namespace, ref.name)
        updated = self.kube.replace_status("Ticket", obj, codec.ticket_status_to_dict(status))
        self.cache.put("Ticket", updated)

    # -- git ------------------------------------------------------------------------------------

    def _push(self, action: actions.PushStation, world: model.World) -> bool:
        now = self.clock()
        if self.not_before.get(action.ticket, 0) > now:
            return False
        _, apps = self.cache.copy()
        started = time.monotonic()
        try:
            pushed = self.promoter.push_station(action, apps)
        except git_errors.RetryLater as exc:
            self.metrics.git_errors.labels(kind="retry").inc()
            self.not_before[action.ticket] = now + exc.delay
            log.warning("push will be retried in %.0f s: %s", exc.delay, exc, extra=_fields(action))
            return False
        except git_errors.GiveUp as exc:
            self.metrics.git_errors.labels(kind="permanent").inc()
            log.error("push failed for good: %s", exc, extra=_fields(action))
            self._fail_push(action, str(exc))
            return False
        self.not_before.pop(action.ticket, None)
        self._record_pushed(action, pushed)
        self.metrics.promotions.labels(track=action.track, station=action.station).inc()
        self._observe_latency(action, world, started)
        log.info("pushed %s", ", ".join(f"{p.branch}@{p.commit[:12]}" for p in pushed), extra=_fields(action))
        for commit in pushed:
            self._refresh_and_sync(commit, apps.get(commit.app) or {})
        return True

    def _record_pushed(self, action: actions.PushStation, pushed: list[model.PushedCommit]) -> None:
        ticket = codec.ticket_from_dict(self._raw("Ticket", action.ticket.namespace, action.ticket.name))
        current = ticket.status.current
        if current is None or current.station != action.station:
            return  # the ticket moved on meanwhile; the trailers make the next push a no-op
        known = {p.app for p in pushed}
        merged = tuple(p for p in current.pushed if p.app not in known) + tuple(pushed)
        journey = (*ticket.status.journey[:-1], dataclasses.replace(current, pushed=merged))
        self._write_status(action.ticket, dataclasses.replace(ticket.status, journey=journey))

    def _fail_push(self, action: actions.PushStation, message: str) -> None:
        ticket = codec.ticket_from_dict(self._raw("Ticket", action.ticket.namespace, action.ticket.name))
        current = ticket.status.current
        if current is None:
            return
        failed = dataclasses.replace(current, state=model.JourneyState.FAILED, message=message)
        status = dataclasses.replace(ticket.status, state=model.TicketState.FAILED, station=None,
                                     journey=(*ticket.status.journey[:-1], failed),
                                     message=f"push to station {action.station} failed: {message}")
        self._write_status(action.ticket, status)
        self._event(actions.EmitEvent(ticket=action.ticket, app=None, type=actions.EventType.WARNING,
                                      reason=actions.EventReason.FAILED, message=status.message))

    def _refresh_and_sync(self, commit: model.PushedCommit, application: dict[str, Any]) -> None:
        """Make Argo CD look now; start a sync ourselves only when the Application has no automation."""
        try:
            self.argo.refresh(commit.app, hard=True)
            automated = ((application.get("spec") or {}).get("syncPolicy") or {}).get("automated")
            if application and not automated:
                self.argo.sync(commit.app, commit.commit)
        except argocd.ArgoCDError as exc:
            self.metrics.argocd_errors.labels(call="refresh").inc()
            log.warning("refresh/sync of %s failed: %s", commit.app, exc)

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
        with self.cache.lock:
            stamps = [self.cache.app_event_at.get(a) for a in previous.active_applications]
        if any(s is None for s in stamps):
            return
        trigger = max(s for s in stamps if s is not None)
        if trigger <= started:  # only when that event is what this decision reacted to
            self.metrics.observe_latency(time.monotonic() - trigger)

    # -- events and children -------------------------------------------------------------------

    def _event(self, action: actions.EmitEvent) -> None:
        if action.app is None:
            obj = self._raw("Ticket", action.ticket.namespace, action.ticket.name)
            involved = {"apiVersion": kube.API_VERSION, "kind": "Ticket", "namespace": action.ticket.namespace,
                        "name": action.ticket.name, "uid": obj["metadata"].get("uid", "")}
            message = action.message
        else:
            _, apps = self.cache.copy()
            app = apps.get(action.app)
            if app is None:
                return
            involved = {"apiVersion": ARGOCD_API_VERSION, "kind": "Application", "namespace": action.app.namespace,
                        "name": action.app.name, "uid": app["metadata"].get("uid", "")}
            message = f"ticket {action.ticket}: {action.message}"
        self.kube.emit_event(involved, action.type.value, action.reason.value, message)

    def _spawn(self, action: actions.SpawnTicket) -> None:
        parent = self._raw("Ticket", action.parent.namespace, action.parent.name)
        body = codec.child_ticket_body(action, parent)
        created = self.kube.create("Ticket", action.parent.namespace, body)
        log.info("spawned child %s on track %s%s", action.name, action.track, "" if created else " (existed)",
                 extra={"ticket": str(action.parent), "track": action.track})

    def _track_condition(self, action: actions.SetTrackCondition) -> None:
        obj = self._raw("Track", action.track.namespace, action.track.name)
        status = codec.track_status_with_condition(obj, action.condition)
        self.cache.put("Track", self.kube.replace_status("Track", obj, status))


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
