"""Lease-based leader election against the real API server: two replicas never both lead."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from kubernetes import client as k8s

from k8sta_daemon.adapters.leader import LeaderElector, LeaseSettings

pytestmark = pytest.mark.stack


def test_only_one_replica_leads_until_the_lease_expires(kube_api: k8s.ApiClient) -> None:
    name = f"k8sta-test-{secrets.token_hex(3)}"
    first = LeaderElector(kube_api, LeaseSettings(namespace="default", name=name, identity="a", lease_seconds=5))
    second = LeaderElector(kube_api, LeaseSettings(namespace="default", name=name, identity="b", lease_seconds=5))
    now = dt.datetime.now(dt.UTC)
    assert first.try_acquire(now) is True
    assert second.try_acquire(now + dt.timedelta(seconds=1)) is False
    assert first.try_acquire(now + dt.timedelta(seconds=2)) is True  # renewal keeps it
    assert second.try_acquire(now + dt.timedelta(seconds=4)) is False
    # The holder stops renewing: once the Lease is older than its duration, the other one takes over.
    assert second.try_acquire(now + dt.timedelta(seconds=8)) is True
    assert first.try_acquire(now + dt.timedelta(seconds=9)) is False
    assert (first.is_leader.is_set(), second.is_leader.is_set()) == (False, True)
    lease = k8s.CoordinationV1Api(kube_api).read_namespaced_lease(name, "default")
    assert lease.spec.holder_identity == "b" and lease.spec.lease_transitions == 1


def test_a_stale_write_loses_the_race(kube_api: k8s.ApiClient) -> None:
    """Both candidates see the expired Lease; only the first replace wins (resourceVersion check)."""
    name = f"k8sta-test-{secrets.token_hex(3)}"
    api = k8s.CoordinationV1Api(kube_api)
    holder = LeaderElector(kube_api, LeaseSettings(namespace="default", name=name, identity="old", lease_seconds=1))
    start = dt.datetime.now(dt.UTC)
    assert holder.try_acquire(start)
    stale = api.read_namespaced_lease(name, "default")
    winner = LeaderElector(kube_api, LeaseSettings(namespace="default", name=name, identity="w", lease_seconds=1))
    assert winner.try_acquire(start + dt.timedelta(seconds=5))
    stale.spec.holder_identity = "loser"
    with pytest.raises(k8s.ApiException) as conflict:
        api.replace_namespaced_lease(name, "default", stale)
    assert conflict.value.status == 409
