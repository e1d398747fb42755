"""Tickets judged by real workloads: Deployments whose pods KWOK makes Ready, scheduled by the real
kube-scheduler, scaled by the real controller-manager, and Argo Rollouts canaries, all judged by Argo
CD's built-in health (no Lua check, no test data choosing the health).

The tickets name Argo CD's reasons (CanaryPauseStep, a progress deadline, a failed analysis), which live
in the resource tree, not in the Application (reactor/health.py); test_e needs no sync operation for
an Application already Synced at the new commit.

Canary promotion is Argo CD's built-in ``resume`` action through its API (what the UI's Actions menu
does), so K8sTA needs no promote command of its own.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model
from k8sta_devstack.railway import (
    ARGOCD_NS,
    IMAGE,
    OTHER_IMAGE,
    REPLICAS,
    AnalysisEndpoint,
    Railway,
    base,
    canary_overlay,
    canary_steps,
    overlay,
)

pytestmark = pytest.mark.stack


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def record_at(rail: Railway, ticket: str, station: str) -> dict:
    return [r for r in rail.get("tickets", ticket)["status"]["journey"] if r["station"] == station][-1]


def app_health(rail: Railway, env: str) -> tuple[str | None, str | None]:
    """(health, synced revision) from the Application resource itself."""
    app = rail.custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications",
                                                   rail.apps[env])
    status = app.get("status") or {}
    return (status.get("health") or {}).get("status"), (status.get("sync") or {}).get("revision")


def resource_health(argocd: ArgoCD, rail: Railway, env: str, kind: str, name: str = "api") -> dict:
    """Argo CD's verdict on one resource of the Application (its resource tree, as the UI shows it)."""
    nodes = argocd.resource_tree(model.AppRef(ARGOCD_NS, rail.apps[env]))["nodes"]
    (found,) = [n for n in nodes if n["kind"] == kind and n["name"] == name]
    return dict(found.get("health") or {})


def two_stations(rail: Railway, prod: dict[str, bytes], **prod_extra: object) -> str:
    config = rail.commit({**base(), **overlay("dev"), **prod})
    for env in ("dev", "prod"):
        rail.application(env)
    rail.station("dev", ["dev"])
    rail.station("prod", ["prod"], **prod_extra)
    rail.track("main-line", ["dev", "prod"])
    return config


def test_a_new_image_rolls_out_and_the_ticket_arrives_once_its_pods_are_ready(railway: Railway) -> None:
    # minReadySeconds keeps each new pod "not yet available" for 3 s: a rollout Argo CD can see.
    config = railway.commit({**base(), **overlay("dev", min_ready_seconds=3)})
    railway.application("dev")
    railway.station("dev", ["dev"])
    railway.track("line", ["dev"])
    railway.ticket("api-1", "line", config, "1.0.0")
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed")

    seen: list[tuple[str | None, str | None]] = []
    railway.ticket("api-2", "line", config, "2.0.0")
    railway.wait("api-2 Completed", lambda: railway.state("api-2") == "Completed",
                 observe=lambda: seen.append(app_health(railway, "dev")))
    pushed = record_at(railway, "api-2", "dev")["pushed"][0]["commit"]
    at_ours = [health for health, revision in seen if revision == pushed]
    assert "Progressing" in at_ours, seen
    assert at_ours[-1] == "Healthy" and at_ours.index("Progressing") < len(at_ours) - 1, seen

    # The ReplicaSets: the new one (image 2.0.0) owns every replica, the old one is scaled to zero.
    by_image = {rs.spec.template.spec.containers[0].image: rs for rs in railway.replica_sets("dev")}
    assert set(by_image) == {f"{IMAGE}:1.0.0", f"{IMAGE}:2.0.0"}
    new, old = by_image[f"{IMAGE}:2.0.0"], by_image[f"{IMAGE}:1.0.0"]
    assert (new.spec.replicas, new.status.ready_replicas, new.status.available_replicas) == (REPLICAS,) * 3
    assert old.spec.replicas == 0
    # The pods: every pod of the new image was Ready (and bound to KWOK's node) before the arrival.
    arrived = when(record_at(railway, "api-2", "dev")["arrivedAt"])
    railway.wait("old pods gone", lambda: len(railway.pods("dev")) == REPLICAS)
    ready = railway.ready_pods("dev", f"{IMAGE}:2.0.0")
    assert len(ready) == REPLICAS
    for pod in ready:
        assert pod.spec.node_name == "kwok-node-0"
        ready_at = next(c.last_transition_time for c in pod.status.conditions if c.type == "Ready")
        assert ready_at <= arrived, (pod.metadata.name, ready_at, arrived)
    # ...and at least minReadySeconds later than the first of them became Ready.
    assert min(next(c.last_transition_time for c in p.status.conditions if c.type == "Ready")
               for p in ready).timestamp() + 3 <= arrived.timestamp()


