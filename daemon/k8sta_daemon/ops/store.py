"""The operator surface's only Kubernetes I/O: read Tracks/Stations/Tickets as model values, create
Tickets, ask for operator actions in a Ticket's spec, and record each action as an Event.

Callers: CLI commands and the web part. Built on ``k8sta_daemon.adapters.kube.Kube`` (the daemon's adapter)
and ``k8sta_daemon.core.codec`` (CR dict <-> model), so the CLI reads objects exactly as the controller
does. Every failure surfaces as an ``errors.K8staError`` whose message names the object.
"""

from __future__ import annotations

import getpass
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s_client

from k8sta_daemon.adapters import kube, retry
from k8sta_daemon.core import codec, delivery, model, station_status

from . import errors, intake

log = logging.getLogger(__name__)

CREATE_ATTEMPTS = 5  # concurrent creators race for the next ``<track>-<n>``; each loser recomputes


def actor() -> str:
    """Who is acting, for the audit trail (the OS user; the API server knows the authenticated one)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contextmanager
def _translated(what: str, not_found: str | None = None) -> Iterator[None]:
    """Turn adapter/transport failures into user-facing errors that say what was being done."""
    try:
        yield
    except kube.Conflict:
        raise errors.Conflict(f"{what}: it changed since it was read") from None
    except kube.NotFound:
        if not_found is not None:
            raise errors.NotFound(not_found) from None
        raise errors.Unavailable(f"{what}: not found (are the k8sta.io CRDs installed?)") from None
    except kube.KubeError as exc:
        if exc.status in (401, 403):  # the caller's credentials or RBAC (the board acts with the user's token)
            raise errors.Denied(f"{what}: the Kubernetes API denied it ({exc})") from None
        if exc.refused:
            raise errors.Invalid(f"{what}: the API server refused it ({exc})") from None
        raise errors.Unavailable(f"{what}: {exc}") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise errors.Unavailable(f"{what}: the Kubernetes API did not answer ({type(exc).__name__})") from None


def runs_of(obj: dict[str, Any]) -> station_status.StationStatus | None:
    """A Station object's status as ``core.station_status`` reads it; an unreadable one is logged, None."""
    meta = obj.get("metadata", {})
    try:
        return station_status.from_dict(obj.get("status"), f"Station {meta.get('namespace')}/{meta.get('name')}")
    except station_status.MalformedStatus as exc:
        log.warning("ignoring the unreadable status of Station %s/%s: %s", meta.get("namespace"), meta.get("name"),
                    exc)
        return None


@dataclass(frozen=True)
class Event:
    """One Kubernetes Event about a Ticket, as ``ticket show`` lists it."""

    time: float
    type: str
    reason: str
    message: str
    count: int
    source: str


def _event_time(event: k8s_client.CoreV1Event) -> float:
    moment = event.last_timestamp or event.event_time or event.first_timestamp or event.metadata.creation_timestamp
    return moment.timestamp() if moment is not None else 0.0


class _NameTaken(Exception):
    """Another creator took the name we computed: list again and recompute."""


