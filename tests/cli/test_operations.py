"""Ticket creation under concurrency on the real API server: racing creators never lose a ticket or a pin."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from kubernetes import client as k8s_client

from k8sta_daemon.core import model
from k8sta_daemon.ops import operations
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
