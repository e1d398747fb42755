"""Pure conversion between Kubernetes/Argo CD object dicts and the core model.

Callers: the reactor (its loop builds a World from the watch cache; its units write status bodies,
child Tickets and Track conditions) and ``ops.store`` for the CLI and web part (reading Tickets).
Input dicts are what the ``kubernetes`` client returns from ``CustomObjectsApi`` or
``ApiClient.sanitize_for_serialization`` (camelCase JSON), and what the Argo CD REST API returns for
an Application. No I/O here.

Our objects (group ``k8sta.io``, version ``v1alpha1``; CRDs in kustomize/crds):

- Station ``spec``: ``applications: [{name, namespace?, disabled?}]`` (namespace defaults to the Argo CD
  namespace), ``tracks: [name]`` (junction), ``approvalRequired``, ``soakSeconds``, ``timeoutSeconds``,
  ``degradedGraceSeconds`` (integers, seconds, like Kubernetes' own ``*Seconds`` fields), ``disabled``,
  ``selfHeal`` (default true: repair hand edits of its app branches).
- Track ``spec``: ``stations: [name]``, ``boarding: NewestSupersedes|EveryTicketRides``, ``disabled``,
  ``hold: {reason, by?, since?, ticket?}`` (nothing boards but ``ticket``, a rollback's);
  ``status.conditions``; the ``k8sta.io/freeze`` annotation (``k8sta freeze``: the namespace is stopped).
- Track and Station ``spec.windows``: freeze windows (``windows_from``, ``core.windows``).
- Ticket ``spec``: ``track``, ``snapshot: {configCommit?, images: [{name, tag, digest?}]}``, ``parent``,
  ``approvedStations``, ``retry`` (a counter the operator bumps), ``abandon``, ``windowPass: {reason, by?,
  at?}`` (through freeze windows); ``status`` as in
  ``ticket_status_to_dict``. Creation order: ``metadata.creationTimestamp`` (1 s resolution), refined by
  the ``k8sta.io/created-at`` annotation when that falls within the same second; for a junction child
  (``spec.parent``) the annotation also counts when earlier (a re-created child keeps the place of its
  parent's departure, see ``_created``); ties break by name.

Malformed objects raise ``MalformedObject`` whose message names the object and the exact field; the
controller logs and skips malformed Tracks and Stations, and keeps a malformed Ticket as a
``model.MalformedTicket`` (``ticket_or_malformed``) so it keeps its Station and shows why. Argo CD
Applications are never "malformed": unknown or missing fields read as Unknown/absent, which the
arrival rule treats as "not arrived".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from k8sta_cmp import patterns
from k8sta_cmp.fields import Fields
from k8sta_daemon.core import actions, authorization, failures, model, sources, windows

GROUP = "k8sta.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
DEFAULT_ARGOCD_NAMESPACE = "argocd"
CREATED_AT_ANNOTATION = "k8sta.io/created-at"
CREATED_BY_ANNOTATION = "k8sta.io/created-by"
TRACK_LABEL = "k8sta.io/track"
PARENT_LABEL = "k8sta.io/parent"
FREEZE_ANNOTATION = "k8sta.io/freeze"  # on every Track of a frozen namespace: the reason (``k8sta freeze``)
FROZEN_BY_ANNOTATION = "k8sta.io/frozen-by"  # who froze it and when
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


class MalformedObject(ValueError):
    """An object that does not follow our CRD schema; the message names the object and the field."""


# -- field access with exact error paths ---------------------------------------------------------


def _fields(data: Any, what: str, path: str) -> Fields:
    """``data`` at ``path`` of ``what`` (e.g. ``Ticket shop/api-1``); errors are MalformedObject."""
    return Fields(data, what, path, error=MalformedObject)  # "" reads as absent, as in Kubernetes


def _meta(obj: Any, kind: str) -> tuple[Fields, str, str, str]:
    if not isinstance(obj, Mapping):
        raise MalformedObject(f"{kind}: object must be a mapping, got {type(obj).__name__}")
    meta = _fields(obj.get("metadata"), kind, "metadata")
    name = meta.string("name") or "?"
    namespace = meta.string("namespace") or "?"
    what = f"{kind} {namespace}/{name}"
    meta = _fields(meta.data, what, "metadata")
    meta.required("name")
    meta.required("namespace")
    return meta, what, namespace, name


# -- times --------------------------------------------------------------------------------------


def parse_time(value: Any) -> float:
    """RFC 3339 (``2026-11-26T10:50:18Z``, fractions allowed) or epoch seconds, to epoch seconds."""
    if isinstance(value, bool):
        raise ValueError(f"must be an RFC 3339 time, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 time, got {value!r}")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"must be an RFC 3339 time, got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_time(timestamp: float) -> str:
    """RFC 3339 in UTC; microseconds only when there are any (so whole seconds stay metav1-style)."""
    moment = datetime.fromtimestamp(round(timestamp, 6), UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- Track and Station --------------------------------------------------------------------------


def track_from_dict(obj: Any) -> model.TrackSpec:
    """A Track object to its spec (plus the conditions its status currently shows)."""
    _, what, namespace, name = _meta(obj, "Track")
    spec = _fields(obj.get("spec"), what, "spec")
    status = _fields(obj.get("status") or {}, what, "status")
    hold = spec.nested("hold")
    return model.TrackSpec(
        namespace=namespace, name=name,
        stations=spec.strings("stations"),
        boarding=spec.enum("boarding", model.Boarding, model.Boarding.NEWEST_SUPERSEDES),
        disabled=spec.boolean("disabled"),
        conditions=tuple(_condition_from(c) for c in status.mappings("conditions")),
        hold=hold.required("reason") if spec.data.get("hold") is not None else None,
        hold_ticket=hold.string("ticket") if spec.data.get("hold") is not None else None,
        windows=windows_from(spec),
        freeze=_freeze(obj),
    )


def station_from_dict(obj: Any, *, default_app_namespace: str = DEFAULT_ARGOCD_NAMESPACE) -> model.StationSpec:
    """A Station object to its spec; Applications without a namespace live in the Argo CD namespace."""
    _, what, namespace, name = _meta(obj, "Station")
    spec = _fields(obj.get("spec"), what, "spec")
    applications: list[model.AppRef] = []
    disabled: set[model.AppRef] = set()
    for entry in spec.mappings("applications"):
        ref = model.AppRef(entry.string("namespace") or default_app_namespace, entry.required("name"))
        if ref in applications:
            raise entry.fail("name", f"Application {ref} is listed twice")
        applications.append(ref)
        if entry.boolean("disabled"):
            disabled.add(ref)
    timeout = spec.integer("timeoutSeconds", minimum=1, default=None)
    return model.StationSpec(
        namespace=namespace, name=name,
        applications=tuple(applications),
        tracks=spec.strings("tracks"),
        approval_required=spec.boolean("approvalRequired"),
        soak_seconds=spec.integer("soakSeconds") or 0,
        timeout_seconds=float(timeout) if timeout is not None else None,
        degraded_grace_seconds=spec.integer("degradedGraceSeconds") or 0,
        disabled=spec.boolean("disabled"),
        disabled_applications=frozenset(disabled),
        self_heal=spec.data.get("selfHeal") is None or spec.boolean("selfHeal"),
        windows=windows_from(spec),
    )


def windows_from(spec: Fields) -> tuple[windows.Window, ...]:
    """``spec.windows`` of a Track or Station: ``[{kind: Deny|Allow, schedule, duration, timeZone} |
    {kind, from, to}]`` with an optional ``reason``; a bad cron, an unknown time zone or ``to`` before
    ``from`` is an error naming the field (``spec.windows[1].timeZone: ...``)."""
    found: list[windows.Window] = []
    for entry in spec.mappings("windows"):
        duration = entry.parsed("duration", _duration)
        window = windows.Window(
            kind=entry.enum("kind", windows.Kind),
            schedule=entry.string("schedule"),
            duration=duration or 0,
            timezone=entry.string("timeZone") or "UTC",
            start=entry.parsed("from", parse_time),
            end=entry.parsed("to", parse_time),
            reason=entry.string("reason") or "",
        )
        try:
            windows.check(window)
        except windows.InvalidWindow as exc:
            raise entry.fail(exc.field, str(exc)) from None
        found.append(window)
    return tuple(found)


def _duration(value: Any) -> float:
    """A Go-style duration as Argo CD's sync windows write it (``1h30m``, ``45m``, ``90s``)."""
    match = _DURATION.match(value) if isinstance(value, str) and value else None
    if match is None:
        raise ValueError(f"must be a duration such as 2h, 30m or 1h30m, got {value!r}")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def _freeze(obj: Mapping[str, Any]) -> str | None:
    """The namespace's stop-the-line as this Track carries it: the reason, and who froze it when."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, Mapping) or FREEZE_ANNOTATION not in annotations:
        return None
    reason = str(annotations.get(FREEZE_ANNOTATION) or "").strip() or "no reason given"
    by = str(annotations.get(FROZEN_BY_ANNOTATION) or "").strip()
    return f"{reason} (by {by})" if by else reason


def track_status_with_condition(obj: Any, condition: model.Condition) -> dict[str, Any]:
    """The Track's status body with ``condition`` set (other condition types kept)."""
    status = dict(obj.get("status") or {}) if isinstance(obj, Mapping) else {}
    kept = [c for c in status.get("conditions") or [] if isinstance(c, Mapping)
            and c.get("type") != condition.type.value]
    status["conditions"] = [*kept, condition_to_dict(condition)]
    generation = (obj.get("metadata") or {}).get("generation") if isinstance(obj, Mapping) else None
    if isinstance(generation, int):
        status["observedGeneration"] = generation
    return status


