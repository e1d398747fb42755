"""Which Stations may drive an Argo CD Application: only those in namespaces the Application names.

Callers: ``decide.decide`` (a Track any of whose enabled Stations names an Application that has not
opted in to the Station's namespace is not Ready, and its tickets are Blocked: nothing is pushed,
synced, repaired or announced on that Application), and the units that write app branches
(``reactor/units/push_station.py``, ``watch/config.py``'s re-render), which ask again with the
Application they are about to write for, so an opt-in withdrawn after the decision still stops them.

The opt-in is the annotation ``k8sta.io/authorized-namespaces`` on the Application: a comma-separated
list of namespaces. Only who may edit the Application can set it, so its owners decide which
namespaces' Stations (and so whose Tickets, gates and credentials) drive it; Kargo's
``kargo.akuity.io/authorized-stage`` makes the same choice. Why namespaces rather than Stations: the
namespace is the RBAC boundary. Whoever may create Stations in a namespace may name one anything, so
naming a Station would add no safety over naming its namespace. Why no ``*``: a wildcard would let
every namespace drive the Application, including namespaces created later by someone else, which is
exactly what the opt-in exists to prevent; it is refused with a message saying so.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from k8sta_daemon.core import graph, model

ANNOTATION = "k8sta.io/authorized-namespaces"
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # a DNS-1123 label, as namespace names are


def refusal(app: model.AppRef, namespace: str, annotation: str | None) -> str | None:
    """Why a Station in ``namespace`` may not drive ``app`` (None: it may), given the annotation's value."""
    hint = f"add the annotation {ANNOTATION}: \"{namespace}\" to Application {app}"
    if annotation is None or not annotation.strip():
        return (f"Application {app} has not opted in to being driven by K8sTA from namespace {namespace}: "
                f"{hint} (its owners decide; nothing is pushed or synced until then)")
    names = [part.strip() for part in annotation.split(",") if part.strip()]
    if "*" in names:
        return (f"Application {app}: {ANNOTATION} contains \"*\", which K8sTA does not accept (any namespace, "
                f"also ones created later, could drive it): name each namespace, e.g. {namespace}")
    invalid = [name for name in names if not _NAMESPACE.match(name)]
    if invalid:
        return (f"Application {app}: {ANNOTATION} names {', '.join(repr(n) for n in invalid)}, not a namespace "
                "name (a comma-separated list of namespaces is expected); fix the annotation")
    if namespace not in names:
        return (f"Application {app} authorizes only namespace(s) {', '.join(names)} ({ANNOTATION}), "
                f"not {namespace}: its owners add {namespace} to that list if Stations there may drive it")
    return None


def annotation_of(application: Mapping[str, Any]) -> str | None:
    """The opt-in annotation of an Application as the Argo CD API or Kubernetes returns it (None: absent)."""
    metadata = application.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    value = annotations.get(ANNOTATION) if isinstance(annotations, Mapping) else None
    return value if isinstance(value, str) else None


def project_of(application: Mapping[str, Any]) -> str | None:
    """The Argo CD project of an Application (its JSON); the git credentials it may use follow it."""
    spec = application.get("spec")
    project = spec.get("project") if isinstance(spec, Mapping) else None
    return project if isinstance(project, str) and project else None


def station_refusals(station: model.StationSpec, apps: Mapping[model.AppRef, model.AppStatus]) -> tuple[str, ...]:
    """Why ``station`` may not drive its enabled Applications (empty: it may drive them all).

    An Application Argo CD does not know is not refused here: nothing can be pushed to it (the push
    unit needs its source) and the ticket says it is missing; once it exists its annotation decides."""
    found = []
    for app in station.active_applications:
        status = apps.get(app)
        if status is None or not status.exists:
            continue
        why = refusal(app, station.namespace, status.authorized_namespaces)
        if why is not None:
            found.append(why)
    return tuple(found)


def authorized(station: model.StationSpec, app: model.AppRef,
               apps: Mapping[model.AppRef, model.AppStatus]) -> bool:
    """Whether ``station`` may act on ``app`` now (an unknown Application: no)."""
    status = apps.get(app)
    return status is not None and status.exists and refusal(
        app, station.namespace, status.authorized_namespaces) is None


def track_refusal(track: model.TrackSpec, stations: Mapping[model.StationRef, model.StationSpec],
                  apps: Mapping[model.AppRef, model.AppStatus]) -> str | None:
    """Why ``track`` may not carry tickets for lack of an opt-in (None: every enabled Station may drive its
    Applications). Disabled Stations are passed without pushing, so they are not asked."""
    parts: list[str] = []
    for name in track.stations:
        station = stations.get(model.StationRef(track.namespace, name))
        if station is None or station.disabled:
            continue
        parts.extend(f"station {name}: {why}" for why in station_refusals(station, apps))
    return "; ".join(parts) if parts else None


def restrict(verdicts: Mapping[model.TrackRef, graph.TrackVerdict], world: model.World,
             ) -> dict[model.TrackRef, graph.TrackVerdict]:
    """``graph.check_tracks``' verdicts, with every otherwise valid Track that drives an Application without
    its opt-in made not Ready (``ApplicationNotAuthorized``, naming the Applications and the annotation)."""
    result = dict(verdicts)
    for ref, current in verdicts.items():
        if not current.ok:
            continue
        why = track_refusal(world.tracks[ref], world.stations, world.apps)
        if why is not None:
            result[ref] = graph.TrackVerdict(model.ConditionReason.APPLICATION_NOT_AUTHORIZED, why)
    return result


def unauthorized(namespace: str, applications: Iterable[tuple[model.AppRef, Mapping[str, Any]]]) -> tuple[str, ...]:
    """For a unit about to write app branches: why a Station in ``namespace`` may not drive each of these
    Applications (their Argo CD JSON, as just read)."""
    return tuple(why for app, application in applications
                 if (why := refusal(app, namespace, annotation_of(application))) is not None)
