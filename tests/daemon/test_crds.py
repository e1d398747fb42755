"""The CRDs in kustomize/crds, checked without an API server: shape, printer columns, enums in step with
the model, and their OpenAPI schemas accepting good objects and rejecting malformed ones.

The validator below implements the subset of OpenAPI v3 / Kubernetes structural schemas our CRDs use
(type, required, properties, enum, pattern, min/max, format date-time, list-type set/map) and, like
``kubectl`` with strict field validation, treats unknown fields as errors. CEL rules
(x-kubernetes-validations, transition rules) are checked on the real API server by the stack tests.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8sta_daemon.core import actions, failures, model, station_status
from k8sta_daemon.core import codec as resources

from .test_resources import _journey_statuses, station_obj, ticket_obj, track_obj

CRDS = Path(__file__).resolve().parents[2] / "kustomize" / "crds"


def _load() -> dict[str, dict[str, Any]]:
    docs = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                docs[doc["spec"]["names"]["kind"]] = doc
    return docs


CRD = _load()


def _version(kind: str) -> dict[str, Any]:
    (version,) = CRD[kind]["spec"]["versions"]
    return version


def _schema(kind: str) -> dict[str, Any]:
    return _version(kind)["schema"]["openAPIV3Schema"]


def validate(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Errors of ``value`` against ``schema`` (empty when valid)."""
    where = path or "<root>"
    kind = schema.get("type")
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: must be an object"]
        errors += [f"{path}.{key}: required" for key in schema.get("required", []) if key not in value]
        properties = schema.get("properties")
        for key, item in value.items():
            if properties is None:
                continue
            if key not in properties:
                errors.append(f"{path}.{key}: unknown field")
            else:
                errors += validate(properties[key], item, f"{path}.{key}")
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: must be an array"]
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{where}: {len(value)} items out of bounds")
        for index, item in enumerate(value):
            errors += validate(schema["items"], item, f"{path}[{index}]")
        list_type = schema.get("x-kubernetes-list-type")
        keys = ([repr(v) for v in value] if list_type == "set" else
                [repr([v.get(k) for k in schema["x-kubernetes-list-map-keys"]]) for v in value if isinstance(v, dict)]
                if list_type == "map" else [])
        if len(keys) != len(set(keys)):
            errors.append(f"{where}: duplicate entries in a {list_type}")
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{where}: must be a string"]
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            errors.append(f"{where}: length out of bounds")
        if schema.get("format") == "date-time":
            try:
                datetime.fromisoformat(value)
            except ValueError:
                errors.append(f"{where}: not a date-time")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: must be an integer"]
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            errors.append(f"{where}: {value} out of bounds")
    elif kind == "boolean" and not isinstance(value, bool):
        return [f"{where}: must be a boolean"]
    return errors


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    nodes = [(path, schema)]
    for key, child in (schema.get("properties") or {}).items():
        nodes += _walk(child, f"{path}.{key}")
    if "items" in schema:
        nodes += _walk(schema["items"], f"{path}[]")
    return nodes


# -- shape --------------------------------------------------------------------------------------


def test_four_namespaced_kinds_in_one_group_and_version() -> None:
    assert set(CRD) == {"Station", "Track", "Ticket", "Subscription"}
    for kind, crd in CRD.items():
        spec = crd["spec"]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["name"] == f"{spec['names']['plural']}.k8sta.io"
        assert (spec["group"], spec["scope"]) == ("k8sta.io", "Namespaced")
        assert spec["names"]["kind"] == kind
        version = _version(kind)
        assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)