# -- conditions ---------------------------------------------------------------------------------


def condition_to_dict(condition: model.Condition) -> dict[str, Any]:
    body: dict[str, Any] = {"type": condition.type.value, "status": condition.status.value,
                            "reason": condition.reason.value, "message": condition.message}
    if condition.last_transition_time is not None:
        body["lastTransitionTime"] = format_time(condition.last_transition_time)
    return body


def _condition_from(fields: Fields) -> model.Condition:
    return model.Condition(
        type=fields.enum("type", model.ConditionType),
        status=fields.enum("status", model.ConditionStatus),
        reason=fields.enum("reason", model.ConditionReason),
        message=fields.string("message") or "",
        last_transition_time=fields.parsed("lastTransitionTime", parse_time),
    )


# -- Ticket -------------------------------------------------------------------------------------


def ticket_from_dict(obj: Any) -> model.Ticket:
    """A Ticket object (spec, status and creation order) to the model."""
    meta, what, namespace, name = _meta(obj, "Ticket")
    spec = _fields(obj.get("spec"), what, "spec")
    raw_status = obj.get("status")
    return model.Ticket(
        namespace=namespace, name=name,
        uid=meta.string("uid") or "",
        created=_created(meta, child=spec.string("parent") is not None),
        track=spec.required("track"),
        snapshot=snapshot_from_dict(spec.nested("snapshot", required=True)),
        parent=spec.string("parent"),
        approved_stations=frozenset(spec.strings("approvedStations")),
        retry_count=spec.integer("retry") or 0,
        abandon=spec.boolean("abandon"),
        status=ticket_status_from_dict(raw_status, what) if raw_status else model.TicketStatus(),
        window_pass=spec.nested("windowPass").required("reason") if spec.data.get("windowPass") else None,
    )


