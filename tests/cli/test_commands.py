"""Every ``k8sta`` command against the real API server: what it prints, what it writes, what it records."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
import yaml

from k8sta_daemon.cli.commands import tracks
from k8sta_daemon.cli.context import Context
from k8sta_daemon.core import model
from k8sta_daemon.ops.store import Store
from k8sta_devstack import kube
from k8sta_devstack.stack import Stack

from .cluster import Cluster
from .conftest import Runner

pytestmark = pytest.mark.stack

TS = model.TicketState
Pin = model.ImagePin
C1, C2 = "c0ffee12" * 5, "deadbeef" * 5
OLD = model.Snapshot(C1, (Pin("acme/api", "1.0"), Pin("acme/web", "1.0")))
NEW = model.Snapshot(C1, (Pin("acme/api", "1.1"), Pin("acme/web", "1.0")))
T0 = 1764150000.0


def at(station: str, state: model.TicketState, *records: model.JourneyRecord) -> model.TicketStatus:
    journey = records or (model.JourneyRecord(station, model.JourneyState.ENTERED, entered_at=T0),)
    return model.TicketStatus(state=state, station=station, journey=journey)


def failed_at(station: str) -> model.TicketStatus:
    return model.TicketStatus(state=TS.FAILED, journey=(
        model.JourneyRecord(station, model.JourneyState.FAILED, entered_at=T0, message="Degraded past grace"),),
        message="Degraded past grace")


def reasons(cluster: Cluster, name: str) -> list[str]:
    return [e.reason for e in cluster.events(name)]


# -- tracks ---------------------------------------------------------------------------------------


def test_tracks_draws_each_line_with_its_tickets(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev", "staging", "prod"])
    cluster.track("web", ["web-dev"])
    cluster.ticket("api-1", "api", OLD, status=at("staging", TS.SOAKING))
    cluster.ticket("api-2", "api", NEW, status=at("dev", TS.DEPLOYING))
    cluster.ticket("api-3", "api", NEW)

    result = k8sta("tracks")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("api · boarding ")
    assert lines[1].split() == ["boarding", "dev", "staging", "prod"]
    assert "api-3" in lines[3] and "api-2" in lines[3] and "api-1" in lines[3]
    assert lines[3].index("api-2") == lines[1].index("dev")
    assert lines[3].index("api-1") == lines[1].index("staging")
    assert lines[4].split() == ["Waiting", "Deploying", "Soaking"]
    assert any(line.startswith("web · ") for line in lines)
    assert "\x1b[" not in result.out


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_tracks_for_scripts(cluster: Cluster, k8sta: Runner, fmt: str) -> None:
    cluster.track("api", ["dev", "prod"], approval=["prod"])
    cluster.ticket("api-1", "api", OLD, status=at("dev", TS.AWAITING_APPROVAL))

    result = k8sta("tracks", "-o", fmt)

    assert result.code == 0, result.err
    data = json.loads(result.out) if fmt == "json" else yaml.safe_load(result.out)
    (view,) = data["items"]
    assert view["namespace"] == cluster.namespace
    assert view["name"] == "api"
    assert [s["name"] for s in view["stations"]] == ["dev", "prod"]
    assert view["stations"][0]["tickets"] == [{"name": "api-1", "state": "AwaitingApproval"}]
    assert view["stations"][1]["approvalRequired"] is True
    assert view["stations"][0]["applications"] == ["argocd/api-dev"]


def test_tracks_watch_redraws_until_told_to_stop(cluster: Cluster, stack: Stack) -> None:
    cluster.track("api", ["dev"])
    out, sleeps = io.StringIO(), []
    ctx = Context(namespace=cluster.namespace, output="human", stdout=out, colour=False, actor="tester",
                  store_factory=lambda: Store(kube.api_client(stack.kubeconfig)), sleep=sleeps.append)
    assert tracks.run(ctx, names=[], all_namespaces=False, watch=5.0, rounds=3) == 0
    assert sleeps == [5.0, 5.0]
    assert out.getvalue().count("api · boarding") == 3
    coloured = dataclasses.replace(ctx, colour=True, stdout=io.StringIO())
    tracks.run(coloured, names=[], all_namespaces=False, watch=1.0, rounds=2)
    assert coloured.stdout.getvalue().count(tracks.CLEAR) == 2


def test_tracks_by_name_and_unknown_names(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev"])
    assert k8sta("tracks", "api").code == 0
    result = k8sta("tracks", "nope")
    assert result.code == 1
    assert result.err == f"k8sta: error: track nope not found in namespace {cluster.namespace}\n"


def test_tracks_in_an_empty_namespace(cluster: Cluster, k8sta: Runner) -> None:
    result = k8sta("tracks")
    assert result.code == 0
    assert result.out == f"no tracks found in namespace {cluster.namespace}\n"


# -- ticket show ----------------------------------------------------------------------------------


def test_ticket_show_tells_the_journey(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev", "prod"])
    pushed = model.PushedCommit(model.AppRef("argocd", "api-dev"), "file:///config.git", "env/dev", "ab12" * 10)
    status = at("prod", TS.DEPLOYING,
                model.JourneyRecord("dev", model.JourneyState.DEPARTED, entered_at=T0, arrived_at=T0 + 30,
                                    departed_at=T0 + 60, pushed=(pushed,),
                                    skipped_applications=(model.AppRef("argocd", "api-dev-eu"),)),
                model.JourneyRecord("prod", model.JourneyState.ENTERED, entered_at=T0 + 60))
    status = model.TicketStatus(state=status.state, station="prod", journey=status.journey, children=("api-1-eu",))
    cluster.ticket("api-1", "api", OLD, status=status)

    result = k8sta("ticket", "show", "api-1")

    assert result.code == 0, result.err
    assert f"Ticket:     {cluster.namespace}/api-1" in result.out
    assert "State:      Deploying at prod" in result.out
    assert "Images:     acme/api:1.0" in result.out
    assert "Children:   api-1-eu" in result.out
    assert "entered 2025-11-26 09:40:00Z, arrived 2025-11-26 09:40:30Z, departed 2025-11-26 09:41:00Z" in result.out
    assert "pushed argocd/api-dev: env/dev @ ab12ab12ab12 (file:///config.git)" in result.out
    assert "skipped argocd/api-dev-eu" in result.out

    data = json.loads(k8sta("ticket", "show", "api-1", "-o", "json").out)
    assert data["journey"][0]["pushed"] == [{"application": "argocd/api-dev", "repoURL": "file:///config.git",
                                             "branch": "env/dev", "commit": "ab12" * 10}]
    assert data["journey"][0]["arrivedAt"] == "2025-11-26T09:40:30Z"
    assert data["children"] == ["api-1-eu"]
    assert data["snapshot"] == {"configCommit": C1, "images": [{"name": "acme/api", "tag": "1.0", "digest": None},
                                                               {"name": "acme/web", "tag": "1.0", "digest": None}]}


def test_ticket_show_unknown_name(cluster: Cluster, k8sta: Runner) -> None:
    result = k8sta("ticket", "show", "api-9")
    assert result.code == 1
    assert result.err == f"k8sta: error: ticket api-9 not found in namespace {cluster.namespace}\n"


# -- ticket create and rollback ------------------------------------------------------------------


def test_create_with_an_image_inherits_the_other_pins(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", OLD, status=at("dev", TS.DEPLOYING))
    digest = "sha256:" + "e" * 64

    result = k8sta("ticket", "create", "--track", "api", "--image", f"acme/api:1.1@{digest}")

    assert result.code == 0, result.err
    assert result.out.startswith(f"ticket api-2 created on track api (namespace {cluster.namespace})\n")
    created = cluster.get("Ticket", "api-2")
    assert created["spec"]["track"] == "api"
    assert created["spec"]["snapshot"] == {"configCommit": C1, "images": [
        {"name": "acme/api", "tag": "1.1", "digest": digest}, {"name": "acme/web", "tag": "1.0"}]}
    assert created["metadata"]["labels"]["k8sta.io/track"] == "api"
    assert created["metadata"]["annotations"]["k8sta.io/created-by"].endswith("via k8sta CLI")
    (event,) = cluster.events("api-2")
    assert event.reason == "Created"
    assert event.involved_object.uid == created["metadata"]["uid"]
    assert f"acme/api:1.1@{digest}" in event.message


def test_create_with_a_config_commit_on_an_empty_track(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev"])
    result = k8sta("ticket", "create", "--track", "api", "--config", C2, "-o", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"namespace": cluster.namespace, "name": "api-1", "track": "api",
                                      "snapshot": {"configCommit": C2, "images": []}}
    assert cluster.get("Ticket", "api-1")["spec"]["snapshot"] == {"configCommit": C2, "images": []}


def test_the_first_ticket_of_a_track_needs_a_config_commit(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev"])
    refused = k8sta("ticket", "create", "--track", "api", "--image", "acme/api:1")
    assert refused.code == 1
    assert refused.err.startswith("k8sta: error: track api has no ticket yet to inherit a config commit from")
    assert cluster.tickets() == []

    both = k8sta("ticket", "create", "--track", "api", "--image", "acme/api:1", "--config", C2)
    assert both.code == 0, both.err
    assert cluster.get("Ticket", "api-1")["spec"]["snapshot"] == {"configCommit": C2, "images": [
        {"name": "acme/api", "tag": "1"}]}


def test_create_skips_abandoned_snapshots_and_numbers_on(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", OLD, status=at("dev", TS.DEPLOYING))
    cluster.ticket("api-2", "api", model.Snapshot(C1, (Pin("acme/bad", "6.6"),)),
                   status=model.TicketStatus(state=TS.ABANDONED))
    assert k8sta("ticket", "create", "--track", "api", "--config", C2).code == 0
    assert cluster.get("Ticket", "api-3")["spec"]["snapshot"] == {"configCommit": C2, "images": [
        {"name": "acme/api", "tag": "1.0"}, {"name": "acme/web", "tag": "1.0"}]}


def test_create_on_an_unknown_track(cluster: Cluster, k8sta: Runner) -> None:
    result = k8sta("ticket", "create", "--track", "nope", "--image", "acme/api:1")
    assert result.code == 1
    assert result.err == f"k8sta: error: track nope not found in namespace {cluster.namespace}\n"
    assert cluster.tickets() == []


def test_rollback_rides_an_older_snapshot_forward(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", OLD, status=model.TicketStatus(state=TS.COMPLETED))
    cluster.ticket("api-2", "api", NEW, status=failed_at("dev"))

    result = k8sta("rollback", "--track", "api", "--to", "api-1")

    assert result.code == 0, result.err
    assert result.out.startswith("ticket api-3 created on track api")
    created = cluster.get("Ticket", "api-3")
    assert created["spec"]["snapshot"] == {"configCommit": C1, "images": [
        {"name": "acme/api", "tag": "1.0"}, {"name": "acme/web", "tag": "1.0"}]}
    assert created["metadata"]["annotations"]["k8sta.io/rollback-of"] == "api-1"
    assert reasons(cluster, "api-3") == ["RolledBack"]
    assert reasons(cluster, "api-1") == ["RollbackTarget"]


@pytest.mark.parametrize(("argv", "message"), [
    (["rollback", "--track", "api", "--to", "api-7"], "ticket api-7 not found in namespace {ns}"),
    (["rollback", "--track", "nope", "--to", "api-1"], "track nope not found in namespace {ns}"),
], ids=["unknown-ticket", "unknown-track"])
def test_rollback_unknown_names(cluster: Cluster, k8sta: Runner, argv: list[str], message: str) -> None:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", OLD)
    result = k8sta(*argv)
    assert result.code == 1
    assert result.err == "k8sta: error: " + message.format(ns=cluster.namespace) + "\n"


# -- approve, retry, abandon ---------------------------------------------------------------------


def test_approve_records_the_station_in_spec_and_an_event(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev", "prod"], approval=["prod"])
    cluster.ticket("api-1", "api", OLD, status=at("dev", TS.AWAITING_APPROVAL))

    result = k8sta("approve", "api-1", "prod")

    assert result.code == 0, result.err
    assert result.out == "ticket api-1: station prod approved\n"
    assert cluster.get("Ticket", "api-1")["spec"]["approvedStations"] == ["prod"]
    assert reasons(cluster, "api-1") == ["Approved"]

    again = k8sta("approve", "api-1", "prod", "-o", "json")
    assert again.code == 0
    assert json.loads(again.out)["changed"] is False
    assert reasons(cluster, "api-1") == ["Approved"]

    shown = k8sta("ticket", "show", "api-1")
    assert "Approved:   prod" in shown.out
    events = shown.out.split("\nEvents:\n")[1].splitlines()
    assert len(events) == 1 and "Normal   Approved  station prod approved by " in events[0]
    (event,) = json.loads(k8sta("ticket", "show", "api-1", "-o", "json").out)["events"]
    assert (event["type"], event["reason"]) == ("Normal", "Approved")


def test_approve_a_station_without_a_gate_says_so(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev", "prod"])
    cluster.ticket("api-1", "api", OLD)
    result = k8sta("approve", "api-1", "dev")
    assert result.code == 0
    assert result.out == "ticket api-1: station dev approved (station dev does not require approval)\n"


@pytest.mark.parametrize(("status", "station", "message"), [
    (None, "qa", "station qa is not on track api (stations: dev, prod)"),
    (model.TicketStatus(state=TS.COMPLETED), "prod", "ticket api-1 is Completed; there is nothing left to approve"),
], ids=["station-off-track", "completed-ticket"])
def test_approve_refusals(cluster: Cluster, k8sta: Runner, status: model.TicketStatus | None, station: str,
                          message: str) -> None:
    cluster.track("api", ["dev", "prod"])
    cluster.ticket("api-1", "api", OLD, status=status)
    result = k8sta("approve", "api-1", station)
    assert result.code == 1
    assert result.err == f"k8sta: error: {message}\n"
    assert "approvedStations" not in cluster.get("Ticket", "api-1")["spec"]


def test_retry_bumps_the_counter_of_a_failed_ticket(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", OLD, status=failed_at("dev"))

    result = k8sta("retry", "api-1")

    assert result.code == 0, result.err
    assert result.out == "ticket api-1: retry #1 requested (re-enters dev)\n"
    assert cluster.get("Ticket", "api-1")["spec"]["retry"] == 1
    assert reasons(cluster, "api-1") == ["RetryRequested"]
    pending = k8sta("retry", "api-1")  # the controller has not observed it yet: no second bump
    assert pending.code == 0
    assert "already requested" in pending.out
    assert cluster.get("Ticket", "api-1")["spec"]["retry"] == 1


def test_retry_refuses_a_ticket_that_has_not_failed(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", OLD, status=at("dev", TS.DEPLOYING))
    result = k8sta("retry", "api-1")
    assert result.code == 1
    assert result.err == "k8sta: error: ticket api-1 is Deploying; only a Failed ticket can be retried\n"


def test_abandon(cluster: Cluster, k8sta: Runner) -> None:
    cluster.track("api", ["dev"])
    cluster.ticket("api-1", "api", OLD, status=at("dev", TS.DEPLOYING))
    cluster.ticket("api-2", "api", OLD, status=model.TicketStatus(state=TS.COMPLETED))

    result = k8sta("abandon", "api-1")
    assert result.code == 0, result.err
    assert result.out == "ticket api-1: abandon requested\n"
    assert cluster.get("Ticket", "api-1")["spec"]["abandon"] is True
    assert reasons(cluster, "api-1") == ["AbandonRequested"]

    done = k8sta("abandon", "api-2")
    assert done.code == 1
    assert done.err == "k8sta: error: ticket api-2 is already Completed; there is nothing to abandon\n"


@pytest.mark.parametrize("argv", [["approve", "api-9", "dev"], ["retry", "api-9"], ["abandon", "api-9"]],
                         ids=["approve", "retry", "abandon"])
def test_actions_on_unknown_tickets(cluster: Cluster, k8sta: Runner, argv: list[str]) -> None:
    result = k8sta(*argv)
    assert result.code == 1
    assert result.err == f"k8sta: error: ticket api-9 not found in namespace {cluster.namespace}\n"
