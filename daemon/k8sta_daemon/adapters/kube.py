"""The daemon's thin Kubernetes adapter: our custom resources, their status, Events, child Tickets.

Callers: the reactor (its loop's lists and watches fill the cache; its units write status, Events and
child Tickets) and ``ops.store``. Status writes carry the observed ``resourceVersion``: a conflict raises
``Conflict`` and the reactor decides again from the fresh object instead of overwriting it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from k8sta_daemon.adapters import retry

log = logging.getLogger(__name__)

GROUP = "k8sta.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
PLURALS = {"Track": "tracks", "Station": "stations", "Ticket": "tickets", "Subscription": "subscriptions"}
COMPONENT = "k8sta-controller"


class KubeError(Exception):
    """A Kubernetes API failure; ``status`` is the HTTP status (0 when the API did not answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @property
    def refused(self) -> bool:
        """The API server refused our request body (validation): retrying it unchanged cannot help."""
        return self.status in (400, 422)


class Conflict(KubeError):
    """Our view of the object is stale (HTTP 409): decide again from the fresh object."""


class NotFound(KubeError):
    """The object is gone (HTTP 404)."""


def api_client(kubeconfig: str | None) -> client.ApiClient:
    """A client from a kubeconfig file, or the in-cluster service account when none is given."""
    if kubeconfig:
        return config.new_client_from_config(config_file=kubeconfig)
    configuration = client.Configuration()
    config.load_incluster_config(client_configuration=configuration)
    return client.ApiClient(configuration)


# What a call may raise: the API server's answer, or no answer at all (refused, reset, timed out).
_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)


def _wrap(exc: Exception, what: str) -> KubeError:
    if not isinstance(exc, ApiException):
        return KubeError(f"{what}: the Kubernetes API did not answer ({type(exc).__name__})", 0)
    if exc.status == 409:
        return Conflict(f"{what}: conflict", 409)
    if exc.status == 404:
        return NotFound(f"{what}: not found", 404)
    return KubeError(f"{what}: HTTP {exc.status} {exc.reason}{_api_message(exc)}", exc.status or 0)