def ticket_or_malformed(obj: Any) -> model.Ticket | model.MalformedTicket:
    """``ticket_from_dict``, or, when the decoder rejects the object, a ``model.MalformedTicket`` that
    keeps what decide needs (the Station it holds, its conditions, the field error). Raises
    ``MalformedObject`` only for an object without a readable namespace and name."""
    try:
        return ticket_from_dict(obj)
    except MalformedObject as exc:
        return malformed_ticket(obj, str(exc))


def malformed_ticket(obj: Any, error: str) -> model.MalformedTicket:
    """What can still be read of a rejected Ticket: the Station its status names (None when its
    status says it is terminal) and its conditions, each read leniently."""
    meta = _mapping(obj.get("metadata")) if isinstance(obj, Mapping) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if not (isinstance(name, str) and name and isinstance(namespace, str) and namespace):
        raise MalformedObject(error)
    status = _mapping(obj.get("status"))
    station = status.get("station")
    terminal = {s.value for s in model.TicketState if s.terminal}
    if not isinstance(station, str) or not station or status.get("state") in terminal:
        station = None
    conditions: list[model.Condition] = []
    for item in status.get("conditions") or [] if isinstance(status.get("conditions"), list) else []:
        try:
            conditions.append(_condition_from(_fields(item, f"Ticket {namespace}/{name}", "status.conditions")))
        except MalformedObject:
            continue
    return model.MalformedTicket(namespace, name, error, station, tuple(conditions))


