"""Authentication and authorization of ``/api/v1`` (and the board): Kubernetes tokens, Kubernetes RBAC.

Callers: blueprints register ``authenticate`` as their ``before_request`` and call ``require`` /
``visible`` per namespace. A request's ``Authorization: Bearer <token>`` is checked with a TokenReview;
each namespace it touches with a SubjectAccessReview (``list tickets.k8sta.io`` there), both sent with the
web part's own ServiceAccount (RBAC: ``create`` on tokenreviews and subjectaccessreviews). Answers are
cached for ``K8STA_AUTH_CACHE_SECONDS`` (keyed by a hash of the token, never the token), so a page with
many namespaces costs one review per namespace per interval, and a revoked token or RoleBinding stops
working within that interval. A token must carry the audience ``K8STA_AUTH_AUDIENCES`` (default ``k8sta``:
``kubectl create token SA --audience k8sta``), so a token that is valid against the API server itself is
not accepted here, and a token minted for K8sTA is useless against the API server.

A refused token is remembered apart, for ``K8STA_AUTH_FAILED_CACHE_SECONDS`` in a bounded cache of its own:
sending the same bad token again costs no review, and a flood of random tokens can neither evict the
identities of real users nor grow memory. A token longer than ``MAX_TOKEN_BYTES`` is refused unasked.

Failures reveal nothing: a missing, malformed, unknown or expired token is 401; a namespace the user may
not list is 403 before anything is read (so 403 says nothing about what exists there); a review that
cannot be sent is 503.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from typing import Any, TypeVar

from cachetools import TTLCache
from flask import Flask, Response, current_app, g, jsonify, request
from kubernetes import client as k8s_client

from k8sta_daemon.ops import errors

from . import kubeclient
from .sansio import authz

log = logging.getLogger(__name__)
EXTENSION = "k8sta.auth"
CACHE_SIZE = 4096
FAILED_CACHE_SIZE = 1024
MAX_TOKEN_BYTES = 8192  # service-account and OIDC tokens are far smaller; a larger one is never sent on
T = TypeVar("T")


class Unauthorized(Exception):
    """No valid Kubernetes bearer token (401)."""


class Forbidden(Exception):
    """The user may not list tickets in this namespace (403)."""


class Reviews:
    """The cached TokenReview / SubjectAccessReview answers of one app, shared by its threads."""

    def __init__(self, ttl: float, audiences: tuple[str, ...], failed_ttl: float = 30.0,
                 failed_size: int = FAILED_CACHE_SIZE) -> None:
        self.audiences = audiences
        self._lock = threading.Lock()
        self._identities: TTLCache[str, authz.Identity] = TTLCache(CACHE_SIZE, ttl=max(ttl, 1e-3))
        self._failed: TTLCache[str, bool] = TTLCache(failed_size, ttl=max(failed_ttl, 1e-3))
        self._verdicts: TTLCache[tuple[Any, ...], bool] = TTLCache(CACHE_SIZE, ttl=max(ttl, 1e-3))
        self.reviews_sent = 0  # for tests and benchmarks: how often the API server was asked

    def identity(self, token: str) -> authz.Identity | None:
        if len(token) > MAX_TOKEN_BYTES:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            if key in self._failed:
                return None
            if key in self._identities:
                return self._identities[key]
        review = _send(lambda api: k8s_client.AuthenticationV1Api(api).create_token_review(
            authz.token_review(token, self.audiences)), "TokenReview")
        who = authz.identity(_status(review))
        with self._lock:
            self.reviews_sent += 1
            if who is None:
                self._failed[key] = True
            else:
                self._identities[key] = who
        return who

    def allowed(self, who: authz.Identity, namespace: str) -> bool:
        key = (who.key(), namespace)
        with self._lock:
            if key in self._verdicts:
                return self._verdicts[key]
        review = _send(lambda api: k8s_client.AuthorizationV1Api(api).create_subject_access_review(
            authz.access_review(who, namespace)), "SubjectAccessReview")
        verdict = authz.allowed(_status(review))
        with self._lock:
            self.reviews_sent += 1
            self._verdicts[key] = verdict
        return verdict


def _status(review: Any) -> dict[str, Any] | None:
    status = getattr(review, "status", None)
    return status.to_dict() if status is not None else None


def _send(call: Any, kind: str) -> Any:
    try:
        return call(kubeclient.clients().api())
    except errors.K8staError:
        raise
    except Exception as exc:  # unreachable API, or the web ServiceAccount lacks the review RBAC
        log.warning("cannot send a %s: %s", kind, type(exc).__name__)
        raise errors.Unavailable(f"cannot check credentials: the Kubernetes API did not answer a {kind}") from None


def init_app(app: Flask) -> None:
    audiences = tuple(a.strip() for a in (app.config.get("AUTH_AUDIENCES") or "").split(",") if a.strip())
    app.extensions[EXTENSION] = Reviews(float(app.config["AUTH_CACHE_SECONDS"]), audiences,
                                        float(app.config["AUTH_FAILED_CACHE_SECONDS"]))

    @app.errorhandler(Unauthorized)
    def unauthorized(_exc: Unauthorized) -> tuple[Response, int, dict[str, str]]:
        return (jsonify(error="unauthorized: send a valid Kubernetes bearer token (Authorization: Bearer ...)"),
                401, {"WWW-Authenticate": 'Bearer realm="k8sta"'})

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden) -> tuple[Response, int]:
        return jsonify(error=str(exc)), 403


def reviews() -> Reviews:
    return current_app.extensions[EXTENSION]


def authenticate() -> None:
    """``before_request`` of protected blueprints: sets ``g.k8sta_identity`` or raises Unauthorized."""
    token = authz.bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Unauthorized
    who = reviews().identity(token)
    if who is None:
        raise Unauthorized
    g.k8sta_identity = who


def current() -> authz.Identity:
    return g.k8sta_identity


def may(namespace: str) -> bool:
    return reviews().allowed(current(), namespace)


def require(namespace: str) -> None:
    """Raises Forbidden unless the user may list tickets in ``namespace``."""
    if not may(namespace):
        raise Forbidden(f"forbidden: user may not list {authz.RESOURCE}.{authz.GROUP} in namespace {namespace}")


def everywhere() -> bool:
    """The user may list tickets in every namespace (a ClusterRoleBinding): no per-namespace filtering."""
    return may(authz.ALL_NAMESPACES)


def visible(items: Iterable[T]) -> list[T]:
    """Items of a listing across namespaces, keeping only the namespaces the user may list."""
    items = list(items)
    namespaces = sorted({item.namespace for item in items})  # type: ignore[attr-defined]
    # One namespace (a namespaced listing) needs one review; many are cheaper with one cluster-wide one.
    if len(namespaces) > 1 and everywhere():
        return items
    return authz.visible(items, [ns for ns in namespaces if may(ns)])
