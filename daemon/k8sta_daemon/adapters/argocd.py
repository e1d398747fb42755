"""The daemon's thin Argo CD adapter: its REST API with a bearer token (never logged).

Callers: the reactor's loop (application statuses and the watch stream that wakes it), its push
unit (hard refresh right after a push) and its sync unit (``RequestSync``); the devstack and the stack
tests use the same client (``application_events``, ``user_info``: what an operator sees in Argo CD's
UI). Errors are named by what should happen next: ``ArgoCDUnavailable`` (the same request may work
later) vs ``ArgoCDRefused`` (Argo CD said no: not until someone changes something; its ``answer`` is
what to show). Like every adapter it knows nothing of the core: an Application is anything with a
``namespace`` and a ``name`` (``AppName``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import requests
import requests.auth
from requests.adapters import HTTPAdapter

from k8sta_daemon.adapters import retry

log = logging.getLogger(__name__)


class AppName(Protocol):
    """An Application's identity (``core.model.AppRef`` is one)."""

    @property
    def namespace(self) -> str: ...

    @property
    def name(self) -> str: ...


class ArgoCDError(Exception):
    """Base of this adapter's errors; messages never contain the token."""


class ArgoCDUnavailable(ArgoCDError):
    """Network trouble or a 5xx: the same request may work later."""