def ticket_status_with_condition(obj: Any, condition: model.Condition) -> dict[str, Any]:
    """The Ticket's status body with ``condition`` set (FALSE: removed), everything else kept as is
    (for ``actions.SetTicketCondition`` on a Ticket whose spec cannot be read)."""
    status = dict(obj.get("status") or {}) if isinstance(obj, Mapping) else {}
    kept = [c for c in status.get("conditions") or [] if isinstance(c, Mapping)
            and c.get("type") != condition.type.value]
    if condition.status is model.ConditionStatus.TRUE:
        kept.append(condition_to_dict(condition))
    status["conditions"] = kept
    return status


def _created(meta: Fields, child: bool = False) -> float:
    """A ticket's place in its Track's order.

    ``creationTimestamp`` is the API server's clock, the one every creator shares, so the annotation
    (the creator's clock) only refines it within its second and never moves a ticket ahead of one
    created before it. A junction child is the exception: its annotation is the core's own decision
    (its parent's departure from the junction, ``decide.child_origin``), and a child created again
    (its first create failed, or it was deleted before the parent saw it) is created later than that:
    it keeps the earlier place, or it would rank as the newest ticket of its Track and deploy its
    parent's older snapshot after (or instead of) the children of parents that departed later. A later
    annotation never counts (a clock ahead)."""
    stamp = meta.parsed("creationTimestamp", parse_time)
    annotations = meta.data.get("annotations") or {}
    precise: float | None = None
    if isinstance(annotations, Mapping) and annotations.get(CREATED_AT_ANNOTATION):
        try:
            precise = parse_time(annotations[CREATED_AT_ANNOTATION])
        except ValueError:
            raise meta.fail(f"annotations[{CREATED_AT_ANNOTATION}]", "must be an RFC 3339 time") from None
    if stamp is None:
        if precise is None:
            raise meta.fail("creationTimestamp", "is required")
        return precise
    if precise is not None and math.floor(precise) == math.floor(stamp):
        return precise  # refines the 1-second creationTimestamp, never contradicts it
    if precise is not None and child and precise < stamp:
        return precise  # a child created again keeps its place (its parent's departure)
    return stamp


def snapshot_from_dict(fields: Fields | Mapping[str, Any]) -> model.Snapshot:
    if not isinstance(fields, Fields):
        fields = _fields(fields, "snapshot", "")
    pins: list[model.ImagePin] = []
    seen: set[str] = set()
    for image in fields.mappings("images"):
        pin = model.ImagePin(
            name=image.required("name"), tag=image.required("tag"),
            digest=image.string("digest", pattern=patterns.DIGEST, what="sha256:<64 lowercase hex>"))
        if pin.name in seen:
            raise image.fail("name", f"image {pin.name} is pinned twice")
        seen.add(pin.name)
        pins.append(pin)
    return model.Snapshot(
        config_commit=fields.string("configCommit", pattern=patterns.COMMIT, what="a full git commit id"),
        images=tuple(pins))


