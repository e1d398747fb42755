"""The controller loop: watches fill the cache, each pass builds a World, decides, and acts.

watch (threads) -> cache -> World (``core.codec``) -> ``core.decide`` (pure) -> ``execution`` (units).
A pass runs when a watch event arrives (event-driven, no polling delay in the happy path) and at least
every ``resync_seconds`` (time-based rules: soak, timeout, grace). Only the Lease holder acts.

Incremental: an event-driven pass decides only the Tracks its changes concern, with the Tracks coupled
to them through shared Stations, junctions and tickets (``core.scope``: a sub-World, decided by the same
pure ``decide``); the pass every ``resync_seconds`` decides everything. Parsed objects are kept per
resourceVersion, and the World is kept across passes (``reactor.standing``): a pass parses, indexes
and cuts out only what its changes concern.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.leader import LeaderElector, NamespaceClaims
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import actions, decide, model, scope, station_status
from k8sta_daemon.reactor.cache import KINDS, Cache, View
from k8sta_daemon.reactor.drift import DriftWatcher
from k8sta_daemon.reactor.execution import Executor
from k8sta_daemon.reactor.health import HealthReasons
from k8sta_daemon.reactor.refresher import Refresher
from k8sta_daemon.reactor.standing import Standing
from k8sta_daemon.reactor.stations import StationStatuses

log = logging.getLogger("k8sta.controller")
MAX_PASSES_PER_WAKE = 50  # actions beget status changes beget decisions; bound one burst
# Argo CD's stream can miss an event under load (bench/bench_scale.py: a ticket whose last Application
# event never came waited 60 s for the next relist). An Application a ticket waits on that has had no
# event for APP_HEAL_SECONDS is read again (one GET each, off the loop's thread), then after twice as
# long, and so on up to APP_HEAL_MAX_SECONDS (a busy Argo CD leaves an Application quiet for minutes:
# re-reading it every 15 s was 5 GETs per promotion at 100 Tracks); every Application, unmanaged ones
# too, is listed only every APP_RELIST_SECONDS (at 600 Applications a list every 15 s was ~12% of the
# daemon's samples at 100 Tracks).
APP_HEAL_SECONDS = 15.0
APP_HEAL_MAX_SECONDS = 120.0
APP_RELIST_SECONDS = 300.0


@dataclass
class Controller:
    kube: kube.Kube
    argo: argocd.ArgoCD
    executor: Executor
    cache: Cache
    metrics: Metrics
    resync_seconds: float = 5.0
    elector: LeaderElector | None = None
    drift: DriftWatcher | None = None  # fills World.drift from a thread of its own
    health: HealthReasons | None = None  # Argo CD's reasons for an Application's health (asked off the loop)
    refresher: Refresher | None = None  # re-reads and relists off the loop's thread (None: in line)
    claims: NamespaceClaims | None = None
    clock: Callable[[], float] = time.time
    threads: list[threading.Thread] = field(default_factory=list)
    standing: Standing = field(init=False)  # the World kept across passes
    stations: StationStatuses = field(default_factory=StationStatuses)  # what runs where, as written
    heal_waits: dict[model.AppRef, float] = field(default_factory=dict)  # awaited app -> quiet time to read it

    # -- world ----------------------------------------------------------------------------------

    def __post_init__(self) -> None:
        self.standing = Standing(self.health)

    def world(self, view: View | None = None) -> model.World:
        """The whole World of one view, rebuilt (a malformed Ticket stays in it: it keeps its Station
        and says why; other malformed objects are logged once and left out)."""
        self.standing.update(view or self.cache.view(), scope.Changed(everything=True), self._claimed(), True)
        return self.standing.world(self.clock(), *self._drift())

    def _claimed(self) -> frozenset[str] | None:
        return frozenset(self.claims.held()) if self.claims is not None else None

    def _drift(self) -> tuple[tuple[model.Drift, ...], tuple[model.Rerendered, ...]]:
        if self.drift is None:
            return (), ()
        return tuple(self.drift.current()), tuple(self.drift.rerendered())

    def _heads(self) -> dict[model.AppRef, station_status.BranchHead]:
        return {} if self.drift is None else self.drift.heads()

    # -- one pass -------------------------------------------------------------------------------

    def reconcile(self, full: bool = True) -> int:
        """Decide and act until nothing more happens (bounded); returns actions that took effect.

        The first pass decides every Track when ``full`` (the resync), else only the Tracks what changed
        since the previous pass concerns; the passes after it, the Tracks our own writes concern.
        """
        total = 0
        try:
            for attempt in range(MAX_PASSES_PER_WAKE):
                started, cpu = time.monotonic(), time.thread_time()
                view, changed = self.cache.take()
                rebuild = changed.everything  # a relist or deletion: the kept World is rebuilt
                if full and attempt == 0:  # the resync decides every Track of the kept World
                    changed = dataclasses.replace(changed, everything=True)
                if changed.empty:
                    break
                with cyclic_gc_paused():
                    changed = self.standing.update(view, changed, self._claimed(), rebuild)
                    part = self.standing.part(changed, self.clock(), *self._drift())
                    planned: list[actions.Action] = decide.decide(part) if part.tracks or part.tickets else []
                    planned += self.stations.plan(part, view, self._heads())
                self.metrics.observe_decision(time.monotonic() - started, time.thread_time() - cpu,
                                              len(part.tracks))
                result = self.executor.execute(planned, part, view)
                self.metrics.reconcile_seconds.observe(time.monotonic() - started)
                self._count()
                total += result.done
                if result.fenced:
                    self.cache.mark_all(wake=False)  # decided again in full once this replica may act
                if result.done == 0 or result.fenced:
                    break
        except BaseException:
            self.cache.mark_all(wake=False)  # what this pass took is decided again by the next one
            raise
        return total

    def _count(self) -> None:
        states = self.standing.index.states
        for state in model.TicketState:
            self.metrics.tickets.labels(state=state.value).set(states[state])

    # -- running --------------------------------------------------------------------------------

    def start_watches(self, stop: threading.Event) -> None:
        for kind in KINDS:
            self._thread(f"watch-{kind}", self.kube.watch, kind,
                         lambda event, obj, k=kind: self.cache.apply(k, event, obj),
                         lambda items, k=kind: self.cache.replace_all(k, items), stop)
        self._thread("watch-applications", self._watch_apps, stop)
        if self.drift is not None:
            self._thread("drift-watcher", self.drift.run, stop)
        if self.elector is not None:
            self._thread("leader-election", self.elector.run, stop)
        if self.claims is not None:
            self._thread("namespace-claims", self._claim, stop)

    def _claim(self, stop: threading.Event) -> None:
        """While leading, claim the watched namespace (or every namespace with our objects); else none."""
        assert self.claims is not None
        while not stop.is_set():
            leading = self.elector is None or self.elector.is_leader.is_set()
            if leading and self.cache.synced():
                scope = [self.kube.namespace] if self.kube.namespace else self.cache.namespaces()
                before = self.claims.held()
                self.claims.renew(scope)
                if self.claims.held() != before:
                    self.cache.mark_all()  # a namespace was claimed: decide for it now
            elif not leading:
                self.claims.release_all()
            stop.wait(self.claims.renew_seconds)
        self.claims.release_all()

    def _watch_apps(self, stop: threading.Event) -> None:
        self._relist()
        self.argo.watch(self._on_app_event, stop)

    def _on_app_event(self, event: str, app: dict[str, Any]) -> None:
        managed = self.cache.apply_app(event, app)
        self.metrics.app_events.labels(managed="true" if managed else "false").inc()

    def _thread(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def heal(self) -> list[model.AppRef]:
        """Read again the Applications a ticket waits on that had no event for a while (15 s, then
        twice as long after each read, up to 2 minutes: a lost stream event must not hold a ticket up,
        and a quiet Argo CD must not be asked again and again); returns them."""
        awaited = sorted(self.standing.awaited(), key=lambda ref: (ref.namespace, ref.name))
        now = time.monotonic()
        waits = {ref: self.heal_waits.get(ref, APP_HEAL_SECONDS) for ref in awaited}  # forget the others
        quiet = [ref for ref, at in zip(awaited, self.cache.app_event_times(awaited), strict=True)
                 if at is None or now - at >= waits[ref]]
        for ref in quiet:
            waits[ref] = min(2 * waits[ref], APP_HEAL_MAX_SECONDS)
        self.heal_waits = waits
        self._refresher().reread(quiet)
        return quiet

    def _refresher(self) -> Refresher:
        """The daemon's refresher, or one that reads in line (no threads of its own, as in tests)."""
        return self.refresher or Refresher(self.argo, self.metrics, workers=0,
                                           on_app=lambda app: self.cache.apply_app("MODIFIED", app))

    def _relist(self) -> None:
        try:
            self.cache.set_apps(self.argo.list_applications())
        except argocd.ArgoCDError as exc:
            self.metrics.argocd_errors.labels(call="list").inc()
            log.warning("listing Applications failed: %s", exc)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop``: wait for a wake-up or the resync interval, then reconcile if leading."""
        self.start_watches(stop)
        last_app_list = last_heal = time.monotonic()
        last_full: float | None = None  # None: the next pass that may act decides everything
        while not stop.is_set():
            due = self.resync_seconds if last_full is None else last_full + self.resync_seconds - time.monotonic()
            self.cache.wake.wait(min(self.resync_seconds, max(0.0, due)))
            self.cache.wake.clear()
            if stop.is_set():
                break
            if self.elector is not None and not self.elector.is_leader.is_set():
                last_full = None
                continue
            if not self.cache.synced():
                last_full = None
                continue  # deciding before every kind is listed would act on a partial world
            if time.monotonic() - last_heal >= APP_HEAL_SECONDS:  # heal a lossy stream where it matters
                last_heal = time.monotonic()
                self.heal()
            if time.monotonic() - last_app_list >= APP_RELIST_SECONDS:  # and everywhere, seldom
                last_app_list = time.monotonic()
                self._refresher().run(self._relist)
            # A full pass at least every resync interval, also while events keep waking the loop.
            full = last_full is None or time.monotonic() - last_full >= self.resync_seconds
            if full:
                last_full = time.monotonic()
            try:
                self.reconcile(full=full)
            except Exception:  # one bad pass must not stop the controller; the next pass retries
                log.exception("reconcile pass failed")


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic collector while one World is built and decided.

    A pass allocates a few objects per ticket, all young and acyclic (reference counting frees them);
    meanwhile the cyclic collector would walk the growing World again and again: ~25% of a pass at
    10,000 tickets (bench/decide_cost.py). Collection resumes right after; process-wide for ~1 s.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
