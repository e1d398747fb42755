"""``k8sta freeze`` / ``unfreeze`` and ``k8sta ticket pass-window`` on the real API server: what they write,
what ``kubectl get tracks`` (the server's own Table, printer columns) and ``k8sta tracks`` show, the Events,
and that tickets are still created while frozen (intake's and the CLI's path, ``ops.operations.create_ticket``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client as k8s_client

from k8sta_daemon.core import codec, model
from k8sta_daemon.ops.store import actor

from .cluster import Cluster
from .conftest import Runner

pytestmark = pytest.mark.stack

CONFIG = "a" * 40
API = model.ImagePin("registry.example/shop/api", "1.0.0")


def kubectl_get_tracks(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """``kubectl get tracks``: the API server's Table (its printer columns), by Track name."""
    url = f"{cluster.api.configuration.host}/apis/k8sta.io/v1alpha1/namespaces/{cluster.namespace}/tracks"
    answer = cluster.api.call_api("GET", url, header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    answer.read()
    table = json.loads(answer.data)
    names = [c["name"] for c in table["columnDefinitions"]]
    return {row["cells"][0]: dict(zip(names, row["cells"], strict=True)) for row in table["rows"]}


def test_freeze_stops_every_track_and_unfreeze_lifts_it(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("shop", ["dev"])
    cluster.track("web", ["web-dev"])
    frozen = k8sta("freeze", "--reason", "incident 7")
    assert frozen.code == 0, frozen.err
    assert f"namespace {cluster.namespace} frozen (incident 7): no ticket enters a station on tracks shop, web" \
        in frozen.out
    for name in ("shop", "web"):
        annotations = cluster.get("Track", name)["metadata"]["annotations"]
        assert annotations[codec.FREEZE_ANNOTATION] == "incident 7"
        assert annotations[codec.FROZEN_BY_ANNOTATION].startswith(f"{actor()} at ")
        assert kubectl_get_tracks(cluster)[name]["Frozen"] == "incident 7"
        assert [e.reason for e in cluster.events(name) if e.involved_object.kind == "Track"] == ["Frozen"]
    picture = k8sta("tracks")
    assert "namespace frozen (incident 7" in picture.out and "k8sta unfreeze" in picture.out
    assert json.loads(k8sta("tracks", "-o", "json").out)["items"][0]["frozen"].startswith("incident 7 (by ")

    created = k8sta("ticket", "create", "--track", "shop", "--image", f"{API.name}:{API.tag}", "--config", CONFIG)
    assert created.code == 0, created.err  # nothing refuses a ticket while frozen: it waits, nothing is lost
    assert [t["metadata"]["name"] for t in cluster.tickets()] == ["shop-1"]

    thawed = k8sta("unfreeze")
    assert thawed.code == 0 and f"namespace {cluster.namespace} unfrozen: tracks shop, web move again" in thawed.out
    for name in ("shop", "web"):
        assert codec.FREEZE_ANNOTATION not in (cluster.get("Track", name)["metadata"].get("annotations") or {})
        assert kubectl_get_tracks(cluster)[name]["Frozen"] in ("", None)
        # one Event each (the API lists Events by name, not by time: compare without order)
        assert sorted(e.reason for e in cluster.events(name) if e.involved_object.kind == "Track") == \
            ["Frozen", "Unfrozen"]
    assert "frozen" not in k8sta("tracks").out


def test_freeze_without_tracks_says_so(cluster: Cluster, k8sta: Runner) -> None:
    done = k8sta("freeze")
    assert done.code != 0 and f"no Tracks in namespace {cluster.namespace}: nothing to freeze" in done.err


def test_pass_window_records_the_reason_on_the_ticket(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("shop", ["dev"])
    cluster.ticket("shop-1", "shop", model.Snapshot(CONFIG, (API,)))
    done = k8sta("ticket", "pass-window", "shop-1", "--reason", "hotfix INC-9")
    assert done.code == 0, done.err
    assert "ticket shop-1 may now pass freeze windows (hotfix INC-9)" in done.out
    granted = cluster.get("Ticket", "shop-1")["spec"]["windowPass"]
    assert granted["reason"] == "hotfix INC-9" and granted["by"] == actor()
    events = [e for e in cluster.events("shop-1") if e.reason == "WindowPass"]
    assert len(events) == 1 and events[0].message.endswith("lets this ticket through freeze windows: hotfix INC-9")
    again = k8sta("ticket", "pass-window", "shop-1", "--reason", "hotfix INC-9")
    assert again.code == 0 and "already had that pass" in again.out
    blank = k8sta("ticket", "pass-window", "shop-1", "--reason", " ")
    assert blank.code != 0 and "a window pass needs a reason" in blank.err
    missing = k8sta("ticket", "pass-window", "nope", "--reason", "x")
    assert missing.code != 0 and "ticket nope not found" in missing.err


def test_bad_windows_are_refused_by_the_api_server(cluster: Cluster) -> None:
    """The CRD's own checks (CEL and patterns): the codec's field errors are for what slips through."""
    bad = [{"kind": "Deny", "from": "2026-12-27T00:00:00Z", "to": "2026-12-24T00:00:00Z"},
           {"kind": "Deny", "schedule": "0 22 * * 5"},
           {"kind": "Deny", "schedule": "0 22 * *", "duration": "1h"},
           {"kind": "Deny", "schedule": "0 22 * * 5", "duration": "1h", "from": "2026-12-24T00:00:00Z",
            "to": "2026-12-27T00:00:00Z"}]
    for index, window in enumerate(bad):
        with pytest.raises(k8s_client.ApiException) as refused:
            cluster._create("Station", f"bad-{index}", {"applications": [{"name": "a"}], "windows": [window]})
        assert refused.value.status == 422, window
    cluster._create("Station", "good", {"applications": [{"name": "a"}], "windows": [
        {"kind": "Deny", "schedule": "0 22 * * 5", "duration": "60h", "timeZone": "Europe/Berlin"},
        {"kind": "Allow", "from": "2026-12-01T00:00:00Z", "to": "2026-12-20T00:00:00Z", "reason": "december"}]})
    assert len(cluster.get("Station", "good")["spec"]["windows"]) == 2