def snapshot_to_dict(snapshot: model.Snapshot) -> dict[str, Any]:
    images = []
    for pin in snapshot.images:
        image = {"name": pin.name, "tag": pin.tag}
        if pin.digest:
            image["digest"] = pin.digest
        images.append(image)
    body: dict[str, Any] = {"images": images}
    if snapshot.config_commit:
        body["configCommit"] = snapshot.config_commit
    return body


def ticket_status_from_dict(status: Any, what: str = "Ticket") -> model.TicketStatus:
    fields = _fields(status, what, "status")
    return model.TicketStatus(
        state=fields.enum("state", model.TicketState, model.TicketState.WAITING),
        station=fields.string("station"),
        journey=tuple(_record_from(r) for r in fields.mappings("journey")),
        children=fields.strings("children"),
        spawned=fields.strings("spawned"),
        observed_retry=fields.integer("observedRetry") or 0,
        conditions=tuple(_condition_from(c) for c in fields.mappings("conditions")
                         if c.data.get("type") != failures.CONDITION_TYPE),  # the reactor's own
        message=fields.string("message") or "",
    )


def trouble_of(obj: Any) -> failures.Trouble | None:
    """The reactor's ``ActionFailed`` condition of a Ticket object, if it carries one."""
    status = obj.get("status") if isinstance(obj, Mapping) else None
    for condition in (status or {}).get("conditions") or [] if isinstance(status, Mapping) else []:
        if isinstance(condition, Mapping) and condition.get("type") == failures.CONDITION_TYPE:
            return failures.Trouble(station=condition.get("station"), reason=str(condition.get("reason", "")),
                                    message=str(condition.get("message", "")))
    return None


def with_trouble(status: dict[str, Any], trouble: failures.Trouble | None, now: float) -> dict[str, Any]:
    """A Ticket status body with the ``ActionFailed`` condition set to ``trouble`` (None: removed)."""
    kept = [c for c in status.get("conditions") or [] if isinstance(c, Mapping)
            and c.get("type") != failures.CONDITION_TYPE]
    if trouble is not None:
        condition = {"type": failures.CONDITION_TYPE, "status": "True", "reason": trouble.reason,
                     "message": trouble.message, "lastTransitionTime": format_time(now)}
        if trouble.station is not None:
            condition["station"] = trouble.station
        kept.append(condition)
    body = {k: v for k, v in status.items() if k != "conditions"}
    if kept:
        body["conditions"] = kept
    return body


def _app_ref(fields: Fields) -> model.AppRef:
    return model.AppRef(fields.required("namespace"), fields.required("name"))


def _record_from(fields: Fields) -> model.JourneyRecord:
    return model.JourneyRecord(
        station=fields.required("station"),
        state=fields.enum("state", model.JourneyState),
        entered_at=fields.parsed("enteredAt", parse_time),
        arrived_at=fields.parsed("arrivedAt", parse_time),
        departed_at=fields.parsed("departedAt", parse_time),
        pushed=tuple(model.PushedCommit(
            app=_app_ref(p.nested("application", required=True)),
            repo_url=p.string("repoURL") or "",
            branch=p.string("branch") or "",
            commit=p.required("commit")) for p in fields.mappings("pushed")),
        skipped_applications=tuple(_app_ref(a) for a in fields.mappings("skippedApplications")),
        healthy_since=fields.parsed("healthySince", parse_time),
        degraded_since=fields.parsed("degradedSince", parse_time),
        arrival_lost_at=fields.parsed("arrivalLostAt", parse_time),
        drift=tuple(model.Drift(app=_app_ref(d.nested("application", required=True)),
                                branch=d.string("branch") or "", head=d.required("head"))
                    for d in fields.mappings("drift")),
        message=fields.string("message") or "",
    )


def ticket_status_to_dict(status: model.TicketStatus) -> dict[str, Any]:
    """The Ticket's status subresource body; ``ticket_status_from_dict`` reads it back unchanged."""
    body: dict[str, Any] = {"state": status.state.value, "observedRetry": status.observed_retry,
                            "journey": [_record_to(r) for r in status.journey]}
    if status.station is not None:
        body["station"] = status.station
    if status.children:
        body["children"] = list(status.children)
    if status.spawned:
        body["spawned"] = list(status.spawned)
    if status.conditions:
        body["conditions"] = [condition_to_dict(c) for c in status.conditions]
    if status.message:
        body["message"] = status.message
    return body


