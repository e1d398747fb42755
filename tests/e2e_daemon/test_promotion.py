"""K8sTA end to end on the real stack: tickets created through the Kubernetes API ride Tracks whose
Stations reference real Argo CD Applications rendered by our plugin in the real cmp-server."""

from __future__ import annotations

import math
import time

import pytest

from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model
from k8sta_daemon.core.codec import parse_time
from k8sta_devstack.railway import ARGOCD_NS, IMAGE, Railway, base, overlay

from .conftest import Daemon

pytestmark = pytest.mark.stack


def three_stations(rail: Railway, *, prod_extra: dict | None = None, staging_extra: dict | None = None,
                   staging_health: str = "Healthy") -> str:
    """dev -> staging -> prod, one Application each; returns the first config commit."""
    config = rail.commit({**base(), **overlay("dev"), **overlay("staging", staging_health), **overlay("prod")})
    for env in ("dev", "staging", "prod"):
        rail.application(env)
    rail.station("dev", ["dev"])
    rail.station("staging", ["staging"], **(staging_extra or {}))
    rail.station("prod", ["prod"], **(prod_extra or {}))
    rail.track("main-line", ["dev", "staging", "prod"])
    return config


def journey(rail: Railway, ticket: str) -> list[dict]:
    return rail.get("tickets", ticket)["status"]["journey"]


def test_ticket_reaches_prod_synced_and_healthy_at_the_pushed_commits(railway: Railway, argocd: ArgoCD) -> None:
    config = three_stations(railway)
    railway.ticket("api-1", "main-line", config, "1.0.0")
    railway.wait("Completed", lambda: railway.state("api-1") == "Completed")
    records = journey(railway, "api-1")
    assert [r["station"] for r in records] == ["dev", "staging", "prod"]
    for record, env in zip(records, ("dev", "staging", "prod"), strict=True):
        assert record["state"] == "Departed"
        (pushed,) = record["pushed"]
        head = railway.repo.head(f"env/{env}")
        assert pushed["commit"] == head and pushed["branch"] == f"env/{env}"
        app = argocd.get_application(model.AppRef(ARGOCD_NS, railway.apps[env]))
        assert app["status"]["sync"] == {**app["status"]["sync"], "status": "Synced", "revision": head}
        assert app["status"]["health"]["status"] == "Healthy"
        # judged arrived only after Argo CD had deployed our commit (its history records when), so
        # this holds only if the daemon waited, not merely because the app is Healthy by now
        (deployed,) = [h for h in app["status"].get("history") or [] if h.get("revision") == head]
        assert parse_time(record["arrivedAt"]) >= parse_time(deployed["deployedAt"]), (record, deployed)
        message = railway.repo.git(["log", "-1", "--format=%B", head])
        assert f"K8sTA-Ticket: {railway.namespace}/api-1" in message and f"K8sTA-Station: {env}" in message
        rendered = railway.repo.git(["show", f"{head}:.k8sta/rendered.yaml"])
        assert f"image: {IMAGE}:1.0.0" in rendered
    assert railway.repo.head("main") is not None  # the source branch is never rewritten
    assert railway.repo.git(["log", "--format=%H", "main"]).split() == [config]


