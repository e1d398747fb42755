"""``k8sta hold`` / ``resume``, ``rollback`` holding the Track, ``ticket create --drop-image`` on the stack."""

from __future__ import annotations

import json

import pytest

from k8sta_daemon.core import model

from .cluster import Cluster
from .conftest import Runner

pytestmark = pytest.mark.stack

CONFIG = "a" * 40
API = model.ImagePin("registry.example/shop/api", "1.0.0")
WEB = model.ImagePin("registry.example/shop/web", "2.0.0")


def test_hold_and_resume_show_in_the_track_and_its_picture(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("shop", ["dev"])
    held = k8sta("hold", "shop", "--reason", "freeze for the launch")
    assert held.code == 0 and "held (freeze for the launch)" in held.out
    assert cluster.get("Track", "shop")["spec"]["hold"]["reason"] == "freeze for the launch"
    picture = k8sta("tracks")
    assert "held (freeze for the launch): boarding paused, k8sta resume shop" in picture.out
    assert json.loads(k8sta("tracks", "-o", "json").out)["items"][0]["hold"] == "freeze for the launch"
    resumed = k8sta("resume", "shop")
    assert resumed.code == 0 and "hold" not in cluster.get("Track", "shop")["spec"]
    assert "held" not in k8sta("tracks").out
    missing = k8sta("hold", "nope")
    assert missing.code != 0 and "track nope not found" in missing.err


def test_rollback_holds_the_track(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("shop", ["dev"])
    cluster.ticket("shop-1", "shop", model.Snapshot(CONFIG, (API,)))
    cluster.ticket("shop-2", "shop", model.Snapshot(CONFIG, (API, WEB)))
    done = k8sta("rollback", "--track", "shop", "--to", "shop-1")
    assert done.code == 0, done.err
    assert cluster.get("Track", "shop")["spec"]["hold"]["reason"] == "rollback to shop-1 (ticket shop-3)"


def test_rollback_names_its_ticket_in_the_hold_and_is_idempotent(cluster: Cluster, k8sta: Runner) -> None:
    """The hold names the one ticket that may board (the CRD keeps the field); the same rollback again
    creates nothing; a manual ticket on the held Track is refused, naming the hold, unless insisted on."""
    cluster.track("shop", ["dev"])
    cluster.ticket("shop-1", "shop", model.Snapshot(CONFIG, (API,)))
    cluster.ticket("shop-2", "shop", model.Snapshot(CONFIG, (API, WEB)))
    done = k8sta("rollback", "--track", "shop", "--to", "shop-1")
    assert done.code == 0, done.err
    assert "track shop held (rollback to shop-1 (ticket shop-3)): nothing else boards it" in done.out
    hold = cluster.get("Track", "shop")["spec"]["hold"]
    assert hold["ticket"] == "shop-3" and hold["reason"] == "rollback to shop-1 (ticket shop-3)"
    again = k8sta("rollback", "--track", "shop", "--to", "shop-1")
    assert again.code == 0 and "ticket shop-3 already rolls track shop back to shop-1" in again.out
    assert sorted(t["metadata"]["name"] for t in cluster.tickets()) == ["shop-1", "shop-2", "shop-3"]

    refused = k8sta("ticket", "create", "--track", "shop", "--image", "registry.example/shop/api:4.0.0")
    assert refused.code != 0
    assert "track shop is held (rollback to shop-1 (ticket shop-3)): nothing boards it but ticket shop-3" \
        in refused.err and "--despite-hold" in refused.err
    assert len(cluster.tickets()) == 3
    insisted = k8sta("ticket", "create", "--track", "shop", "--image", "registry.example/shop/api:4.0.0",
                     "--despite-hold")
    assert insisted.code == 0, insisted.err
    assert "ticket shop-4 created" in insisted.out and "it waits at boarding until k8sta resume shop" in insisted.out
    k8sta("hold", "shop", "--reason", "incident 42")  # a plain hold keeps the rollback's ticket allowed
    now = cluster.get("Track", "shop")["spec"]["hold"]
    assert now == {**hold, "reason": "incident 42", "since": now["since"]}


def test_drop_image_removes_an_inherited_pin(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("shop", ["dev"])
    cluster.ticket("shop-1", "shop", model.Snapshot(CONFIG, (API, WEB)))
    done = k8sta("ticket", "create", "--track", "shop", "--drop-image", WEB.name)
    assert done.code == 0, done.err
    images = cluster.get("Ticket", "shop-2")["spec"]["snapshot"]["images"]
    assert [i["name"] for i in images] == [API.name]
    bad = k8sta("ticket", "create", "--track", "shop", "--drop-image", "registry.example/shop/nope")
    assert bad.code != 0 and "not pinned by the track's newest ticket" in bad.err
    assert {t["metadata"]["name"] for t in cluster.tickets()} == {"shop-1", "shop-2"}


def test_manual_ticket_defaults_to_the_newest_main_commit_a_config_subscription_saw(cluster: Cluster,
                                                                                     k8sta: Runner) -> None:
    cluster.track("shop", ["dev"])
    refused = k8sta("ticket", "create", "--track", "shop", "--image", "registry.example/shop/api:1.0.0")
    assert refused.code != 0 and "no ticket yet to inherit a config commit" in refused.err
    body = {"apiVersion": "k8sta.io/v1alpha1", "kind": "Subscription",
            "metadata": {"name": "config", "namespace": cluster.namespace},
            "spec": {"tracks": ["shop"], "config": {"repoURL": "https://git.example/shop.git"}}}
    obj = cluster.custom.create_namespaced_custom_object("k8sta.io", "v1alpha1", cluster.namespace, "subscriptions",
                                                         body)
    obj["status"] = {"found": {"commit": "b" * 40, "reference": "main@bbbbbbbbbbbb"}}
    cluster.custom.replace_namespaced_custom_object_status("k8sta.io", "v1alpha1", cluster.namespace,
                                                           "subscriptions", "config", obj)
    done = k8sta("ticket", "create", "--track", "shop", "--image", "registry.example/shop/api:1.0.0")
    assert done.code == 0, done.err
    assert cluster.get("Ticket", "shop-1")["spec"]["snapshot"]["configCommit"] == "b" * 40
