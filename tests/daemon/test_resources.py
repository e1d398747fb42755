"""resources: Kubernetes/Argo CD JSON <-> model, with realistic objects and exact error paths."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from k8sta_daemon.core import actions, arrival, decide, model
from k8sta_daemon.core import codec as resources

from .sim import Sim, station, track

COMMIT = "4f2a9c1e0b7d3a5f6e8c9b1a2d3e4f5a6b7c8d9e"
DIGEST = "sha256:" + "ab" * 32
T = resources.parse_time


def station_obj() -> dict[str, Any]:
    return {
        "apiVersion": "k8sta.io/v1alpha1", "kind": "Station",
        "metadata": {"name": "prod", "namespace": "team", "uid": "0b7a6c1e-5b9e-4d0e-9a51-0c3f2f1d8e11",
                     "resourceVersion": "4711", "generation": 2, "creationTimestamp": "2026-11-26T09:00:00Z",
                     "managedFields": [{"manager": "kubectl", "operation": "Apply"}]},
        "spec": {"applications": [{"name": "api-prod"}, {"name": "web-prod", "namespace": "apps"},
                                  {"name": "batch-prod", "disabled": True}],
                 "tracks": ["eu", "us"], "approvalRequired": True, "soakSeconds": 600,
                 "timeoutSeconds": 1800, "degradedGraceSeconds": 60, "disabled": False},
    }


def track_obj() -> dict[str, Any]:
    return {
        "apiVersion": "k8sta.io/v1alpha1", "kind": "Track",
        "metadata": {"name": "api", "namespace": "team", "creationTimestamp": "2026-11-26T09:00:00Z",
                     "generation": 3},
        "spec": {"stations": ["dev", "staging", "prod"], "boarding": "EveryTicketRides"},
        "status": {"observedGeneration": 3, "conditions": [
            {"type": "Ready", "status": "True", "reason": "Valid", "message": "track is valid",
             "lastTransitionTime": "2026-11-26T09:00:01Z"}]},
    }


def ticket_obj() -> dict[str, Any]:
    return {
        "apiVersion": "k8sta.io/v1alpha1", "kind": "Ticket",
        "metadata": {"name": "api-7", "namespace": "team", "uid": "u-7", "resourceVersion": "99",
                     "creationTimestamp": "2026-11-26T10:00:05Z", "labels": {"k8sta.io/track": "api"}},
        "spec": {"track": "api", "snapshot": {"configCommit": COMMIT, "images": [
            {"name": "registry.example/team/api", "tag": "1.4.2", "digest": DIGEST},
            {"name": "registry.example/team/web", "tag": "2.0.0"}]},
            "approvedStations": ["prod"], "retry": 2, "abandon": False},
        "status": {
            "state": "Soaking", "station": "staging", "observedRetry": 2, "message": "soaking",
            "children": [],
            "journey": [
                {"station": "dev", "state": "Departed", "enteredAt": "2026-11-26T10:00:06Z",
                 "arrivedAt": "2026-11-26T10:01:00.250000Z", "departedAt": "2026-11-26T10:01:00.250000Z",
                 "healthySince": "2026-11-26T10:01:00.250000Z",
                 "pushed": [{"application": {"namespace": "argocd", "name": "api-dev"},
                             "repoURL": "https://git.example/config.git", "branch": "env/api-dev",
                             "commit": COMMIT}]},
                {"station": "staging", "state": "Arrived", "enteredAt": "2026-11-26T10:01:00.250000Z",
                 "arrivedAt": "2026-11-26T10:02:00Z", "healthySince": "2026-11-26T10:02:00Z",
                 "skippedApplications": [{"namespace": "argocd", "name": "batch-staging"}],
                 "pushed": [{"application": {"namespace": "argocd", "name": "api-staging"},
                             "repoURL": "https://git.example/config.git", "branch": "env/api-staging",
                             "commit": COMMIT}]},
            ]},
    }


def test_station_from_dict() -> None:
    spec = resources.station_from_dict(station_obj())
    assert spec == model.StationSpec(
        "team", "prod",
        applications=(model.AppRef("argocd", "api-prod"), model.AppRef("apps", "web-prod"),
                      model.AppRef("argocd", "batch-prod")),
        tracks=("eu", "us"), approval_required=True, soak_seconds=600, timeout_seconds=1800,
        degraded_grace_seconds=60, disabled=False,
        disabled_applications=frozenset({model.AppRef("argocd", "batch-prod")}))
    assert resources.station_from_dict(station_obj(), default_app_namespace="gitops").applications[0] == \
        model.AppRef("gitops", "api-prod")


def test_station_defaults() -> None:
    obj = station_obj()
    obj["spec"] = {}
    assert resources.station_from_dict(obj) == model.StationSpec("team", "prod")


@pytest.mark.parametrize("value, expected", [(None, True), (True, True), (False, False)])
def test_station_self_heal_defaults_to_on(value: bool | None, expected: bool) -> None:
    obj = station_obj()
    if value is not None:
        obj["spec"]["selfHeal"] = value
    assert resources.station_from_dict(obj).self_heal is expected
    obj["spec"]["selfHeal"] = "yes"
    with pytest.raises(resources.MalformedObject, match=r"spec\.selfHeal"):
        resources.station_from_dict(obj)


def test_track_from_dict() -> None:
    spec = resources.track_from_dict(track_obj())
    assert spec == model.TrackSpec("team", "api", ("dev", "staging", "prod"), model.Boarding.EVERY_TICKET_RIDES,
                                   conditions=(model.Condition(model.ConditionType.READY, model.ConditionStatus.TRUE,
                                                               model.ConditionReason.VALID, "track is valid"),))
    assert spec.conditions[0].last_transition_time == T("2026-11-26T09:00:01Z")
    obj = track_obj()
    del obj["spec"]["boarding"], obj["status"]
    assert resources.track_from_dict(obj).boarding is model.Boarding.NEWEST_SUPERSEDES


def test_ticket_from_dict() -> None:
    ticket = resources.ticket_from_dict(ticket_obj())
    assert (ticket.namespace, ticket.name, ticket.uid, ticket.track) == ("team", "api-7", "u-7", "api")
    assert ticket.created == T("2026-11-26T10:00:05Z")
    assert ticket.snapshot == model.Snapshot(COMMIT, (model.ImagePin("registry.example/team/api", "1.4.2", DIGEST),
                                                      model.ImagePin("registry.example/team/web", "2.0.0")))
    assert (ticket.approved_stations, ticket.retry_count, ticket.abandon) == (frozenset({"prod"}), 2, False)
    status = ticket.status
    assert (status.state, status.station, status.observed_retry) == (model.TicketState.SOAKING, "staging", 2)
    assert status.current is not None and status.current.arrived_at == T("2026-11-26T10:02:00Z")
    assert status.journey[0].departed_at == T("2026-11-26T10:01:00.25Z")
    assert status.journey[0].pushed[0] == model.PushedCommit(
        model.AppRef("argocd", "api-dev"), "https://git.example/config.git", "env/api-dev", COMMIT)
    assert status.current.skipped_applications == (model.AppRef("argocd", "batch-staging"),)


def test_new_ticket_without_status_is_waiting() -> None:
    obj = ticket_obj()
    del obj["status"]
    obj["spec"] = {"track": "api", "snapshot": {"images": []}}
    ticket = resources.ticket_from_dict(obj)
    assert ticket.status == model.TicketStatus() and ticket.snapshot == model.Snapshot(None, ())
    assert (ticket.retry_count, ticket.abandon, ticket.parent) == (0, False, None)


@pytest.mark.parametrize("annotation, expected", [
    pytest.param(None, "2026-11-26T10:00:05Z", id="creation-timestamp"),
    pytest.param("2026-11-26T10:00:05.731Z", "2026-11-26T10:00:05.731Z", id="annotation-refines-same-second"),
    pytest.param("2026-11-26T09:00:00.5Z", "2026-11-26T10:00:05Z", id="annotation-contradicting-is-ignored"),
])
def test_creation_order(annotation: str | None, expected: str) -> None:
    obj = ticket_obj()
    if annotation:
        obj["metadata"]["annotations"] = {resources.CREATED_AT_ANNOTATION: annotation}
    assert resources.ticket_from_dict(obj).created == T(expected)


@pytest.mark.parametrize("annotation, expected", [
    pytest.param("2026-11-26T10:00:05.731Z", "2026-11-26T10:00:05.731Z", id="annotation-refines-same-second"),
    pytest.param("2026-11-26T09:00:00.5Z", "2026-11-26T09:00:00.5Z", id="created-again-keeps-its-place"),
    pytest.param("2026-11-26T10:00:09.5Z", "2026-11-26T10:00:05Z", id="a-later-annotation-is-ignored"),
])
def test_creation_order_of_a_junction_child(annotation: str, expected: str) -> None:
    """A child's annotation is its parent's departure from the junction (decided by the core): a child
    created again later keeps that place instead of ranking as the newest ticket of its Track."""
    obj = ticket_obj()
    obj["spec"]["parent"] = "api-6"
    obj["metadata"]["annotations"] = {resources.CREATED_AT_ANNOTATION: annotation}
    assert resources.ticket_from_dict(obj).created == T(expected)


def _break(kind: str, edit: Any) -> dict[str, Any]:
    obj = {"Ticket": ticket_obj, "Station": station_obj, "Track": track_obj}[kind]()
    edit(obj)
    return obj


def _set(path: str, value: Any) -> Any:
    def edit(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = obj
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return edit


_DELETE = object()


@pytest.mark.parametrize("kind, edit, where", [
    pytest.param("Ticket", _set("spec.track", _DELETE), "spec.track: is required", id="ticket-no-track"),
    pytest.param("Ticket", _set("spec.snapshot", _DELETE), "spec.snapshot: is required", id="ticket-no-snapshot"),
    pytest.param("Ticket", _set("spec.snapshot.images.0.digest", "sha256:abc"),
                 "spec.snapshot.images[0].digest: must be sha256", id="bad-digest"),
    pytest.param("Ticket", _set("spec.snapshot.images.1.name", "registry.example/team/api"),
                 "spec.snapshot.images[1].name: image registry.example/team/api is pinned twice", id="pinned-twice"),
    pytest.param("Ticket", _set("spec.snapshot.images.0.tag", _DELETE), "images[0].tag: is required", id="no-tag"),
    pytest.param("Ticket", _set("spec.snapshot.configCommit", "main"), "spec.snapshot.configCommit: must be a full",
                 id="config-commit-not-a-sha"),
    pytest.param("Ticket", _set("spec.snapshot.images", {"name": "x"}), "spec.snapshot.images: must be a list",
                 id="images-not-a-list"),
    pytest.param("Ticket", _set("spec.retry", -1), "spec.retry: must be >= 0", id="negative-retry"),
    pytest.param("Ticket", _set("spec.retry", True), "spec.retry: must be an integer", id="bool-retry"),
    pytest.param("Ticket", _set("spec.abandon", "yes"), "spec.abandon: must be true or false", id="abandon-string"),
    pytest.param("Ticket", _set("spec.approvedStations", "prod"), "spec.approvedStations: must be a list",
                 id="approved-not-a-list"),
    pytest.param("Ticket", _set("status.state", "Flying"), "status.state: must be one of", id="unknown-state"),
    pytest.param("Ticket", _set("status.journey.0.enteredAt", "yesterday"), "status.journey[0].enteredAt",
                 id="bad-time"),
    pytest.param("Ticket", _set("status.journey.0.pushed.0.commit", _DELETE),
                 "status.journey[0].pushed[0].commit: is required", id="pushed-without-commit"),
    pytest.param("Ticket", _set("metadata.creationTimestamp", _DELETE), "metadata.creationTimestamp: is required",
                 id="no-creation-time"),
    pytest.param("Ticket", _set("metadata.name", _DELETE), "metadata.name: is required", id="no-name"),
    pytest.param("Ticket", _set("spec", "track: api"), "Ticket team/api-7: spec must be a mapping",
                 id="spec-not-a-mapping"),
    pytest.param("Station", _set("spec.applications.0.name", _DELETE), "spec.applications[0].name: is required",
                 id="application-without-name"),
    pytest.param("Station", _set("spec.applications.1", {"name": "api-prod"}),
                 "spec.applications[1].name: Application argocd/api-prod is listed twice", id="application-twice"),
    pytest.param("Station", _set("spec.timeoutSeconds", 0), "spec.timeoutSeconds: must be >= 1", id="zero-timeout"),
    pytest.param("Station", _set("spec.soakSeconds", "10m"), "spec.soakSeconds: must be an integer",
                 id="soak-as-duration-string"),
    pytest.param("Station", _set("spec.tracks", ["eu", ""]), "spec.tracks[1]: must be a non-empty string",
                 id="empty-junction-name"),
    pytest.param("Track", _set("spec.boarding", "Random"), "spec.boarding: must be one of", id="unknown-boarding"),
    pytest.param("Track", _set("spec.stations", [1, 2]), "spec.stations[0]: must be a non-empty string",
                 id="station-names-not-strings"),
    pytest.param("Track", _set("status.conditions.0.reason", "Whatever"), "status.conditions[0].reason",
                 id="unknown-condition-reason"),
    pytest.param("Track", _set("metadata", None), "Track: metadata must be a mapping", id="no-metadata"),
])
def test_malformed_objects_name_the_field(kind: str, edit: Any, where: str) -> None:
    parse = {"Ticket": resources.ticket_from_dict, "Station": resources.station_from_dict,
             "Track": resources.track_from_dict}[kind]
    with pytest.raises(resources.MalformedObject) as caught:
        parse(_break(kind, edit))
    assert where in str(caught.value)


@pytest.mark.parametrize("value", [None, [], "Ticket"])
def test_not_an_object_is_malformed(value: Any) -> None:
    with pytest.raises(resources.MalformedObject):
        resources.ticket_from_dict(value)


# -- status round trip ---------------------------------------------------------------------------


def _journey_statuses() -> list[model.TicketStatus]:
    """Statuses decide really writes: a junction journey with soak, skip, approval, failure, retry."""
    sim = Sim.of([track("main", ("dev", "off", "hub", "prod")), track("eu", ("eu1",))],
                 [station("dev", ("dev", "dev-b"), disabled_applications=frozenset()),
                  station("off", ("off",), disabled=True),
                  station("hub", ("hub",), tracks=("eu",), soak_seconds=30),
                  station("prod", ("prod",), approval_required=True), station("eu1", ("eu1",))])
    seen: list[model.TicketStatus] = []
    original = sim.apply

    def apply(action: actions.Action) -> None:
        if isinstance(action, actions.UpdateTicketStatus):
            seen.append(action.status)
        original(action)

    sim.apply = apply  # type: ignore[method-assign]
    sim.create("main", name="rel")
    sim.now += 0.125
    sim.create("main", name="rel2")
    sim.create("nowhere", name="lost")
    for _ in range(4):
        sim.settle()
        sim.now += 31.5
        sim.argo_converge()
    sim.settle()
    sim.argo_converge(model.HealthStatus.DEGRADED)
    sim.settle()
    sim.retry("rel2")
    sim.approve("rel", "prod")
    sim.settle()
    return seen


def test_every_status_decide_writes_round_trips() -> None:
    statuses = _journey_statuses()
    states = {s.state for s in statuses}
    assert {model.TicketState.DEPLOYING, model.TicketState.SOAKING, model.TicketState.AWAITING_APPROVAL} <= states
    assert any(s.conditions for s in statuses) and any(s.children for s in statuses)
    for status in statuses:
        body = resources.ticket_status_to_dict(status)
        assert resources.ticket_status_from_dict(copy.deepcopy(body)) == status
        assert resources.ticket_status_to_dict(resources.ticket_status_from_dict(body)) == body


def test_a_malformed_ticket_is_kept_with_its_station_and_the_field_error() -> None:
    obj = ticket_obj()
    obj["spec"]["snapshot"]["images"][0]["tag"] = 7
    obj["status"]["conditions"] = [{"type": "Malformed", "status": "True", "reason": "InvalidSpec",
                                    "message": "old"}, {"type": "Nonsense"}]
    broken = resources.ticket_or_malformed(obj)
    assert isinstance(broken, model.MalformedTicket)
    assert (broken.ref, broken.station) == (model.TicketRef("team", "api-7"), "staging")
    assert "spec.snapshot.images[0].tag" in broken.error
    assert [c.message for c in broken.conditions] == ["old"]
    obj["status"]["state"] = "Completed"
    assert resources.ticket_or_malformed(obj).station is None  # type: ignore[union-attr]
    assert isinstance(resources.ticket_or_malformed(ticket_obj()), model.Ticket)
    del obj["metadata"]["name"]
    with pytest.raises(resources.MalformedObject, match=r"metadata\.name"):
        resources.ticket_or_malformed(obj)


def test_ticket_status_with_condition_sets_and_removes_one_type() -> None:
    obj = ticket_obj()
    obj["status"]["conditions"] = [{"type": "Blocked", "status": "True", "reason": "TrackNotFound"}]
    condition = model.Condition(model.ConditionType.MALFORMED, model.ConditionStatus.TRUE,
                                model.ConditionReason.INVALID_SPEC, "spec.track: is required", 5.0)
    status = resources.ticket_status_with_condition(obj, condition)
    assert [c["type"] for c in status["conditions"]] == ["Blocked", "Malformed"]
    assert status["journey"] == obj["status"]["journey"] and status["station"] == "staging"
    obj["status"] = status
    removed = dataclasses.replace(condition, status=model.ConditionStatus.FALSE)
    assert [c["type"] for c in resources.ticket_status_with_condition(obj, removed)["conditions"]] == ["Blocked"]


def test_drift_and_spawned_children_round_trip() -> None:
    drift = model.Drift(model.AppRef("argocd", "api-staging"), "env/api-staging", "e" * 40)
    status = model.TicketStatus(model.TicketState.COMPLETED, None, (model.JourneyRecord(
        "staging", model.JourneyState.DEPARTED, entered_at=T("2026-11-26T10:00:00Z"), drift=(drift,)),),
        children=("a-eu", "a-us"), spawned=("a-eu",))
    body = resources.ticket_status_to_dict(status)
    assert body["journey"][0]["drift"] == [{"application": {"namespace": "argocd", "name": "api-staging"},
                                             "branch": "env/api-staging", "head": "e" * 40}]
    assert body["spawned"] == ["a-eu"]
    assert resources.ticket_status_from_dict(body) == status


def test_lost_arrival_clock_round_trips() -> None:
    status = model.TicketStatus(model.TicketState.DEPLOYING, "dev", (model.JourneyRecord(
        "dev", model.JourneyState.ARRIVED, entered_at=T("2026-11-26T10:00:00Z"),
        arrived_at=T("2026-11-26T10:01:00Z"), arrival_lost_at=T("2026-11-26T10:05:00Z")),))
    body = resources.ticket_status_to_dict(status)
    assert body["journey"][0]["arrivalLostAt"] == "2026-11-26T10:05:00Z"
    assert resources.ticket_status_from_dict(body) == status


def test_status_times_are_rfc3339() -> None:
    body = resources.ticket_status_to_dict(model.TicketStatus(
        model.TicketState.DEPLOYING, "dev", (model.JourneyRecord(
            "dev", model.JourneyState.ENTERED, entered_at=T("2026-11-26T10:00:00Z")),)))
    assert body["journey"][0]["enteredAt"] == "2026-11-26T10:00:00Z"
    assert resources.format_time(T("2026-11-26T10:00:00.25Z")) == "2026-11-26T10:00:00.250000Z"


def test_track_status_with_condition_replaces_only_that_type() -> None:
    obj = track_obj()
    obj["status"]["conditions"].append({"type": "Other", "status": "True", "reason": "X"})
    condition = model.Condition(model.ConditionType.READY, model.ConditionStatus.FALSE,
                                model.ConditionReason.CYCLE_DETECTED, "a -> b -> a", 1_800_000_000.0)
    status = resources.track_status_with_condition(obj, condition)
    assert status["conditions"] == [
        {"type": "Other", "status": "True", "reason": "X"},
        {"type": "Ready", "status": "False", "reason": "CycleDetected", "message": "a -> b -> a",
         "lastTransitionTime": "2027-01-15T08:00:00Z"}]
    assert status["observedGeneration"] == 3
    assert obj["status"]["conditions"][0]["reason"] == "Valid"  # input untouched


def test_child_ticket_body_reads_back_as_the_child() -> None:
    snapshot = model.Snapshot(COMMIT, (model.ImagePin("registry.example/team/api", "1.4.2", DIGEST),))
    created = T("2026-11-26T10:05:00.5Z")
    action = actions.SpawnTicket(model.TicketRef("team", "api-7"), decide.child_ticket_name("api-7", "eu"), "eu",
                                 snapshot, created)
    body = resources.child_ticket_body(action, ticket_obj())
    assert body["metadata"]["labels"] == {"k8sta.io/track": "eu", "k8sta.io/parent": "api-7"}
    as_served = copy.deepcopy(body)
    as_served["metadata"].update(uid="u-child", creationTimestamp="2026-11-26T10:05:00Z")
    child = resources.ticket_from_dict(as_served)
    assert (child.name, child.track, child.parent, child.snapshot, child.created) == (
        "api-7-eu", "eu", "api-7", snapshot, created)


# -- Argo CD Applications -----------------------------------------------------------------------


def argo_app(**status_changes: Any) -> dict[str, Any]:
    """An Application as GET /api/v1/applications/{name} returns it (trimmed of unrelated fields)."""
    app: dict[str, Any] = {
        "metadata": {"name": "api-dev", "namespace": "argocd", "uid": "8e1c2f7a-0000-4000-8000-000000000001",
                     "resourceVersion": "12345", "creationTimestamp": "2026-11-26T08:00:00Z"},
        "spec": {"source": {"repoURL": "https://git.example/config.git", "targetRevision": "env/api-dev",
                            "path": ".", "plugin": {"name": "k8sta"}},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "api-dev"},
                 "project": "default", "syncPolicy": {"automated": {"prune": True}}},
        "status": {
            "resources": [{"kind": "Deployment", "name": "api", "status": "Synced",
                           "health": {"status": "Healthy"}}],
            "sync": {"status": "Synced", "revision": COMMIT,
                     "comparedTo": {"source": {"repoURL": "https://git.example/config.git"}}},
            "health": {"status": "Healthy", "lastTransitionTime": "2026-11-26T10:01:02Z"},
            "history": [{"revision": COMMIT, "deployedAt": "2026-11-26T10:01:01Z", "id": 4}],
            "reconciledAt": "2026-11-26T10:01:03Z",
            "operationState": {
                "operation": {"sync": {"revision": COMMIT, "syncStrategy": {"hook": {}}},
                              "initiatedBy": {"automated": True}, "retry": {"limit": 5}},
                "phase": "Succeeded", "message": "successfully synced (all tasks run)",
                "syncResult": {"resources": [], "revision": COMMIT,
                               "source": {"repoURL": "https://git.example/config.git"}},
                "startedAt": "2026-11-26T10:01:00Z", "finishedAt": "2026-11-26T10:01:01Z"},
            "sourceType": "Plugin", "summary": {}, "controllerNamespace": "argocd"},
    }
    app["status"].update(status_changes)
    return app


def test_argo_app_status_reads_error_conditions_and_the_sync_policy() -> None:
    app = argo_app(sync={"status": "Unknown", "revision": COMMIT}, conditions=[
        {"type": "ComparisonError", "message": "rpc error: k8sta: rendered sha256 X does not match recorded Y",
         "lastTransitionTime": "2026-11-26T10:01:03Z"},
        {"type": "OrphanedResourceWarning", "message": "1 orphaned resource"},
        {"type": "SyncError", "message": "Failed sync attempt to abc: one or more objects failed to apply"},
        "garbage"])
    app["spec"]["syncPolicy"] = {}
    status = resources.argo_app_status(app)
    assert status.automated is False
    assert status.conditions == (
        model.AppCondition("ComparisonError", "rpc error: k8sta: rendered sha256 X does not match recorded Y"),
        model.AppCondition("SyncError", "Failed sync attempt to abc: one or more objects failed to apply"))
    app["spec"]["syncPolicy"] = {"automated": {"enabled": False}}
    assert resources.argo_app_status(app).automated is False
    del app["spec"]
    assert resources.argo_app_status(app).automated is None


@pytest.mark.parametrize("policy, automated, prune", [
    pytest.param({"automated": {"prune": True}}, True, True, id="automated-with-prune"),
    pytest.param({"automated": {}}, True, False, id="automated-without-prune"),
    pytest.param({"automated": {"prune": True, "enabled": False}}, False, True,
                 id="automated-switched-off-keeps-its-prune"),
    pytest.param({"syncOptions": ["CreateNamespace=true"]}, False, False, id="manual-sync"),
    pytest.param({"automated": {"prune": "yes"}}, True, False, id="prune-not-a-boolean"),
])
def test_argo_app_status_reads_the_sync_policy(policy: dict[str, Any], automated: bool, prune: bool) -> None:
    app = argo_app()
    app["spec"]["syncPolicy"] = policy
    status = resources.argo_app_status(app)
    assert (status.automated, status.prune) == (automated, prune)


def test_argo_app_status_of_a_synced_healthy_application() -> None:
    status = resources.argo_app_status(argo_app())
    assert status == model.AppStatus(
        exists=True, sync_status=model.SyncStatus.SYNCED, synced_revision=COMMIT,
        operation_phase=model.OperationPhase.SUCCEEDED, operation_revision=COMMIT,
        operation_started_at=T("2026-11-26T10:01:00Z"), operation_finished_at=T("2026-11-26T10:01:01Z"),
        operation_message="successfully synced (all tasks run)", reconciled_at=T("2026-11-26T10:01:03Z"),
        health=model.HealthStatus.HEALTHY, automated=True, prune=True, repo_url="https://git.example/config.git",
        target_revision="env/api-dev")
    assert arrival.judge_app(status, COMMIT)[0] is arrival.AppVerdict.HEALTHY
    assert resources.app_ref_from_dict(argo_app()) == model.AppRef("argocd", "api-dev")


@pytest.mark.parametrize("changes, verdict", [
    pytest.param({"operationState": {"phase": "Running", "startedAt": "2026-11-26T10:01:00Z",
                                     "operation": {"sync": {"revision": COMMIT}}}}, arrival.AppVerdict.PENDING,
                 id="sync-running"),
    pytest.param({"reconciledAt": "2026-11-26T10:00:59Z"}, arrival.AppVerdict.PENDING, id="not-reconciled-since"),
    pytest.param({"health": {"status": "Suspended", "message": "Rollout is paused"}}, arrival.AppVerdict.SUSPENDED,
                 id="paused-rollout"),
    pytest.param({"health": {"status": "Degraded"}}, arrival.AppVerdict.DEGRADED, id="degraded"),
    pytest.param({"sync": {"status": "OutOfSync", "revision": "0" * 40}}, arrival.AppVerdict.PENDING,
                 id="out-of-sync"),
    pytest.param({"operationState": {"phase": "Failed", "message": "one or more objects failed to apply",
                                     "syncResult": {"revision": COMMIT}, "startedAt": "2026-11-26T10:01:00Z",
                                     "finishedAt": "2026-11-26T10:01:01Z"}},
                 arrival.AppVerdict.SYNC_FAILED, id="sync-failed"),
    pytest.param({"sync": {"status": "Synced", "revisions": [COMMIT, "1" * 40]},
                  "operationState": {"phase": "Succeeded", "syncResult": {"revisions": [COMMIT, "1" * 40]},
                                     "finishedAt": "2026-11-26T10:01:01Z"}},
                 arrival.AppVerdict.HEALTHY, id="multi-source-first-revision"),
    pytest.param({"health": {"status": "SomethingNew"}}, arrival.AppVerdict.PROGRESSING, id="unknown-health"),
    pytest.param({"operationState": None}, arrival.AppVerdict.HEALTHY, id="synced-without-any-operation"),
])
def test_argo_app_status_variants(changes: dict[str, Any], verdict: arrival.AppVerdict) -> None:
    assert arrival.judge_app(resources.argo_app_status(argo_app(**changes)), COMMIT)[0] is verdict


VALUES = {"repoURL": "https://git.example/values.git", "targetRevision": "main", "ref": "values"}
OURS = {"repoURL": "https://git.example/config.git", "targetRevision": "env/api-dev", "path": ".",
        "plugin": {"name": "k8sta"}}


def multi_source(*sources: dict[str, Any]) -> dict[str, Any]:
    """An Argo CD 3 multi-source Application: revisions are listed in the order of ``spec.sources``."""
    app = argo_app(sync={"status": "Synced", "revisions": ["1" * 40, COMMIT]},
                   operationState={"phase": "Succeeded", "startedAt": "2026-11-26T10:01:00Z",
                                   "finishedAt": "2026-11-26T10:01:01Z",
                                   "operation": {"sync": {"revisions": ["1" * 40, COMMIT]}},
                                   "syncResult": {"revisions": ["1" * 40, COMMIT]}})
    app["spec"].pop("source")
    app["spec"]["sources"] = list(sources)
    return app


def test_a_multi_source_application_is_judged_by_the_revision_of_its_k8sta_source() -> None:
    """Issue 19 item 7: the k8sta source is second here; its revision is the second of each list."""
    status = resources.argo_app_status(multi_source(VALUES, OURS))
    assert (status.synced_revision, status.operation_revision) == (COMMIT, COMMIT)
    assert (status.repo_url, status.target_revision, status.source_position) == (
        OURS["repoURL"], "env/api-dev", 2)
    assert arrival.judge_app(status, COMMIT)[0] is arrival.AppVerdict.HEALTHY


def test_a_multi_source_application_k8sta_cannot_tell_apart_reports_no_source() -> None:
    status = resources.argo_app_status(multi_source(OURS, OURS))
    assert (status.repo_url, status.target_revision, status.source_position) == (None, None, None)


def test_argo_app_without_status_or_garbage() -> None:
    bare = {"metadata": {"name": "x", "namespace": "argocd"}}
    assert resources.argo_app_status(bare) == model.AppStatus()
    assert resources.argo_app_status(None) == model.AppStatus.missing()
    assert resources.argo_app_status(argo_app(reconciledAt="not a time")).reconciled_at is None


def test_resources_are_pure_data_in_data_out() -> None:
    obj = ticket_obj()
    before = copy.deepcopy(obj)
    resources.ticket_from_dict(obj)
    assert obj == before
    ticket = resources.ticket_from_dict(obj)
    assert dataclasses.replace(ticket) == ticket