def test_no_overtaking_and_the_waiting_older_ticket_is_superseded(railway: Railway) -> None:
    """api-1 holds dev (staging needs approval); api-2 and api-3 queue behind it. When dev frees, the
    newest waiting ticket (api-3) boards and api-2 is superseded; nobody ever passes anybody."""
    config = three_stations(railway, staging_extra={"approvalRequired": True})
    railway.ticket("api-1", "main-line", config, "1.0.1")
    railway.wait("api-1 held at dev", lambda: railway.state("api-1") == "AwaitingApproval")
    for n in (2, 3):
        railway.ticket(f"api-{n}", "main-line", config, f"1.0.{n}", approvedStations=["staging"])
    railway.wait("both queued", lambda: railway.state("api-2") == railway.state("api-3") == "Waiting")
    order = ["dev", "staging", "prod"]
    seen: list[dict[str, tuple[str | None, str | None]]] = []

    def observe() -> None:
        snapshot = {t["metadata"]["name"]: ((t.get("status") or {}).get("state"),
                                            (t.get("status") or {}).get("station")) for t in railway.tickets()}
        seen.append(snapshot)
        stations = [s for _, s in snapshot.values() if s]
        assert len(stations) == len(set(stations)), f"two tickets at one station: {snapshot}"
        positions = [order.index(snapshot[n][1]) if snapshot.get(n, (None, None))[1] else None
                     for n in ("api-1", "api-2", "api-3")]
        travelling = [p for p in positions if p is not None]
        assert travelling == sorted(travelling, reverse=True), f"a newer ticket is ahead: {snapshot}"

    railway.patch_ticket("api-1", {"approvedStations": ["staging"]})
    railway.wait("both riders Completed",
                 lambda: railway.state("api-1") == "Completed" and railway.state("api-3") == "Completed",
                 timeout=360, observe=observe)
    assert railway.state("api-2") == "Superseded"
    assert "1.0.3" in railway.repo.git(["show", "env/prod:.k8sta/rendered.yaml"])
    first, third = journey(railway, "api-1"), journey(railway, "api-3")
    for index in range(3):  # at each Station, api-3 entered only after api-1 had left it
        assert third[index]["station"] == first[index]["station"]
        assert parse_time(third[index]["enteredAt"]) >= parse_time(first[index]["departedAt"]), (first, third)
    assert len(seen) > 3


def test_junction_spawns_children_onto_regional_tracks_after_arrival(railway: Railway) -> None:
    config = railway.commit({**base(), **overlay("dev"), **overlay("eu"), **overlay("us")})
    for env in ("dev", "eu", "us"):
        railway.application(env)
    railway.station("dev", ["dev"], tracks=["eu-line", "us-line"])
    railway.station("eu", ["eu"])
    railway.station("us", ["us"])
    railway.track("main-line", ["dev"])
    railway.track("eu-line", ["eu"])
    railway.track("us-line", ["us"])
    railway.ticket("api-1", "main-line", config, "2.0.0")
    children = railway.wait("children spawned", lambda: railway.get("tickets", "api-1").get("status", {})
                            .get("children"))
    assert len(children) == 2
    parent = railway.get("tickets", "api-1")["status"]
    arrived = parse_time(parent["journey"][0]["arrivedAt"])
    railway.wait("children created", lambda: set(children) <= {t["metadata"]["name"] for t in railway.tickets()})
    for child in children:  # spawned only after arrival: each child was created after the parent arrived
        meta = railway.get("tickets", child)["metadata"]
        assert parse_time(meta["annotations"]["k8sta.io/created-at"]) >= arrived, (meta, parent)
        assert parse_time(meta["creationTimestamp"]) >= math.floor(arrived), (meta, parent)  # 1 s resolution
    for child in children:
        railway.wait(f"{child} Completed", lambda c=child: railway.state(c) == "Completed")
        spec = railway.get("tickets", child)["spec"]
        assert spec["snapshot"]["images"] == [{"name": IMAGE, "tag": "2.0.0"}]
        assert spec["parent"] == "api-1"
    assert "2.0.0" in railway.repo.git(["show", "env/eu:.k8sta/rendered.yaml"])
    assert "2.0.0" in railway.repo.git(["show", "env/us:.k8sta/rendered.yaml"])


def test_degraded_station_fails_the_ticket_and_a_newer_one_fixes_forward(railway: Railway) -> None:
    three_stations(railway, staging_health="Degraded")
    broken = railway.repo.head("main")
    railway.ticket("api-1", "main-line", broken, "3.0.0")
    railway.wait("Failed", lambda: railway.state("api-1") == "Failed")
    status = railway.get("tickets", "api-1")["status"]
    assert status.get("station") is None  # it vacated staging
    assert status["journey"][-1]["station"] == "staging"
    fixed = railway.commit(overlay("staging", "Healthy"), "fix staging")
    railway.ticket("api-2", "main-line", fixed, "3.0.1")
    railway.wait("fixed forward", lambda: railway.state("api-2") == "Completed")
    assert railway.state("api-1") == "Failed"


