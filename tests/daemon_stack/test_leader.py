"""Lease-based leader election against the real API server: two replicas never both lead."""

from __future__ import annotations

import datetime as dt
import secrets
import time

import pytest
from kubernetes import client as k8s

from k8sta_daemon.adapters.leader import CLAIM_NAME, Holder, LeaderElector, LeaseSettings, NamespaceClaims

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


def test_a_holder_that_was_not_renewed_in_time_fences_itself_before_anyone_can_take_over(
        kube_api: k8s.ApiClient) -> None:
    """By its own clock, with a margin: a replica paused past (duration - margin) must not act, although
    the API server still names it the holder and nobody else could have taken the Lease yet."""
    name = f"k8sta-test-{secrets.token_hex(3)}"
    settings = LeaseSettings(namespace="default", name=name, identity="a", lease_seconds=3)
    holder = LeaderElector(kube_api, settings)
    assert holder.fence() == f"lease default/{name} is not held"
    assert holder.try_acquire() is True
    assert holder.fence() is None
    time.sleep(settings.lease_seconds - settings.margin_seconds + 0.2)  # "paused": no renewal meanwhile
    refused = holder.fence()
    assert refused is not None and "another replica may hold it" in refused
    assert holder.is_leader.is_set()  # the election thread has not noticed: only the fence protects
    lease = k8s.CoordinationV1Api(kube_api).read_namespaced_lease(name, "default")
    assert lease.spec.holder_identity == "a"
    assert holder.try_acquire() is True and holder.fence() is None  # renewed: may act again


def test_a_second_controller_whose_scope_overlaps_yields_the_namespace(kube_api: k8s.ApiClient) -> None:
    namespace = f"claims-{secrets.token_hex(3)}"
    k8s.CoreV1Api(kube_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    yielded: list[tuple[str, Holder]] = []
    scoped = NamespaceClaims(kube_api, "scoped-1", f"namespace {namespace}", lease_seconds=5)
    wide = NamespaceClaims(kube_api, "wide-1", "all namespaces", lease_seconds=5,
                           on_yield=lambda ns, holder: yielded.append((ns, holder)))
    scoped.renew([namespace])
    wide.renew([namespace, "default"])
    assert scoped.held() == {namespace}
    assert wide.held() == {"default"}
    assert yielded == [(namespace, Holder("scoped-1", f"namespace {namespace}"))]
    # what the intake asks before polling a Subscription there: someone else reads it
    assert (wide.yielded_to(namespace), wide.yielded_to("default"), scoped.yielded_to(namespace)) == (
        "scoped-1", None, None)
    refused = wide.fence(namespace)
    assert refused is not None and "held by controller scoped-1" in refused
    wide.renew([namespace, "default"])
    assert len(yielded) == 1  # said once, not on every renewal
    scoped.release_all()  # a clean stop gives the claim up at once
    wide.renew([namespace, "default"])
    assert wide.held() == {namespace, "default"} and wide.fence(namespace) is None
    assert wide.yielded_to(namespace) is None
    scoped.renew([namespace])
    assert scoped.held() == set() and scoped.yielded_to(namespace) == "wide-1"
    wide.release_all()
    lease = k8s.CoordinationV1Api(kube_api).read_namespaced_lease(CLAIM_NAME, namespace)
    assert lease.spec.holder_identity == ""
