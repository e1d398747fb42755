"""Leases (coordination.k8s.io/v1): leader election among replicas, and one claim per namespace.

- ``LeaderElector``: replicas of one controller share the Lease ``k8sta-controller``; only its holder acts.
- ``NamespaceClaims``: every controller (leader of its replicas) also holds the Lease ``k8sta-claim`` in
  each namespace whose Tickets it acts on, so a namespace's tickets belong to exactly one controller
  at a time, whatever the scopes: a cluster-wide daemon and one started with ``--namespace`` compete
  for the same claim; the second yields (a log line and a Warning Event on the claim, naming the
  holder and its scope) and acts elsewhere.

Every Lease follows one rule (``LeaseLock``): the holder renews it every ``renew_seconds``; another
candidate takes it only once it has not been renewed for its ``leaseDurationSeconds``. Every write
carries the observed resourceVersion, so two candidates racing for an expired Lease cannot both win.

Fencing: ``LeaseLock.fence`` tells, by this process's own monotonic clock, whether the Lease is
certainly still ours: its last renewal was sent less than the lease duration minus a margin ago. A
process paused (SIGSTOP, a long GC, a stalled disk) past that point must not push or write: another
replica may hold the Lease by now. The reactor asks before each status write and push.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.rest import ApiException

log = logging.getLogger(__name__)

CLAIM_NAME = "k8sta-claim"
SCOPE_ANNOTATION = "k8sta.io/scope"  # which namespaces the holder watches ("all namespaces", "namespace x")


@dataclass(frozen=True)
class LeaseSettings:
    namespace: str
    name: str = "k8sta-controller"
    identity: str = ""
    lease_seconds: int = 15
    renew_seconds: float = 5.0
    scope: str = ""

    @property
    def margin_seconds(self) -> float:
        """Fencing's safety margin: the other candidate's clock may run a little ahead of ours."""
        return max(1.0, self.lease_seconds / 5)


@dataclass(frozen=True)
class Holder:
    identity: str
    scope: str


class LeaseLock:
    """One Lease, taken and renewed by one identity; ``fence`` is the local proof it still holds it."""

    def __init__(self, api: client.CoordinationV1Api, settings: LeaseSettings,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.settings = settings
        self.monotonic = monotonic
        self.valid_until = 0.0  # monotonic; 0: never held
        self.holder: Holder | None = None  # who held it at our last attempt

    def try_acquire(self, now: dt.datetime | None = None) -> bool:
        """One attempt to take or renew the Lease; True while we hold it."""
        s = self.settings
        sent = self.monotonic()  # the lease counts from before our request: conservative
        now = now or dt.datetime.now(dt.UTC)
        try:
            lease = self.api.read_namespaced_lease(s.name, s.namespace)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("lease %s/%s read failed: HTTP %s", s.namespace, s.name, exc.status)
                return self._lost()
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=s.name, namespace=s.namespace,
                                             annotations={SCOPE_ANNOTATION: s.scope} if s.scope else None),
                spec=client.V1LeaseSpec(holder_identity=s.identity, lease_duration_seconds=s.lease_seconds,
                                        acquire_time=now, renew_time=now, lease_transitions=0))
            try:
                self.api.create_namespaced_lease(s.namespace, body)
            except ApiException:
                return self._lost()
            return self._held(sent)
        spec = lease.spec
        annotations = lease.metadata.annotations or {}
        self.holder = Holder(spec.holder_identity or "", annotations.get(SCOPE_ANNOTATION, ""))
        held_by_us = spec.holder_identity == s.identity
        renewed = spec.renew_time or spec.acquire_time
        duration = spec.lease_duration_seconds or s.lease_seconds
        expired = (not spec.holder_identity or renewed is None
                   or (now - renewed).total_seconds() > duration)
        if not held_by_us and not expired:
            return self._lost()
        if not held_by_us:
            spec.holder_identity = s.identity
            spec.acquire_time = now
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
        spec.renew_time = now
        spec.lease_duration_seconds = s.lease_seconds
        if s.scope:
            lease.metadata.annotations = {**annotations, SCOPE_ANNOTATION: s.scope}
        try:
            self.api.replace_namespaced_lease(s.name, s.namespace, lease)
        except ApiException:
            return self._lost()
        return self._held(sent)

    def release(self) -> None:
        """Give the Lease up at once (a clean stop), so another candidate need not wait for it to expire."""
        s = self.settings
        if self.valid_until == 0.0:
            return
        self.valid_until = 0.0
        try:
            lease = self.api.read_namespaced_lease(s.name, s.namespace)
            if lease.spec.holder_identity == s.identity:
                lease.spec.holder_identity = ""
                self.api.replace_namespaced_lease(s.name, s.namespace, lease)
        except ApiException as exc:
            log.warning("releasing lease %s/%s failed: HTTP %s", s.namespace, s.name, exc.status)

    def fence(self) -> str | None:
        """None while the Lease is certainly ours by our own clock; otherwise why we must not act."""
        s = self.settings
        if self.valid_until == 0.0:
            return f"lease {s.namespace}/{s.name} is not held"
        left = self.valid_until - self.monotonic()
        if left <= 0:
            return (f"lease {s.namespace}/{s.name} was last renewed more than {s.lease_seconds - s.margin_seconds:g} s "
                    f"ago (duration {s.lease_seconds} s, margin {s.margin_seconds:g} s): another replica may hold it")
        return None

    @property
    def held(self) -> bool:
        return self.fence() is None

    def _held(self, sent: float) -> bool:
        s = self.settings
        self.valid_until = sent + s.lease_seconds - s.margin_seconds
        self.holder = Holder(s.identity, s.scope)
        return True

    def _lost(self) -> bool:
        self.valid_until = 0.0
        return False


class LeaderElector:
    """The replicas' election: ``is_leader`` follows the Lease; ``fence`` proves it before each act."""

    def __init__(self, api: client.ApiClient, settings: LeaseSettings,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.lock = LeaseLock(client.CoordinationV1Api(api), settings, monotonic)
        self.settings = settings
        self.is_leader = threading.Event()

    def try_acquire(self, now: dt.datetime | None = None) -> bool:
        return self._set(self.lock.try_acquire(now))

    def fence(self) -> str | None:
        return self.lock.fence()

    def _set(self, leading: bool) -> bool:
        if leading and not self.is_leader.is_set():
            log.info("became leader (lease %s/%s)", self.settings.namespace, self.settings.name)
            self.is_leader.set()
        elif not leading and self.is_leader.is_set():
            log.warning("lost leadership (lease %s/%s)", self.settings.namespace, self.settings.name)
            self.is_leader.clear()
        return leading

    def run(self, stop: threading.Event) -> None:
        """Keep trying / renewing until ``stop``; then give the Lease up for the next replica."""
        while not stop.is_set():
            self.try_acquire()
            stop.wait(self.settings.renew_seconds)
        self.is_leader.clear()
        self.lock.release()


Yielded = Callable[[str, Holder], None]  # namespace, who holds its claim: called when that changes


class NamespaceClaims:
    """This controller's claims: one ``k8sta-claim`` Lease per namespace whose Tickets it acts on."""

    def __init__(self, api: client.ApiClient, identity: str, scope: str, lease_seconds: int = 15,
                 renew_seconds: float = 5.0, monotonic: Callable[[], float] = time.monotonic,
                 on_yield: Yielded | None = None) -> None:
        self.api = client.CoordinationV1Api(api)
        self.identity, self.scope = identity, scope
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self.monotonic = monotonic
        self.on_yield = on_yield
        self.locks: dict[str, LeaseLock] = {}
        self.yielded: dict[str, Holder] = {}
        self._lock = threading.Lock()

    def renew(self, namespaces: Iterable[str], now: dt.datetime | None = None) -> None:
        """Take or renew the claim of every namespace in ``namespaces``; give up the others."""
        wanted = set(namespaces)
        for namespace in sorted(wanted):
            lock = self.locks.get(namespace)
            if lock is None:
                lock = LeaseLock(self.api, LeaseSettings(namespace=namespace, name=CLAIM_NAME, identity=self.identity,
                                                         lease_seconds=self.lease_seconds, scope=self.scope),
                                 self.monotonic)
                with self._lock:
                    self.locks[namespace] = lock
            was_held = lock.valid_until != 0.0
            if lock.try_acquire(now):
                if not was_held:
                    before = self.yielded.pop(namespace, None)
                    log.info("claimed namespace %s%s", namespace,
                             f" (after controller {before.identity} gave it up)" if before else "")
                continue
            holder = lock.holder
            if holder is not None and holder.identity and self.yielded.get(namespace) != holder:
                self.yielded[namespace] = holder
                log.warning("yielding namespace %s: its Tickets belong to controller %s (%s); this controller "
                            "(%s, %s) will not act on them while that claim is renewed", namespace,
                            holder.identity, holder.scope or "scope unknown", self.identity, self.scope)
                if self.on_yield is not None:
                    self.on_yield(namespace, holder)
        for namespace in set(self.locks) - wanted:
            with self._lock:
                lock = self.locks.pop(namespace)
            lock.release()

    def fence(self, namespace: str) -> str | None:
        with self._lock:
            lock = self.locks.get(namespace)
        if lock is None:
            return f"namespace {namespace} is not claimed by this controller"
        refused = lock.fence()
        if refused is None:
            return None
        holder = self.yielded.get(namespace)
        return f"{refused}; held by controller {holder.identity} ({holder.scope})" if holder else refused

    def yielded_to(self, namespace: str) -> str | None:
        """The controller that holds ``namespace``'s claim instead of this one (None: nobody else does)."""
        with self._lock:
            lock = self.locks.get(namespace)
            holder = self.yielded.get(namespace)
        if holder is None or (lock is not None and lock.held):
            return None
        return holder.identity

    def held(self) -> set[str]:
        with self._lock:
            locks = dict(self.locks)
        return {ns for ns, lock in locks.items() if lock.held}

    def release_all(self) -> None:
        with self._lock:
            locks, self.locks = self.locks, {}
        for lock in locks.values():
            lock.release()