class ArgoCDRefused(ArgoCDError):
    """A 4xx: bad token, no permission, unknown Application, a request Argo CD does not accept."""

    def __init__(self, message: str, status: int, answer: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.answer = answer or message  # Argo CD's answer alone ("HTTP 400: ..."), without the request


@dataclass(frozen=True)
class ArgoCDSettings:
    url: str
    token: str
    verify: bool | str = True
    timeout: float = 15.0
    # The current token on every request (a mounted Secret re-read when rotated); None: ``token``, fixed.
    token_source: Callable[[], str] | None = None

    def __repr__(self) -> str:  # the token must never reach a log line
        return f"ArgoCDSettings(url={self.url!r}, verify={self.verify!r})"


class ArgoCD:
    """A small client for the parts of Argo CD's API K8sTA uses."""

    def __init__(self, settings: ArgoCDSettings,
                 on_request: Callable[[str, str], None] | None = None) -> None:
        self.settings = settings
        self.on_request = on_request  # (method, path) of every request sent, e.g. ``Metrics.argocd_request``
        self.base = settings.url.rstrip("/")
        self.session = requests.Session()
        # Connections kept per host: the watch, the loop, and the reactor's refresh threads at once.
        self.session.mount(self.base + "/", HTTPAdapter(pool_maxsize=24))
        self.session.auth = _Bearer(settings.token_source or (lambda: settings.token))
        self.session.verify = settings.verify

    def _request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                 body: dict[str, Any] | None = None, stream: bool = False,
                 timeout: float | tuple[float, float | None] | None = None) -> requests.Response:
        url = f"{self.base}{path}"
        if self.on_request is not None:
            self.on_request(method, path)
        try:
            # verify per request: a session's own is overridden by REQUESTS_CA_BUNDLE from the environment
            response = self.session.request(method, url, params=params, json=body, stream=stream,
                                            timeout=timeout or self.settings.timeout, verify=self.settings.verify)
        except requests.exceptions.SSLError:
            raise ArgoCDUnavailable(f"Argo CD API {method} {path}: TLS verification failed: Argo CD's server "
                                    f"certificate is not signed by the CA in {self._trust()}, or does not name "
                                    f"the host of {self.base}") from None
        except requests.RequestException as exc:
            raise ArgoCDUnavailable(f"Argo CD API {method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise ArgoCDUnavailable(f"Argo CD API {method} {path}: HTTP {response.status_code} "
                                    f"{_message(response)}")
        if response.status_code >= 400:
            said = _message(response)
            raise ArgoCDRefused(f"Argo CD API {method} {path}: HTTP {response.status_code} {said}",
                                response.status_code, f"HTTP {response.status_code}: {said}")
        return response

    def _trust(self) -> str:
        verify = self.settings.verify
        return f"K8STA_ARGOCD_CA_FILE ({verify})" if isinstance(verify, str) else "the system's CA bundle"

    # -- reads ----------------------------------------------------------------------------------

    def get_application(self, app: AppName, refresh: str | None = None) -> dict[str, Any]:
        params = {"appNamespace": app.namespace}
        if refresh:
            params["refresh"] = refresh
        return self._request("GET", f"/api/v1/applications/{app.name}", params=params).json()

    def list_applications(self) -> list[dict[str, Any]]:
        return self._request("GET", "/api/v1/applications").json().get("items") or []

    def application_events(self, app: AppName) -> list[dict[str, Any]]:
        params = {"appNamespace": app.namespace}
        return self._request("GET", f"/api/v1/applications/{app.name}/events", params=params).json().get(
            "items") or []

    def resource_tree(self, app: AppName) -> dict[str, Any]:
        """The Application's resource tree: every live resource with its health status and message
        (Argo CD 3 keeps per-resource health here, not in the Application's ``status.resources``)."""
        params = {"appNamespace": app.namespace}
        return self._request("GET", f"/api/v1/applications/{app.name}/resource-tree", params=params).json()

    def version(self) -> str:
        """The release Argo CD reports (``v3.6.2+abc1234``); anyone may read it, logged in or not."""
        return str(self._request("GET", "/api/version").json().get("Version") or "")

    def user_info(self) -> dict[str, Any]:
        """Who the token logs in as (``loggedIn``, ``username``)."""
        return self._request("GET", "/api/v1/session/userinfo").json()

    def close(self) -> None:
        self.session.close()

    # -- writes ---------------------------------------------------------------------------------

    def refresh(self, app: AppName, hard: bool = True) -> dict[str, Any]:
        """Ask Argo CD to look at the app branch now instead of at its next poll."""
        return self.get_application(app, refresh="hard" if hard else "normal")

    def sync(self, app: AppName, revision: str | None, *, prune: bool, source_position: int | None = None) -> None:
        """Start a sync of exactly ``revision``, or (None) of the Application's ``targetRevision``, which
        Argo CD resolves when it accepts the request (the only kind it accepts while automated sync is
        on). Sync options and the retry strategy are the Application's own. ``source_position`` (1-based,
        multi-source Applications): the source ``revision`` is for; Argo CD ignores a plain ``revision``
        for those. A refusal raises ``ArgoCDRefused`` with Argo CD's answer, "another operation is already
        in progress" included: that operation may be for an older commit, so it is never taken as ours
        (the caller retries)."""
        body: dict[str, Any] = {"prune": prune, "appNamespace": app.namespace}
        if revision is not None and source_position is None:
            body["revision"] = revision
        elif revision is not None:
            body["revisions"] = [revision]
            body["sourcePositions"] = [source_position]
        self._request("POST", f"/api/v1/applications/{app.name}/sync", body=body)

    def run_resource_action(self, app: AppName, *, action: str, kind: str, resource_name: str, namespace: str,
                            group: str = "", version: str = "v1") -> None:
        """Run one of Argo CD's resource actions (the UI's "Actions" menu), e.g. ``resume`` on a paused
        Rollout: ``POST /api/v1/applications/{name}/resource/actions/v2``."""
        body = {"name": app.name, "appNamespace": app.namespace, "namespace": namespace,
                "resourceName": resource_name, "version": version, "group": group, "kind": kind,
                "action": action}
        self._request("POST", f"/api/v1/applications/{app.name}/resource/actions/v2", body=body)

    def resume_rollout(self, app: AppName, namespace: str, rollout: str) -> None:
        """Promote a paused canary past its pause step: Argo CD's built-in ``resume`` action on the Rollout."""
        self.run_resource_action(app, action="resume", kind="Rollout", group="argoproj.io",
                                 version="v1alpha1", resource_name=rollout, namespace=namespace)

    # -- watch ----------------------------------------------------------------------------------

    def watch(self, on_event: Callable[[str, dict[str, Any]], None], stop: threading.Event) -> None:
        """Stream Application events (``ADDED``/``MODIFIED``/``DELETED``) until ``stop`` is set.

        Reconnects after errors, pausing longer after each failure in a row (``retry.pauses``); the
        caller resyncs on reconnect anyway, so a missed event only delays a decision until the next resync.
        A refused token (401/403) is not retried quickly: it is logged as such on every attempt.
        """
        pause = retry.pauses(1.0, 60.0)
        failures = 0
        while not stop.is_set():
            try:
                response = self._request("GET", "/api/v1/stream/applications", stream=True, timeout=(10, 90))
                failures = 0
                with response:
                    for kind, app in _stream_events(response.iter_lines()):
                        on_event(kind, app)
                        if stop.is_set():
                            return
            except (ArgoCDError, requests.RequestException) as exc:
                if stop.is_set():
                    return  # shutting down: the broken stream is expected
                log.warning("argocd watch interrupted: %s",
                            exc if isinstance(exc, ArgoCDError) else type(exc).__name__)
                failures += 1
            stop.wait(pause(failures) if failures else 1.0)


class _Bearer(requests.auth.AuthBase):
    """Sets the token the source gives now on each request, so a rotated token is used without a restart."""

    def __init__(self, source: Callable[[], str]) -> None:
        self.source = source

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.source()}"
        return request


def _stream_events(lines: Iterator[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    for line in lines:
        if not line:
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        result = doc.get("result") or {}
        app = result.get("application")
        if isinstance(app, dict):
            yield str(result.get("type", "MODIFIED")), app


def _message(response: requests.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text[:200]
    return str(doc.get("message") or doc.get("error") or "")[:300]