def test_b_a_deployment_that_never_becomes_available_fails_the_ticket_and_a_newer_one_fixes_forward(
        railway: Railway, argocd: ArgoCD) -> None:
    config = two_stations(railway, overlay("prod", unschedulable=True), degradedGraceSeconds=5)
    railway.ticket("api-1", "main-line", config, "3.0.0")
    railway.wait("api-1 Failed", lambda: railway.state("api-1") == "Failed")
    status = railway.get("tickets", "api-1")["status"]
    assert status.get("station") is None  # it vacated prod
    assert status["journey"][-1]["station"] == "prod" and status["journey"][-1]["state"] == "Failed"
    failed = status["message"]
    assert "Degraded" in failed, failed
    assert railway.pods("prod") and not railway.ready_pods("prod", f"{IMAGE}:3.0.0")
    assert all(p.spec.node_name is None for p in railway.pods("prod"))  # never scheduled
    why = resource_health(argocd, railway, "prod", "Deployment")
    assert why == {**why, "status": "Degraded", "message": 'Deployment "api" exceeded its progress deadline'}

    fixed = railway.commit(overlay("prod"), "prod: schedulable again")
    railway.ticket("api-2", "main-line", fixed, "3.0.1")
    railway.wait("fixed forward", lambda: railway.state("api-2") == "Completed")
    assert len(railway.ready_pods("prod", f"{IMAGE}:3.0.1")) == REPLICAS
    assert railway.state("api-1") == "Failed"
    assert why["message"] in failed, failed  # the failed ticket names Argo CD's reason


@pytest.fixture
def analysis() -> AnalysisEndpoint:
    endpoint = AnalysisEndpoint("pass")
    yield endpoint
    endpoint.close()


def test_c_a_paused_canary_holds_the_ticket_suspended_until_argo_cds_resume_action_promotes_it(
        railway: Railway, argocd: ArgoCD, analysis: AnalysisEndpoint) -> None:
    config = two_stations(railway, canary_overlay("prod", analysis.url))
    railway.ticket("api-1", "main-line", config, "4.0.0")  # a Rollout's first revision skips the steps
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed")
    assert analysis.requests == 0

    railway.ticket("api-2", "main-line", config, "4.1.0")
    railway.wait("api-2 Suspended at prod", lambda: railway.state("api-2") == "Suspended")
    status = railway.get("tickets", "api-2")["status"]
    assert status["station"] == "prod"
    held = status["message"]
    assert "Suspended" in held, held
    assert resource_health(argocd, railway, "prod", "Rollout") == {"status": "Suspended", "message": "CanaryPauseStep"}
    rollout = railway.rollout("prod")
    assert [c["reason"] for c in rollout["status"]["pauseConditions"]] == ["CanaryPauseStep"]
    railway.wait("one canary pod Ready", lambda: len(railway.ready_pods("prod", f"{IMAGE}:4.1.0")) == 1)
    assert railway.ready_pods("prod", f"{IMAGE}:4.0.0")  # the stable pods keep serving

    argocd.resume_rollout(model.AppRef(ARGOCD_NS, railway.apps["prod"]), railway.target_namespace("prod"), "api")
    railway.wait("api-2 Completed", lambda: railway.state("api-2") == "Completed")
    assert analysis.requests >= 1
    railway.wait("stable = canary", lambda: len(railway.pods("prod")) == REPLICAS)
    assert len(railway.ready_pods("prod", f"{IMAGE}:4.1.0")) == REPLICAS
    rollout = railway.rollout("prod")
    assert rollout["status"]["stableRS"] == rollout["status"]["currentPodHash"]
    assert "CanaryPauseStep" in held, held  # the held ticket names Argo CD's reason