def test_kustomization_lists_every_crd_file() -> None:
    kustomization = yaml.safe_load((CRDS / "kustomization.yaml").read_text())
    files = {p.name for p in CRDS.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


@pytest.mark.parametrize("kind, has_status", [("Ticket", True), ("Track", True), ("Station", True)])
def test_status_subresource(kind: str, has_status: bool) -> None:
    assert ("status" in (_version(kind).get("subresources") or {})) is has_status


def test_kubectl_get_tickets_shows_track_state_station_age() -> None:
    columns = [(c["name"], c["jsonPath"]) for c in _version("Ticket")["additionalPrinterColumns"]
               if c.get("priority", 0) == 0]
    assert columns == [("Track", ".spec.track"), ("State", ".status.state"), ("Station", ".status.station"),
                       ("Age", ".metadata.creationTimestamp")]


def test_schemas_are_structural() -> None:
    """Every node has a type, and every default is valid against its own schema."""
    for kind in CRD:
        for path, node in _walk(_schema(kind)):
            assert "type" in node, f"{kind}{path}: no type"
            if "default" in node:
                assert validate(node, node["default"]) == [], f"{kind}{path}: bad default"


def _enum_at(kind: str, path: str) -> set[str]:
    node = _schema(kind)
    for part in path.split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return set(node["enum"])


TRACK_REASONS = {model.ConditionReason.VALID, model.ConditionReason.DISABLED, model.ConditionReason.CYCLE_DETECTED,
                 model.ConditionReason.STATION_NOT_FOUND, model.ConditionReason.JUNCTION_TRACK_NOT_FOUND,
                 model.ConditionReason.DUPLICATE_STATION, model.ConditionReason.STATION_ORDER_CONFLICT,
                 model.ConditionReason.JUNCTION_SHARES_STATION, model.ConditionReason.APPLICATION_SHARED}


@pytest.mark.parametrize("kind, path, values", [
    ("Ticket", "status.state", {s.value for s in model.TicketState}),
    ("Ticket", "status.journey.[].state", {s.value for s in model.JourneyState}),
    ("Ticket", "status.conditions.[].type", {model.ConditionType.BLOCKED.value, model.ConditionType.MALFORMED.value,
                                             failures.CONDITION_TYPE}),  # ActionFailed: the reactor's own
    ("Ticket", "status.conditions.[].reason", {r.value for r in set(model.ConditionReason) - TRACK_REASONS}
     | {failures.Reason.RETRYING, failures.Reason.UNEXPECTED}),
    ("Track", "status.conditions.[].type", {model.ConditionType.READY.value}),
    # ApplicationNotAuthorized: on the Track (Ready=False) and on its tickets (Blocked)
    ("Track", "status.conditions.[].reason", {r.value for r in TRACK_REASONS}
     | {model.ConditionReason.APPLICATION_NOT_AUTHORIZED.value}),
    ("Track", "spec.boarding", {b.value for b in model.Boarding}),
    ("Station", "status.source", {s.value for s in station_status.Source}),
    ("Station", "status.applications.[].sync", {s.value for s in model.SyncStatus}),
    ("Station", "status.applications.[].health", {h.value for h in model.HealthStatus}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_enums_match_the_model(kind: str, path: str, values: set[str]) -> None:
    assert _enum_at(kind, path) == values


# -- samples ------------------------------------------------------------------------------------




@pytest.mark.parametrize("kind, make", [("Ticket", ticket_obj), ("Station", station_obj), ("Track", track_obj)])
def test_realistic_objects_are_valid(kind: str, make: Any) -> None:
    assert validate(_schema(kind), make()) == []


def _with(make: Any, path: str, value: Any) -> dict[str, Any]:
    obj = make()
    *parents, last = path.split(".")
    node = obj
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return obj


_DELETE = object()


@pytest.mark.parametrize("kind, obj, problem", [
    pytest.param("Ticket", _with(ticket_obj, "spec.track", _DELETE), "spec.track: required", id="no-track"),
    pytest.param("Ticket", _with(ticket_obj, "spec.snapshot", _DELETE), "spec.snapshot: required", id="no-snapshot"),
    pytest.param("Ticket", _with(ticket_obj, "spec.snapshot.images.0.digest", "sha256:" + "A" * 64), "digest",
                 id="digest-uppercase"),
    pytest.param("Ticket", _with(ticket_obj, "spec.snapshot.images.0.digest", "sha256:abc"), "digest",
                 id="digest-short"),
    pytest.param("Ticket", _with(ticket_obj, "spec.snapshot.images.0.name", "Registry/API:1"), "name",
                 id="image-name-with-tag"),
    pytest.param("Ticket", _with(ticket_obj, "spec.snapshot.images.0.tag", "-bad"), "tag", id="bad-tag"),
    pytest.param("Ticket", _with(ticket_obj, "spec.snapshot.images.1.name", "registry.example/team/api"),
                 "duplicate", id="image-pinned-twice"),
    pytest.param("Ticket", _with(ticket_obj, "spec.snapshot.configCommit", "main"), "configCommit",
                 id="config-commit-branch-name"),
    pytest.param("Ticket", _with(ticket_obj, "spec.retry", -1), "retry", id="negative-retry"),
    pytest.param("Ticket", _with(ticket_obj, "spec.retry", "1"), "retry", id="retry-string"),
    pytest.param("Ticket", _with(ticket_obj, "spec.abandon", "yes"), "abandon", id="abandon-string"),
    pytest.param("Ticket", _with(ticket_obj, "spec.approvedStations", ["prod", "prod"]), "duplicate",
                 id="approved-twice"),
    pytest.param("Ticket", _with(ticket_obj, "spec.rocket", True), "unknown field", id="unknown-spec-field"),
    pytest.param("Ticket", _with(ticket_obj, "status.state", "Flying"), "status.state", id="unknown-state"),
    pytest.param("Ticket", _with(ticket_obj, "status.journey.0.state", "Teleported"), "state",
                 id="unknown-journey-state"),
    pytest.param("Ticket", _with(ticket_obj, "status.journey.0.enteredAt", "yesterday"), "date-time",
                 id="journey-time-not-rfc3339"),
    pytest.param("Ticket", _with(ticket_obj, "status.journey.0.pushed.0.commit", "HEAD"), "commit",
                 id="pushed-commit-not-a-sha"),
    pytest.param("Station", _with(station_obj, "spec.applications.0.name", _DELETE), "name: required",
                 id="application-without-name"),
    pytest.param("Station", _with(station_obj, "spec.applications.0.name", "API_Prod"), "name",
                 id="application-name-invalid"),
    pytest.param("Station", _with(station_obj, "spec.soakSeconds", "10m"), "soakSeconds", id="soak-string"),
    pytest.param("Station", _with(station_obj, "spec.soakSeconds", -5), "soakSeconds", id="negative-soak"),
    pytest.param("Station", _with(station_obj, "spec.timeoutSeconds", 0), "timeoutSeconds", id="zero-timeout"),
    pytest.param("Station", _with(station_obj, "spec.tracks", ["eu", "eu"]), "duplicate", id="junction-twice"),
    pytest.param("Station", _with(station_obj, "spec", _DELETE), "spec: required", id="station-no-spec"),
    pytest.param("Track", _with(track_obj, "spec.stations", []), "items out of bounds", id="no-stations"),
    pytest.param("Track", _with(track_obj, "spec.stations", ["dev", "dev"]), "duplicate", id="station-twice"),
    pytest.param("Track", _with(track_obj, "spec.stations", ["Dev Env"]), "stations", id="station-name-invalid"),
    pytest.param("Track", _with(track_obj, "spec.boarding", "Random"), "boarding", id="unknown-boarding"),
    pytest.param("Track", _with(track_obj, "status.conditions.0.reason", "Whatever"), "reason",
                 id="unknown-track-reason"),
])
def test_malformed_objects_are_rejected(kind: str, obj: dict[str, Any], problem: str) -> None:
    errors = validate(_schema(kind), obj)
    assert errors, "accepted a malformed object"
    assert any(problem in e for e in errors), errors


# -- what the daemon writes fits the schema -----------------------------------------------------


def test_every_status_decide_writes_is_valid() -> None:
    status_schema = _schema("Ticket")["properties"]["status"]
    for status in _journey_statuses():
        body = resources.ticket_status_to_dict(status)
        assert validate(status_schema, body, ".status") == [], body


def test_station_status_is_valid_and_shown_in_columns() -> None:
    status = station_status.StationStatus(
        source=station_status.Source.TICKET, ticket="api-1", track="api", arrived_at=1_795_000_000.25,
        snapshot=model.Snapshot("a" * 40, (model.ImagePin("registry.local/shop/api", "1.4.2", "sha256:" + "b" * 64),)),
        applications=(station_status.AppVersion(model.AppRef("argocd", "api-prod"), "env/prod", "c" * 40,
                                                model.SyncStatus.SYNCED, model.HealthStatus.HEALTHY),))
    body = station_status.to_dict(status)
    assert validate(_schema("Station")["properties"]["status"], body, ".status") == []
    columns = {c["name"]: c["jsonPath"] for c in _version("Station")["additionalPrinterColumns"]}
    assert columns["Version"] == ".status.version" and body["version"] == "aaaaaaa api:1.4.2"
    assert columns["Ticket"] == ".status.ticket" and body["ticket"] == "api-1"


def test_child_ticket_body_is_valid() -> None:
    action = actions.SpawnTicket(model.TicketRef("team", "api-7"), "api-7-eu", "eu",
                                 resources.ticket_from_dict(ticket_obj()).snapshot, 1_800_000_000.25)
    assert validate(_schema("Ticket"), resources.child_ticket_body(action, ticket_obj())) == []


@pytest.mark.parametrize("reason", sorted(TRACK_REASONS, key=lambda r: r.value), ids=lambda r: r.value)
def test_track_status_is_valid(reason: model.ConditionReason) -> None:
    condition = model.Condition(model.ConditionType.READY, model.ConditionStatus.FALSE, reason, "why", 1.5e9)
    status = resources.track_status_with_condition(copy.deepcopy(track_obj()), condition)
    assert validate(_schema("Track")["properties"]["status"], status, ".status") == []