def _record_to(record: model.JourneyRecord) -> dict[str, Any]:
    body: dict[str, Any] = {"station": record.station, "state": record.state.value}
    for key, value in (("enteredAt", record.entered_at), ("arrivedAt", record.arrived_at),
                       ("departedAt", record.departed_at), ("healthySince", record.healthy_since),
                       ("degradedSince", record.degraded_since), ("arrivalLostAt", record.arrival_lost_at)):
        if value is not None:
            body[key] = format_time(value)
    if record.pushed:
        body["pushed"] = [{"application": {"namespace": p.app.namespace, "name": p.app.name},
                           "repoURL": p.repo_url, "branch": p.branch, "commit": p.commit}
                          for p in record.pushed]
    if record.drift:
        body["drift"] = [{"application": {"namespace": d.app.namespace, "name": d.app.name},
                          "branch": d.branch, "head": d.head} for d in record.drift]
    if record.skipped_applications:
        body["skippedApplications"] = [{"namespace": a.namespace, "name": a.name}
                                       for a in record.skipped_applications]
    if record.message:
        body["message"] = record.message
    return body


def child_ticket_body(action: actions.SpawnTicket, parent: Any) -> dict[str, Any]:
    """The manifest of a junction's child Ticket (creating it twice is AlreadyExists: idempotent)."""
    labels = {TRACK_LABEL: action.track}
    if _LABEL_VALUE.match(action.parent.name) and len(action.parent.name) <= 63:
        labels[PARENT_LABEL] = action.parent.name
    return {
        "apiVersion": API_VERSION,
        "kind": "Ticket",
        "metadata": {
            "name": action.name,
            "namespace": action.parent.namespace,
            "labels": labels,
            "annotations": {CREATED_AT_ANNOTATION: format_time(action.created_at),
                            CREATED_BY_ANNOTATION: f"junction: ticket {action.parent.name}"},
        },
        "spec": {"track": action.track, "snapshot": snapshot_to_dict(action.snapshot),
                 "parent": action.parent.name},
    }


# -- Argo CD Applications -----------------------------------------------------------------------


def app_ref_from_dict(app: Mapping[str, Any]) -> model.AppRef:
    meta = app.get("metadata") or {}
    return model.AppRef(str(meta.get("namespace") or DEFAULT_ARGOCD_NAMESPACE), str(meta.get("name") or ""))


def health_reasons(tree: Any, health: Any) -> str:
    """Argo CD's reasons for an Application's ``health`` from its resource tree: each resource of that
    health with a message, as ``Kind name: message``, joined by ``; `` (sorted, so stable)."""
    nodes = _mapping(tree).get("nodes")
    reasons = set()
    for node in nodes if isinstance(nodes, list) else []:
        node_health = _mapping(_mapping(node).get("health"))
        message = node_health.get("message")
        if node_health.get("status") == health and isinstance(message, str) and message.strip():
            reasons.add(f"{node.get('kind')} {node.get('name')}: {message.strip()}")
    return "; ".join(sorted(reasons))