def test_approval_gate_holds_the_ticket_until_approved(railway: Railway) -> None:
    config = three_stations(railway, prod_extra={"approvalRequired": True})
    railway.ticket("api-1", "main-line", config, "4.0.0")
    railway.wait("awaiting approval", lambda: railway.state("api-1") == "AwaitingApproval")
    before = railway.repo.head("env/prod")
    assert before is None  # prod's branch was never written
    railway.patch_ticket("api-1", {"approvedStations": ["prod"]})
    railway.wait("Completed", lambda: railway.state("api-1") == "Completed")


def test_suspended_application_holds_the_ticket_as_suspended(railway: Railway) -> None:
    config = three_stations(railway, staging_health="Suspended")
    railway.ticket("api-1", "main-line", config, "5.0.0")
    railway.wait("Suspended", lambda: railway.state("api-1") == "Suspended")
    status = railway.get("tickets", "api-1")["status"]
    assert status["station"] == "staging"
    assert railway.repo.head("env/prod") is None


def test_events_show_in_argo_cds_events_tab(railway: Railway, argocd: ArgoCD) -> None:
    config = three_stations(railway)
    railway.ticket("api-1", "main-line", config, "6.0.0")
    railway.wait("Completed", lambda: railway.state("api-1") == "Completed")
    staging = model.AppRef(ARGOCD_NS, railway.apps["staging"])
    events = argocd.application_events(staging)
    ours = [e for e in events if e.get("source", {}).get("component") == "k8sta-controller"]
    assert ours, events
    assert any(f"{railway.namespace}/api-1" in e["message"] for e in ours)
    assert {e["involvedObject"]["uid"] for e in ours} == {argocd.get_application(staging)["metadata"]["uid"]}


def test_application_without_automated_sync_is_synced_by_the_daemon(railway: Railway, argocd: ArgoCD) -> None:
    config = railway.commit({**base(), **overlay("manual")})
    railway.application("manual", automated=False)
    railway.station("manual", ["manual"])
    railway.track("manual-line", ["manual"])
    railway.ticket("api-1", "manual-line", config, "7.0.0")
    railway.wait("Completed", lambda: railway.state("api-1") == "Completed")
    app = argocd.get_application(model.AppRef(ARGOCD_NS, railway.apps["manual"]))
    assert "automated" not in (app["spec"].get("syncPolicy") or {})
    assert app["status"]["operationState"]["syncResult"]["revision"] == railway.repo.head("env/manual")


def test_a_crashed_daemon_resumes_the_ride_without_a_second_commit(railway: Railway, daemon: Daemon) -> None:
    """SIGKILL mid-ride, restart with an empty cache: the ticket completes and every app branch holds
    exactly one commit (the trailers at a branch head mean "already pushed")."""
    config = three_stations(railway, staging_extra={"approvalRequired": True})
    railway.ticket("api-1", "main-line", config, "8.0.0")
    railway.wait("held at dev", lambda: railway.state("api-1") == "AwaitingApproval")
    daemon.crash()
    railway.patch_ticket("api-1", {"approvedStations": ["staging"]})
    daemon.start()
    railway.wait("Completed after the restart", lambda: railway.state("api-1") == "Completed")
    daemon.crash()  # and once more, after the ride: a fresh daemon must change nothing
    heads = {env: railway.repo.head(f"env/{env}") for env in ("dev", "staging", "prod")}
    daemon.start()
    railway.wait("the third daemon leads", lambda: daemon.log.read_text().count("became leader") == 3, timeout=60)
    time.sleep(4)  # two resync passes in which a wrong daemon would push again (a negative check)
    for env, head in heads.items():
        assert railway.repo.head(f"env/{env}") == head
        assert railway.repo.git(["rev-list", "--count", f"env/{env}"]).strip() == "1", env
    assert railway.state("api-1") == "Completed"
