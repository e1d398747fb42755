"""``/healthz`` (the process is alive) and ``/readyz`` (its dependencies answer), for kubelet probes.

Readiness asks the Kubernetes API for its version, and Argo CD's API too when ``K8STA_ARGOCD_URL``
is set, each with a short timeout. A 503 names which dependency failed with a fixed reason
(``kubectl describe pod`` shows it); the error itself goes to the log, never to the caller, since it can
carry addresses, certificate or kubeconfig details.
"""

from __future__ import annotations

import logging

import requests
from flask import Blueprint, Response, current_app, jsonify
from kubernetes import client as k8s_client

from k8sta_daemon.ops import errors

from . import kubeclient

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
GENERIC = {"kubernetes": "the Kubernetes API did not answer (details in the web part's log)",
           "argocd": "Argo CD's API did not answer (details in the web part's log)"}


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


def _kubernetes(timeout: float) -> str | None:
    """None when the API server answered, else why not."""
    try:
        k8s_client.VersionApi(kubeclient.clients().api()).get_code(_request_timeout=timeout)
    except errors.K8staError as exc:
        return str(exc)
    except Exception as exc:  # connection refused, TLS, timeouts, 401/403: all mean "not ready"
        return f"Kubernetes API did not answer: {type(exc).__name__}"
    return None


def _argocd(url: str, timeout: float) -> str | None:
    verify: bool | str = not current_app.config["ARGOCD_INSECURE"]
    if verify and current_app.config["ARGOCD_CA_FILE"]:
        verify = current_app.config["ARGOCD_CA_FILE"]
    try:
        response = requests.get(f"{url.rstrip('/')}/api/version", timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        return f"Argo CD API did not answer: {type(exc).__name__}"
    if response.status_code != 200:
        return f"Argo CD API answered HTTP {response.status_code}"
    return None


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    timeout = current_app.config["READY_TIMEOUT_SECONDS"]
    checks = {"kubernetes": _kubernetes(timeout)}
    if current_app.config["ARGOCD_URL"]:
        checks["argocd"] = _argocd(current_app.config["ARGOCD_URL"], timeout)
    failed = {name: reason for name, reason in checks.items() if reason is not None}
    for name, reason in failed.items():
        log.warning("not ready: %s: %s", name, reason)
    if failed:
        return jsonify(status="not ready", reasons={name: GENERIC[name] for name in failed}), 503
    return jsonify(status="ready", checks=sorted(checks)), 200
