"""Lease-based leader election (coordination.k8s.io/v1), so two controller replicas never both act.

The holder renews its Lease every ``renew_seconds``; another replica takes over only once the Lease
has not been renewed for ``lease_seconds``. Every write carries the observed resourceVersion, so two
candidates racing for an expired Lease cannot both win.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.rest import ApiException

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseSettings:
    namespace: str
    name: str = "k8sta-controller"
    identity: str = ""
    lease_seconds: int = 15
    renew_seconds: float = 5.0


class LeaderElector:
    def __init__(self, api: client.ApiClient, settings: LeaseSettings) -> None:
        self.api = client.CoordinationV1Api(api)
        self.settings = settings
        self.is_leader = threading.Event()

    def try_acquire(self, now: dt.datetime | None = None) -> bool:
        """One attempt to take or renew the Lease; True while we hold it."""
        s = self.settings
        now = now or dt.datetime.now(dt.UTC)
        try:
            lease = self.api.read_namespaced_lease(s.name, s.namespace)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("lease read failed: HTTP %s", exc.status)
                return self._set(False)
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=s.name, namespace=s.namespace),
                spec=client.V1LeaseSpec(holder_identity=s.identity, lease_duration_seconds=s.lease_seconds,
                                        acquire_time=now, renew_time=now, lease_transitions=0))
            try:
                self.api.create_namespaced_lease(s.namespace, body)
            except ApiException:
                return self._set(False)
            return self._set(True)
        spec = lease.spec
        held_by_us = spec.holder_identity == s.identity
        renewed = spec.renew_time or spec.acquire_time
        expired = renewed is None or (now - renewed).total_seconds() > (spec.lease_duration_seconds or s.lease_seconds)
        if not held_by_us and not expired:
            return self._set(False)
        if not held_by_us:
            spec.holder_identity = s.identity
            spec.acquire_time = now
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
        spec.renew_time = now
        spec.lease_duration_seconds = s.lease_seconds
        try:
            self.api.replace_namespaced_lease(s.name, s.namespace, lease)
        except ApiException:
            return self._set(False)
        return self._set(True)

    def _set(self, leading: bool) -> bool:
        if leading and not self.is_leader.is_set():
            log.info("became leader (lease %s/%s)", self.settings.namespace, self.settings.name)
            self.is_leader.set()
        elif not leading and self.is_leader.is_set():
            log.warning("lost leadership (lease %s/%s)", self.settings.namespace, self.settings.name)
            self.is_leader.clear()
        return leading

    def run(self, stop: threading.Event) -> None:
        """Keep trying / renewing until ``stop``; then release by letting the Lease expire."""
        while not stop.is_set():
            self.try_acquire()
            stop.wait(self.settings.renew_seconds)
        self.is_leader.clear()