def app_status_from_dict(app: Any, reasons: str = "") -> model.AppStatus:
    """What the arrival rule needs from an Argo CD Application (REST API or Kubernetes JSON).

    Reads ``status.sync.status/revision`` (for a multi-source Application, the entry of ``revisions``
    at the K8sTA source's position, ``sources.k8sta_source``; the first when that cannot be told),
    ``status.operationState.phase/startedAt/finishedAt/message/syncResult.revision``,
    ``status.reconciledAt``, ``status.health.status/message``, the error conditions of
    ``status.conditions`` (types ending in ``Error``: ComparisonError, SyncError, ...), whether
    ``spec.syncPolicy.automated`` is on (None when the spec is absent) and its ``prune`` (kept also
    under ``enabled: false``: the owner's choice, see ``actions.RequestSync``), and the opt-in annotation
    ``k8sta.io/authorized-namespaces`` (``authorization``). Anything missing or
    unknown stays absent/Unknown, which never counts as arrived. ``reasons`` (``health_reasons`` of the
    resource tree) come first: Argo CD 3.2-3.5 set no Application-level health message, and 3.6 sets
    one that names resources, not why (``Caused by argoproj.io/Rollout:ns/api``), and keeps it while the
    health status stays the same (controller/health.go), so it can be stale. Argo CD's own message is
    the fallback when the tree gave no reason.
    """
    if not isinstance(app, Mapping):
        return model.AppStatus.missing()
    status = _mapping(app.get("status"))
    sync = _mapping(status.get("sync"))
    operation = _mapping(status.get("operationState"))
    result = _mapping(operation.get("syncResult"))
    health = _mapping(status.get("health"))
    requested = _mapping(_mapping(operation.get("operation")).get("sync"))
    position, repo_url, target = _our_source(app)
    return model.AppStatus(
        exists=True,
        sync_status=_enum(model.SyncStatus, sync.get("status"), model.SyncStatus.UNKNOWN),
        synced_revision=_revision(sync, position),
        operation_phase=_enum(model.OperationPhase, operation.get("phase"), None),
        operation_revision=_revision(result, position) or _revision(requested, position),
        operation_started_at=_time(operation.get("startedAt")),
        operation_finished_at=_time(operation.get("finishedAt")),
        operation_message=str(operation.get("message") or ""),
        reconciled_at=_time(status.get("reconciledAt")),
        health=_enum(model.HealthStatus, health.get("status"), model.HealthStatus.UNKNOWN),
        health_message=reasons or str(health.get("message") or ""),
        automated=_automated(app.get("spec")),
        prune=_prune(app.get("spec")),
        conditions=tuple(
            model.AppCondition(str(c["type"]), str(c.get("message") or ""))
            for c in status.get("conditions") or [] if isinstance(c, Mapping)
            and isinstance(c.get("type"), str) and c["type"].endswith("Error")),
        repo_url=repo_url, target_revision=target, source_position=position,
        authorized_namespaces=authorization.annotation_of(app),
    )


def _our_source(app: Mapping[str, Any]) -> tuple[int | None, str | None, str | None]:
    """Position, repoURL and targetRevision of the K8sTA source (all None when it cannot be told)."""
    spec = app.get("spec")
    if not isinstance(spec, Mapping):
        return None, None, None
    metadata = _mapping(app.get("metadata"))
    ref = model.AppRef(str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
    try:
        position, source = sources.k8sta_source(ref, spec)
    except sources.InvalidSource:
        return None, None, None
    repo_url, target = source.get("repoURL"), source.get("targetRevision")
    return (position, repo_url if isinstance(repo_url, str) else None,
            target if isinstance(target, str) else None)


def _automated(spec: Any) -> bool | None:
    if not isinstance(spec, Mapping):
        return None
    automated = _mapping(spec.get("syncPolicy")).get("automated")
    return isinstance(automated, Mapping) and automated.get("enabled") is not False


def _prune(spec: Any) -> bool:
    return _mapping(_mapping(_mapping(spec).get("syncPolicy")).get("automated")).get("prune") is True


argo_app_status = app_status_from_dict


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _revision(section: Mapping[str, Any], position: int | None = None) -> str | None:
    """``revision``, or for a multi-source Application the entry of ``revisions`` at ``position``."""
    revisions = section.get("revisions")
    if position is not None and isinstance(revisions, list) and revisions:
        found = revisions[position - 1] if position <= len(revisions) else None
        return found if isinstance(found, str) and found else None
    revision = section.get("revision")
    if isinstance(revision, str) and revision:
        return revision
    if isinstance(revisions, list) and revisions and isinstance(revisions[0], str) and revisions[0]:
        return revisions[0]
    return None


def _enum(kind: type[Any], value: Any, default: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        return default


def _time(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
