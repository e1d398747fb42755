"""Test data on the real API server for the CLI and web tests: our CRDs, a namespace per test, and
Tracks/Stations/Tickets written the way humans and the controller write them.

Callers: ``tests/cli/conftest.py`` and ``tests/web/conftest.py``. Ticket statuses are written through
the status subresource with ``codec.ticket_status_to_dict``, exactly as the controller's executor
does, so the operator surface reads what a running controller would have left behind.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

from kubernetes import client as k8s_client

from k8sta_daemon.core import codec, model
from k8sta_devstack import kube as devkube

GROUP, VERSION = "k8sta.io", "v1alpha1"
PLURALS = {"Track": "tracks", "Station": "stations", "Ticket": "tickets"}


class Cluster:
    """One fresh namespace on the stack and helpers that fill it."""

    def __init__(self, api: k8s_client.ApiClient, prefix: str) -> None:
        self.api = api
        self.namespace = f"{prefix}-{secrets.token_hex(4)}"
        self.custom = k8s_client.CustomObjectsApi(api)
        self.core = k8s_client.CoreV1Api(api)
        devkube.server_side_apply(api, {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": self.namespace}})

    def _create(self, kind: str, name: str, spec: dict[str, Any],
                annotations: dict[str, str] | None = None) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind,
                "metadata": {"name": name, "namespace": self.namespace, "annotations": annotations or {}},
                "spec": spec}
        return dict(self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], body))

    def station(self, name: str, *, apps: Sequence[str] = (), tracks: Sequence[str] = (),
                approval: bool = False, soak: int = 0) -> dict[str, Any]:
        spec: dict[str, Any] = {"applications": [{"name": a, "namespace": "argocd"} for a in apps],
                                "tracks": list(tracks)}
        if approval:
            spec["approvalRequired"] = True
        if soak:
            spec["soakSeconds"] = soak
        return self._create("Station", name, spec)

    def track(self, name: str, stations: Sequence[str], *, create_stations: bool = True,
              approval: Sequence[str] = ()) -> dict[str, Any]:
        if create_stations:
            for station in stations:
                self.station(station, apps=[f"{name}-{station}"], approval=station in approval)
        return self._create("Track", name, {"stations": list(stations)})

    def ticket(self, name: str, track: str, snapshot: model.Snapshot,
               status: model.TicketStatus | None = None, **spec: Any) -> dict[str, Any]:
        body_spec: dict[str, Any] = {"track": track, "snapshot": codec.snapshot_to_dict(snapshot), **spec}
        obj = self._create("Ticket", name, body_spec, {codec.CREATED_AT_ANNOTATION: codec.format_time(
            time.time())})
        if status is not None:
            obj = self.set_status(obj, status)
        return obj

    def set_status(self, obj: dict[str, Any], status: model.TicketStatus) -> dict[str, Any]:
        body = {**obj, "status": codec.ticket_status_to_dict(status)}
        return dict(self.custom.replace_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, "tickets", obj["metadata"]["name"], body))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name))

    def tickets(self) -> list[dict[str, Any]]:
        return list(self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, "tickets")["items"])

    def events(self, name: str) -> list[k8s_client.CoreV1Event]:
        """Events about the Ticket ``name``, oldest first."""
        items = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}").items
        return sorted(items, key=lambda e: (e.first_timestamp or e.event_time, e.metadata.name))