def _api_message(exc: ApiException) -> str:
    """The API server's own explanation (a Status object's message), e.g. which field failed validation."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if message else ""


class Kube:
    """Our resources and Events through the official client."""

    def __init__(self, api: client.ApiClient, namespace: str | None = None, *, component: str = COMPONENT,
                 timeout: float = 30.0, instance: str = "") -> None:
        self.api = api
        self.namespace = namespace  # None: all namespaces
        self.component = component  # the Events' source: who did it (controller, cli, web)
        self.instance = instance or component  # which replica (its identity), in each Event
        self.timeout = timeout  # per request, so a hung API server cannot block a caller forever
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    # -- reads ----------------------------------------------------------------------------------

    def list(self, kind: str) -> tuple[list[dict[str, Any]], str]:
        """Every object of ``kind`` and the list's resourceVersion (to start a watch from)."""
        plural = PLURALS[kind]
        try:
            if self.namespace:
                result = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural,
                                                                   _request_timeout=self.timeout)
            else:
                result = self.custom.list_cluster_custom_object(GROUP, VERSION, plural,
                                                                _request_timeout=self.timeout)
        except _ERRORS as exc:
            raise _wrap(exc, f"list {plural}") from None
        return result.get("items", []), result["metadata"].get("resourceVersion", "")

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        try:
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[kind], name,
                                                            _request_timeout=self.timeout)
        except _ERRORS as exc:
            raise _wrap(exc, f"get {kind} {namespace}/{name}") from None

    def watch(self, kind: str, on_event: Callable[[str, dict[str, Any]], None],
              on_resync: Callable[[list[dict[str, Any]]], None], stop: threading.Event) -> None:
        """List, then watch from that list; on any break, list again (``on_resync``) and continue, pausing
        longer after each break in a row (``retry.pauses``: exponential with jitter, up to 30 s)."""
        plural = PLURALS[kind]
        pause = retry.pauses(1.0, 30.0)
        breaks = 0
        while not stop.is_set():
            try:
                items, version = self.list(kind)
                on_resync(items)
                breaks = 0
                stream = watch.Watch()
                if self.namespace:
                    func, args = self.custom.list_namespaced_custom_object, (GROUP, VERSION, self.namespace, plural)
                else:
                    func, args = self.custom.list_cluster_custom_object, (GROUP, VERSION, plural)
                for event in stream.stream(func, *args, resource_version=version, timeout_seconds=60):
                    if stop.is_set():
                        stream.stop()
                        return
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        on_event(event["type"], event["object"])
            except Exception as exc:  # connection resets surface as urllib3 errors of many kinds
                if stop.is_set():
                    return  # shutting down: the broken stream is expected
                detail = exc if isinstance(exc, KubeError | ApiException) else type(exc).__name__
                log.warning("watch %s interrupted: %s", plural, detail)
                breaks += 1
                stop.wait(pause(breaks))

    # -- writes ---------------------------------------------------------------------------------

    def replace_status(self, kind: str, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Write ``status`` as of the observed object's resourceVersion (Conflict when stale)."""
        meta = obj["metadata"]
        body = {"apiVersion": API_VERSION, "kind": kind,
                "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                             "resourceVersion": meta["resourceVersion"]},
                "spec": obj.get("spec", {}), "status": status}
        try:
            return self.custom.replace_namespaced_custom_object_status(
                GROUP, VERSION, meta["namespace"], PLURALS[kind], meta["name"], body,
                _request_timeout=self.timeout)
        except _ERRORS as exc:
            raise _wrap(exc, f"status of {kind} {meta['namespace']}/{meta['name']}") from None

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create an object and return it; None when it already exists (creation is idempotent by name)."""
        try:
            return self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[kind], body,
                                                               _request_timeout=self.timeout)
        except _ERRORS as exc:
            if getattr(exc, "status", None) == 409:
                return None
            raise _wrap(exc, f"create {kind} {namespace}/{body['metadata']['name']}") from None

    def patch_spec(self, kind: str, namespace: str, name: str, spec: dict[str, Any],
                   resource_version: str | None = None) -> dict[str, Any]:
        """Merge ``spec`` in; with ``resource_version``, only if the object is still at it (else Conflict)."""
        body: dict[str, Any] = {"spec": spec}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            return self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[kind], name,
                                                              body, _request_timeout=self.timeout)
        except _ERRORS as exc:
            raise _wrap(exc, f"patch {kind} {namespace}/{name}") from None

    def emit_event(self, involved: dict[str, str], type_: str, reason: str, message: str) -> None:
        """A core/v1 Event on ``involved`` (apiVersion, kind, namespace, name, uid)."""
        now = dt.datetime.now(dt.UTC)
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(name=f"{involved['name']}.{uuid.uuid4().hex[:16]}",
                                         namespace=involved["namespace"]),
            involved_object=client.V1ObjectReference(
                api_version=involved["apiVersion"], kind=involved["kind"], name=involved["name"],
                namespace=involved["namespace"], uid=involved.get("uid")),
            type=type_, reason=reason, message=message[:1024],
            first_timestamp=now, last_timestamp=now, count=1,
            source=client.V1EventSource(component=self.component, host=self.instance),
            reporting_component=self.component, reporting_instance=self.instance,
        )
        try:
            self.core.create_namespaced_event(involved["namespace"], body, _request_timeout=self.timeout)
        except _ERRORS as exc:
            raise _wrap(exc, f"event on {involved['kind']} {involved['namespace']}/{involved['name']}") from None

    def patch_metadata(self, kind: str, namespace: str, name: str, metadata: dict[str, Any]) -> dict[str, Any]:
        """A merge patch of labels/annotations (e.g. the webhook's nudge of a Subscription)."""
        try:
            return self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[kind], name,
                                                              {"metadata": metadata}, _request_timeout=self.timeout)
        except ApiException as exc:
            raise _wrap(exc, f"patch {kind} {namespace}/{name}") from None

    def read_secret(self, namespace: str, name: str) -> tuple[str, dict[str, str]]:
        """A Secret's type and decoded data (an image pull secret of a Subscription)."""
        try:
            secret = self.core.read_namespaced_secret(name, namespace, _request_timeout=self.timeout)
        except ApiException as exc:
            raise _wrap(exc, f"secret {namespace}/{name}") from None
        data = {}
        for key, value in (secret.data or {}).items():
            try:
                data[key] = base64.b64decode(value).decode()
            except (ValueError, UnicodeDecodeError):
                continue
        return secret.type or "", data

    def config_map_data(self, namespace: str, name: str) -> dict[str, str]:
        """A ConfigMap's ``data``; an absent ConfigMap reads as empty (Argo CD's own settings maps are
        optional the same way)."""
        try:
            found = self.core.read_namespaced_config_map(name, namespace, _request_timeout=self.timeout)
        except _ERRORS as exc:
            error = _wrap(exc, f"configmap {namespace}/{name}")
            if isinstance(error, NotFound):
                return {}
            raise error from None
        return dict(found.data or {})

    def list_secrets(self, namespace: str, label_selector: str) -> list[dict[str, str]]:
        try:
            secrets = self.core.list_namespaced_secret(namespace, label_selector=label_selector,
                                                       _request_timeout=self.timeout)
        except _ERRORS as exc:
            raise _wrap(exc, f"secrets in {namespace}") from None
        return [{k: base64.b64decode(v).decode() for k, v in (s.data or {}).items()} for s in secrets.items]
