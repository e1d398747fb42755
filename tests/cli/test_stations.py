"""``k8sta stations`` (and the versions under ``k8sta tracks``) against the real API server: Station
statuses written through the status subresource exactly as the controller's unit writes them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from k8sta_daemon.core import model, station_status
from k8sta_daemon.core.station_status import AppVersion, Source, StationStatus

from .cluster import GROUP, VERSION, Cluster
from .conftest import Runner

pytestmark = pytest.mark.stack

CONFIG = "c0ffee12" * 5
DIGEST = "sha256:" + "ab" * 32
SNAPSHOT = model.Snapshot(CONFIG, (model.ImagePin("registry.local/acme/api", "1.4.2", DIGEST),))
T0 = 1_796_000_000.0


def written(cluster: Cluster, name: str, status: StationStatus) -> dict[str, Any]:
    obj = cluster.get("Station", name)
    return dict(cluster.custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, cluster.namespace, "stations", name, {**obj, "status": station_status.to_dict(status)}))


def app(name: str, commit: str, health: model.HealthStatus = model.HealthStatus.HEALTHY) -> AppVersion:
    return AppVersion(model.AppRef("argocd", name), f"env/{name}", commit, model.SyncStatus.SYNCED, health)


@pytest.fixture
def line(cluster: Cluster) -> Cluster:
    """Track api: dev runs api-7 (arrived), staging what its app branches record, prod nothing known."""
    cluster.track("api", ["dev", "staging", "prod"])
    written(cluster, "dev", StationStatus(Source.TICKET, SNAPSHOT, ticket="api-7", track="api", arrived_at=T0,
                                          applications=(app("api-dev", "1" * 40),)))
    degraded = app("api-staging", "2" * 40, model.HealthStatus.DEGRADED)
    written(cluster, "staging", StationStatus(Source.APP_BRANCH, SNAPSHOT, ticket="api-3", applications=(degraded,)))
    return cluster


def test_stations_prints_version_ticket_arrival_and_each_application(line: Cluster, k8sta: Runner) -> None:
    result = k8sta("stations")
    assert result.code == 0, result.err
    assert result.out.split("\n\n") == [
        "\n".join([
            "dev  c0ffee1 api:1.4.2",
            "  ticket   api-7 (track api), arrived 2026-11-30T00:53:20Z",
            f"  config   {CONFIG}",
            f"  image    registry.local/acme/api:1.4.2@{DIGEST}",
            "  app      argocd/api-dev  env/api-dev@111111111111  Synced Healthy"]),
        "prod  nothing known yet (no ticket arrived, no app branch read)",
        "\n".join([
            "staging  c0ffee1 api:1.4.2",
            "  read from the app branches (last written by ticket api-3)",
            f"  config   {CONFIG}",
            f"  image    registry.local/acme/api:1.4.2@{DIGEST}",
            "  app      argocd/api-staging  env/api-staging@222222222222  Synced Degraded"]) + "\n",
    ]


def test_stations_as_json_and_only_the_ones_named(line: Cluster, k8sta: Runner) -> None:
    result = k8sta("stations", "dev", "-o", "json")
    assert result.code == 0, result.err
    (item,) = json.loads(result.out)["items"]
    assert item["name"] == "dev" and item["runs"] == {
        "version": "c0ffee1 api:1.4.2", "source": "Ticket", "ticket": "api-7", "track": "api",
        "arrivedAt": "2026-11-30T00:53:20Z",
        "snapshot": {"configCommit": CONFIG, "images": [{"name": "registry.local/acme/api", "tag": "1.4.2",
                                                         "digest": DIGEST}]},
        "applications": [{"application": "argocd/api-dev", "branch": "env/api-dev", "commit": "1" * 40,
                          "sync": "Synced", "health": "Healthy"}]}


def test_an_unknown_station_is_a_clear_error(line: Cluster, k8sta: Runner) -> None:
    result = k8sta("stations", "dev", "qa")
    assert result.code == 1 and result.out == ""
    assert result.err == f"k8sta: error: station qa not found in namespace {line.namespace}\n"


def test_tracks_shows_the_version_under_each_station_at_rest(line: Cluster, k8sta: Runner) -> None:
    result = k8sta("tracks")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[3].split() == ["runs", "c0ffee1", "api:1.4.2", "runs", "c0ffee1", "api:1.4.2"]
    assert lines[4].split() == ["from", "api-7", "from", "api-3"]
