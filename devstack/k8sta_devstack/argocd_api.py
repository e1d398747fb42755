"""A minimal Argo CD REST client (Bearer token), for tests and tooling around the stack.

Only the few endpoints the smoke tests need; the token is kept out of ``repr`` and never logged.
"""

from __future__ import annotations

from typing import Any

import requests


class ArgoCDError(RuntimeError):
    """A non-2xx answer; carries the status code and Argo CD's message (never the request headers)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Argo CD API answered {status}: {message}")
        self.status = status


class ArgoCD:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:
        return f"ArgoCD({self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self._answer(self._session.get(f"{self.base_url}{path}", params=params, timeout=self.timeout))

    def _post(self, path: str, body: Any) -> Any:
        return self._answer(self._session.post(f"{self.base_url}{path}", json=body, timeout=self.timeout))

    @staticmethod
    def _answer(response: requests.Response) -> Any:
        if response.status_code // 100 != 2:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise ArgoCDError(response.status_code, message)
        return response.json()

    def user_info(self) -> dict[str, Any]:
        return dict(self._get("/api/v1/session/userinfo"))

    def application(self, name: str, refresh: str | None = None, namespace: str | None = None) -> dict[str, Any]:
        """GET an Application; ``refresh`` = "normal" or "hard" asks Argo CD to reconcile it first."""
        params = {k: v for k, v in (("refresh", refresh), ("appNamespace", namespace)) if v}
        return dict(self._get(f"/api/v1/applications/{name}", params or None))

    def resource_tree(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The Application's resource tree, with each resource's health and message (Argo CD 3 keeps
        resource health here, not in the Application's ``status.resources``)."""
        params = {"appNamespace": namespace} if namespace else None
        return dict(self._get(f"/api/v1/applications/{name}/resource-tree", params))

    def application_events(self, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The Kubernetes Events Argo CD shows in its UI for the Application itself."""
        params = {"appNamespace": namespace} if namespace else None
        return list(self._get(f"/api/v1/applications/{name}/events", params).get("items") or [])

    def run_resource_action(self, name: str, *, action: str, kind: str, resource_name: str, namespace: str,
                            group: str = "", version: str = "v1", app_namespace: str | None = None) -> None:
        """Run one of Argo CD's resource actions (what the UI's "Actions" menu does), e.g. ``resume``
        on a paused Rollout: ``POST /api/v1/applications/{name}/resource/actions/v2``."""
        body = {"name": name, "namespace": namespace, "resourceName": resource_name, "version": version,
                "group": group, "kind": kind, "action": action}
        if app_namespace:
            body["appNamespace"] = app_namespace
        self._post(f"/api/v1/applications/{name}/resource/actions/v2", body)

    def resume_rollout(self, name: str, namespace: str, rollout: str) -> None:
        """Promote a paused canary one step: Argo CD's built-in ``resume`` action on the Rollout."""
        self.run_resource_action(name, action="resume", kind="Rollout", group="argoproj.io",
                                 version="v1alpha1", resource_name=rollout, namespace=namespace)