def test_d_a_failing_analysis_aborts_the_canary_fails_the_ticket_and_the_next_one_fixes_forward(
        railway: Railway, argocd: ArgoCD, analysis: AnalysisEndpoint) -> None:
    config = two_stations(railway, canary_overlay("prod", analysis.url, canary_steps(pause=False)))
    railway.ticket("api-1", "main-line", config, "5.0.0")
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed")

    analysis.verdict = "fail"
    railway.ticket("api-2", "main-line", config, "5.1.0")
    railway.wait("api-2 Failed", lambda: railway.state("api-2") == "Failed")
    status = railway.get("tickets", "api-2")["status"]
    assert status.get("station") is None and status["journey"][-1]["station"] == "prod"
    failed = status["message"]
    assert "Degraded" in failed, failed
    why = resource_health(argocd, railway, "prod", "Rollout")
    assert why["status"] == "Degraded" and why["message"].startswith("RolloutAborted: "), why
    assert 'Metric "api-check" assessed Failed' in why["message"], why
    assert railway.rollout("prod")["status"].get("abort") is True
    assert analysis.requests >= 1
    railway.wait("stable pods only", lambda: len(railway.ready_pods("prod", f"{IMAGE}:5.0.0")) == REPLICAS)

    analysis.verdict = "pass"
    railway.ticket("api-3", "main-line", config, "5.2.0")
    railway.wait("api-3 Completed", lambda: railway.state("api-3") == "Completed")
    railway.wait("new stable", lambda: len(railway.ready_pods("prod", f"{IMAGE}:5.2.0")) == REPLICAS)
    assert railway.state("api-2") == "Failed"
    assert 'Metric "api-check" assessed Failed' in failed, failed  # the failed ticket names the analysis


def test_e_a_station_of_two_applications_arrives_when_the_ticket_changes_only_one(railway: Railway) -> None:
    """The web Application runs an image no ticket pins: a new api image leaves its render unchanged,
    so Argo CD finds it Synced at the new commit without running a sync operation."""
    config = railway.commit({**base(), **overlay("dev"), **overlay("web", app="web", image=OTHER_IMAGE)})
    railway.application("dev")
    railway.application("web")
    railway.station("dev", ["dev", "web"])
    railway.track("line", ["dev"])
    railway.ticket("api-1", "line", config, "6.0.0")
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed")
    web_pods = {p.metadata.name for p in railway.ready_pods("web", f"{OTHER_IMAGE}:latest", app="web")}
    assert len(web_pods) == REPLICAS

    railway.ticket("api-2", "line", config, "6.1.0")
    railway.wait("api-2 Completed", lambda: railway.state("api-2") == "Completed", timeout=120)
    assert len(railway.ready_pods("dev", f"{IMAGE}:6.1.0")) == REPLICAS
    # web did not roll: same pods as before
    assert {p.metadata.name for p in railway.ready_pods("web", f"{OTHER_IMAGE}:latest", app="web")} == web_pods


def test_f_a_ticket_rides_three_stations_and_argo_cds_resume_action_promotes_its_canary_at_the_last(
        railway: Railway, argocd: ArgoCD, analysis: AnalysisEndpoint) -> None:
    """dev -> staging -> prod (a canary Rollout): the journey every Argo CD release K8sTA claims must carry
    (CI runs it against the oldest tested release too: `make test-argocd-compat`)."""
    config = railway.commit({**base(), **overlay("dev"), **overlay("staging"),
                             **canary_overlay("prod", analysis.url)})
    for env in ("dev", "staging", "prod"):
        railway.application(env)
        railway.station(env, [env])
    railway.track("main-line", ["dev", "staging", "prod"])
    railway.ticket("api-1", "main-line", config, "7.0.0")  # a Rollout's first revision skips the steps
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed", timeout=240)

    railway.ticket("api-2", "main-line", config, "7.1.0")
    railway.wait("api-2 Suspended at prod", lambda: railway.state("api-2") == "Suspended", timeout=240)
    assert [r["station"] for r in railway.get("tickets", "api-2")["status"]["journey"]] == ["dev", "staging", "prod"]
    for env in ("dev", "staging"):
        assert len(railway.ready_pods(env, f"{IMAGE}:7.1.0")) == REPLICAS
    argocd.resume_rollout(model.AppRef(ARGOCD_NS, railway.apps["prod"]), railway.target_namespace("prod"), "api")
    railway.wait("api-2 Completed", lambda: railway.state("api-2") == "Completed")
    railway.wait("prod runs 7.1.0", lambda: len(railway.ready_pods("prod", f"{IMAGE}:7.1.0")) == REPLICAS)
    assert [r["state"] for r in railway.get("tickets", "api-2")["status"]["journey"]] == ["Departed"] * 3
