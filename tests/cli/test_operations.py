"""Ticket creation under concurrency on the real API server: racing creators never lose a ticket or a pin."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from kubernetes import client as k8s_client

from k8sta_daemon.core import model
from k8sta_daemon.ops import errors, operations
from k8sta_daemon.ops.store import Store

from .cluster import Cluster

pytestmark = pytest.mark.stack


def test_racing_creators_get_distinct_names_and_complete_snapshots(cluster: Cluster,
                                                                   kube_api: k8s_client.ApiClient) -> None:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", model.Snapshot("a" * 40, (model.ImagePin("acme/base", "1"),)))
    store = Store(kube_api)

    def create(index: int) -> operations.Created:
        return operations.create_ticket(store, cluster.namespace, "api",
                                        images=[model.ImagePin(f"acme/svc{index}", "1")], actor="t", via="test")

    with ThreadPoolExecutor(4) as pool:
        created = list(pool.map(create, range(4)))

    assert sorted(c.name for c in created) == ["api-2", "api-3", "api-4", "api-5"]
    for result in created:
        names = [pin.name for pin in result.snapshot.images]
        assert names[0] == "acme/base"  # every ticket inherits the pins it did not change
        assert result.snapshot.config_commit == "a" * 40
    # Names are the optimistic lock: whoever lost a name recomputed from the ticket that took it, so
    # the last ticket carries every image any of them brought.
    newest = max(store.tickets(cluster.namespace, "api"), key=lambda t: t.order_key)
    assert newest.name == "api-5"
    assert sorted(pin.name for pin in newest.snapshot.images) == ["acme/base"] + [f"acme/svc{i}" for i in range(4)]


def test_concurrent_operator_requests_on_one_ticket_all_land(cluster: Cluster, kube_api: k8s_client.ApiClient) -> None:
    """Twelve approvals of twelve Stations and an abandon, all at once on one ticket: each is a
    compare-and-swap on the resourceVersion with re-read on conflict, so none overwrites another."""
    stations = [f"s{i}" for i in range(12)]
    cluster.track("api", stations, approval=stations)
    cluster.ticket("api-1", "api", model.Snapshot("a" * 40))
    stores = [Store(kube_api) for _ in range(len(stations) + 1)]
    start = threading.Barrier(len(stores))

    def request(index: int) -> operations.Requested:
        start.wait()
        if index == len(stations):
            return operations.abandon(stores[index], cluster.namespace, "api-1", actor="t", via="test")
        return operations.approve(stores[index], cluster.namespace, "api-1", stations[index], actor="t", via="test")

    with ThreadPoolExecutor(len(stores)) as pool:
        results = list(pool.map(request, range(len(stores))))

    assert all(r.changed for r in results)
    spec = cluster.get("Ticket", "api-1")["spec"]
    assert sorted(spec["approvedStations"]) == sorted(stations)
    assert spec["abandon"] is True
    reasons = [e.reason for e in cluster.events("api-1")]
    assert reasons.count("Approved") == len(stations) and reasons.count("AbandonRequested") == 1


def test_a_request_already_made_is_not_made_twice(cluster: Cluster, kube_api: k8s_client.ApiClient) -> None:
    cluster.track("api", ["dev"], approval=["dev"])
    cluster.ticket("api-1", "api", model.Snapshot("a" * 40))
    store = Store(kube_api)
    first = operations.approve(store, cluster.namespace, "api-1", "dev", actor="t", via="test")
    again = operations.approve(store, cluster.namespace, "api-1", "dev", actor="t", via="test")
    assert (first.changed, again.changed) == (True, False)
    with pytest.raises(errors.NotFound, match="station prod is not on track api"):
        operations.approve(store, cluster.namespace, "api-1", "prod", actor="t", via="test")