class Store:
    """Namespaced reads and writes of our resources through one API client."""

    def __init__(self, api: k8s_client.ApiClient, component: str = "k8sta-cli") -> None:
        self.api = api
        self.component = component  # the source of the Events this store records

    def _kube(self, namespace: str | None) -> kube.Kube:
        return kube.Kube(self.api, namespace, component=self.component)

    def _list(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        where = f"in namespace {namespace}" if namespace else "in all namespaces"
        with _translated(f"listing {kind}s {where}"):
            items, _ = self._kube(namespace).list(kind)
        return items

    def _get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        with _translated(f"reading {kind} {namespace}/{name}",
                         not_found=f"{kind.lower()} {name} not found in namespace {namespace}"):
            return self._kube(namespace).get(kind, namespace, name)

    @staticmethod
    def _parse_all(kind: str, items: list[dict[str, Any]], parse: Callable[[dict[str, Any]], Any]) -> list[Any]:
        parsed = []
        for obj in items:
            try:
                parsed.append(parse(obj))
            except codec.MalformedObject as exc:
                meta = obj.get("metadata", {})
                log.warning("skipping malformed %s %s/%s: %s", kind, meta.get("namespace"), meta.get("name"), exc)
        return parsed

    @staticmethod
    def _parse_one(kind: str, obj: dict[str, Any], parse: Callable[[dict[str, Any]], Any]) -> Any:
        try:
            return parse(obj)
        except codec.MalformedObject as exc:
            meta = obj.get("metadata", {})
            raise errors.Invalid(f"{kind.lower()} {meta.get('name')} in namespace {meta.get('namespace')} "
                                 f"is malformed: {exc}") from None

    # -- reads ----------------------------------------------------------------------------------

    def tracks(self, namespace: str | None) -> list[model.TrackSpec]:
        tracks = self._parse_all("Track", self._list("Track", namespace), codec.track_from_dict)
        return sorted(tracks, key=lambda t: (t.namespace, t.name))

    def track(self, namespace: str, name: str) -> model.TrackSpec:
        return self._parse_one("Track", self._get("Track", namespace, name), codec.track_from_dict)

    def stations(self, namespace: str | None) -> dict[model.StationRef, model.StationSpec]:
        stations = self._parse_all("Station", self._list("Station", namespace), codec.station_from_dict)
        return {s.ref: s for s in stations}

    def stations_running(self, namespace: str | None,
                         ) -> list[tuple[model.StationSpec, station_status.StationStatus | None]]:
        """Every Station with what runs there (its status; None when none is written or it is unreadable)."""
        found = []
        for obj in self._list("Station", namespace):
            specs = self._parse_all("Station", [obj], codec.station_from_dict)
            if specs:
                found.append((specs[0], runs_of(obj)))
        return sorted(found, key=lambda pair: (pair[0].namespace, pair[0].name))

    def tickets(self, namespace: str | None, track: str | None = None) -> list[model.Ticket]:
        tickets = self._parse_all("Ticket", self._list("Ticket", namespace), codec.ticket_from_dict)
        return sorted((t for t in tickets if track is None or t.track == track), key=lambda t: t.order_key)

    def ticket(self, namespace: str, name: str) -> model.Ticket:
        return self._parse_one("Ticket", self._get("Ticket", namespace, name), codec.ticket_from_dict)

    def rides(self, namespace: str | None) -> list[delivery.Ride]:
        """Every Ticket with its delivery annotations (``core.delivery``: change time, rollback target)."""
        return self._parse_all("Ticket", self._list("Ticket", namespace), delivery.ride_from_dict)

    def events(self, namespace: str, name: str, limit: int = 20) -> list[Event]:
        """The newest Events about Ticket ``name`` (operator actions and the controller's), oldest first.

        Read with the core client directly: the daemon's adapter only writes Events.
        """
        selector = f"involvedObject.kind=Ticket,involvedObject.name={name}"
        with _translated(f"listing Events of ticket {namespace}/{name}"):
            items = k8s_client.CoreV1Api(self.api).list_namespaced_event(namespace, field_selector=selector).items
        events = [Event(time=_event_time(e), type=e.type or "", reason=e.reason or "", message=e.message or "",
                        count=e.count or 1, source=(e.source.component if e.source else None) or
                        e.reporting_component or "") for e in items]
        return sorted(events, key=lambda e: e.time)[-limit:]

    # -- writes ---------------------------------------------------------------------------------

    def create_ticket(self, namespace: str, track: str,
                      snapshot_for: Callable[[list[model.Ticket]], model.Snapshot],
                      annotations: dict[str, str], reserved: tuple[str, ...] = ()) -> tuple[str, model.Snapshot]:
        """Create ``<track>-<n>`` with the snapshot ``snapshot_for(tickets in the namespace)`` returns;
        ``reserved`` names are never taken (the ticket a rollback's hold names, not created yet).

        The sequential name is the optimistic lock: any ticket created on the Track after our list
        took the very name we computed, so we list again and recompute; a ticket therefore always
        inherits from the newest ticket that existed when it was created.
        """
        def attempt() -> tuple[str, model.Snapshot]:
            items = self._list("Ticket", namespace)
            tickets = self._parse_all("Ticket", items, codec.ticket_from_dict)
            snapshot = snapshot_for(tickets)
            name = intake.next_ticket_name(track, (*(o.get("metadata", {}).get("name", "") for o in items),
                                                   *reserved))
            body = intake.ticket_body(namespace, name, track, snapshot, time.time(), annotations)
            with _translated(f"creating ticket {name} in namespace {namespace}"):
                if self._kube(namespace).create("Ticket", namespace, body):
                    return name, snapshot
            raise _NameTaken(name)

        try:
            return retry.retrying(attempt, on=_NameTaken, attempts=CREATE_ATTEMPTS)
        except _NameTaken:
            raise errors.Unavailable(f"creating a ticket on track {track}: {CREATE_ATTEMPTS} name collisions in a "
                                     "row, try again") from None

    def create_named_ticket(self, namespace: str, name: str, track: str,
                            snapshot_for: Callable[[list[model.Ticket]], model.Snapshot],
                            annotations: dict[str, str]) -> tuple[model.Snapshot, bool]:
        """Create Ticket ``name`` (a name derived from the change it carries, so creating it again, from a
        redelivery, a restart or a second replica, meets AlreadyExists); False when it already existed."""
        tickets = self._parse_all("Ticket", self._list("Ticket", namespace), codec.ticket_from_dict)
        snapshot = snapshot_for(tickets)
        body = intake.ticket_body(namespace, name, track, snapshot, time.time(), annotations)
        with _translated(f"creating ticket {name} in namespace {namespace}"):
            created = self._kube(namespace).create("Ticket", namespace, body)
        return snapshot, created is not None

    def application(self, namespace: str, name: str) -> dict[str, Any]:
        """An Argo CD Application as its spec is written (``k8sta diff`` reads where its app branch lives)."""
        with _translated(f"reading Application {namespace}/{name}"):
            try:
                return dict(k8s_client.CustomObjectsApi(self.api).get_namespaced_custom_object(
                    "argoproj.io", "v1alpha1", namespace, "applications", name))
            except k8s_client.ApiException as exc:
                if exc.status == 404:
                    raise errors.NotFound(f"Application {namespace}/{name} not found") from None
                raise errors.Unavailable(f"reading Application {namespace}/{name}: {exc.status} {exc.reason}") from None

    def subscriptions(self, namespace: str) -> list[dict[str, Any]]:
        return self._list("Subscription", namespace)

    def nudge_subscription(self, namespace: str, name: str, stamp: str) -> None:
        """Set the nudge annotation: the Subscription's poller reads its source at once."""
        with _translated(f"nudging subscription {namespace}/{name}", not_found=f"subscription {name} not found in "
                         f"namespace {namespace}"):
            self._kube(namespace).patch_metadata("Subscription", namespace, name,
                                                 {"annotations": {"k8sta.io/nudged-at": stamp}})

    def patch_track_spec(self, namespace: str, name: str, spec: dict[str, Any]) -> None:
        with _translated(f"updating track {namespace}/{name}", not_found=f"track {name} not found in namespace "
                         f"{namespace}"):
            self._kube(namespace).patch_spec("Track", namespace, name, spec)

    def annotate_tracks(self, namespace: str, annotations: dict[str, str | None], reason: str,
                        message: str) -> list[str]:
        """Merge ``annotations`` (None removes one) into every Track of ``namespace``, each with an Event
        (``reason``, ``message``) that ``kubectl describe track`` shows; returns the Tracks' names."""
        names: list[str] = []
        for obj in sorted(self._list("Track", namespace), key=lambda o: o["metadata"]["name"]):
            meta = obj["metadata"]
            with _translated(f"updating track {namespace}/{meta['name']}"):
                self._kube(namespace).patch_metadata("Track", namespace, meta["name"], {"annotations": annotations})
            involved = {"apiVersion": kube.API_VERSION, "kind": "Track", "namespace": namespace,
                        "name": meta["name"], "uid": meta.get("uid") or ""}
            with _translated(f"recording an Event on track {namespace}/{meta['name']}"):
                self._kube(namespace).emit_event(involved, "Normal", reason, message)
            names.append(meta["name"])
        return names

    def ticket_at(self, namespace: str, name: str) -> tuple[model.Ticket, str]:
        """The ticket and the resourceVersion it was read at (for a compare-and-swap write)."""
        obj = self._get("Ticket", namespace, name)
        return self._parse_one("Ticket", obj, codec.ticket_from_dict), obj["metadata"]["resourceVersion"]

    def patch_ticket_spec(self, ticket: model.Ticket, spec: dict[str, Any],
                          resource_version: str | None = None) -> None:
        """Merge ``spec`` into the ticket's; with ``resource_version``, only if nobody wrote it since
        (``errors.Conflict`` otherwise)."""
        with _translated(f"updating ticket {ticket.namespace}/{ticket.name}",
                         not_found=f"ticket {ticket.name} not found in namespace {ticket.namespace}"):
            self._kube(ticket.namespace).patch_spec("Ticket", ticket.namespace, ticket.name, spec, resource_version)

    def record(self, namespace: str, name: str, uid: str | None, reason: str, message: str) -> None:
        """An Event on the Ticket: ``kubectl describe ticket`` and dashboards show who did what."""
        involved = {"apiVersion": kube.API_VERSION, "kind": "Ticket", "namespace": namespace, "name": name,
                    "uid": uid or ""}
        with _translated(f"recording an Event on ticket {namespace}/{name}"):
            self._kube(namespace).emit_event(involved, "Normal", reason, message)

    def record_track(self, namespace: str, name: str, reason: str, message: str) -> None:
        """An Event on the Track (``kubectl describe track``): who held or resumed it."""
        uid = self._get("Track", namespace, name).get("metadata", {}).get("uid") or ""
        involved = {"apiVersion": kube.API_VERSION, "kind": "Track", "namespace": namespace, "name": name,
                    "uid": uid}
        with _translated(f"recording an Event on track {namespace}/{name}"):
            self._kube(namespace).emit_event(involved, "Normal", reason, message)

    def uid_of(self, namespace: str, name: str) -> str | None:
        """The uid of a just-created ticket (Events reference it); None if it vanished meanwhile."""
        try:
            return self._get("Ticket", namespace, name).get("metadata", {}).get("uid")
        except errors.NotFound:
            return None
