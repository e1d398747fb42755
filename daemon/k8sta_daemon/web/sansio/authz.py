"""Who is asking and where they may look, as pure functions over Kubernetes' review objects.

Callers: ``web.auth`` (the adapter that sends the reviews and caches the answers). A request carries a
Kubernetes bearer token; a TokenReview says whose it is, and a SubjectAccessReview per namespace says
whether that user may ``list tickets.k8sta.io`` there, exactly what ``kubectl get tickets -n NS`` needs,
so the web part never shows more than the user's own RBAC allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The one permission that opens a namespace on the API and the board.
GROUP, RESOURCE, VERB = "k8sta.io", "tickets", "list"
ALL_NAMESPACES = ""  # a SubjectAccessReview with namespace "" asks about every namespace at once


@dataclass(frozen=True)
class Identity:
    """The user of a token as the API server sees it (TokenReview ``status.user``)."""

    username: str
    uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def key(self) -> tuple[Any, ...]:
        return (self.username, self.uid, self.groups, self.extra)


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when absent or malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


def token_review(token: str, audiences: Iterable[str] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"token": token}
    if audiences:
        spec["audiences"] = list(audiences)
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}


def identity(review_status: Mapping[str, Any] | None) -> Identity | None:
    """The authenticated user of a TokenReview's status, or None (unknown, expired, wrong audience)."""
    if not review_status or not review_status.get("authenticated"):
        return None
    user = review_status.get("user") or {}
    username = user.get("username")
    if not username:
        return None
    extra = tuple(sorted((k, tuple(v or ())) for k, v in (user.get("extra") or {}).items()))
    return Identity(username=username, uid=user.get("uid") or None, groups=tuple(user.get("groups") or ()),
                    extra=extra)


def access_review(who: Identity, namespace: str) -> dict[str, Any]:
    """May ``who`` list tickets in ``namespace`` (``ALL_NAMESPACES``: in every namespace)?"""
    spec: dict[str, Any] = {
        "user": who.username, "groups": list(who.groups),
        "resourceAttributes": {"group": GROUP, "resource": RESOURCE, "verb": VERB, "namespace": namespace},
    }
    if who.uid:
        spec["uid"] = who.uid
    if who.extra:
        spec["extra"] = {k: list(v) for k, v in who.extra}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def allowed(review_status: Mapping[str, Any] | None) -> bool:
    """A SubjectAccessReview's verdict; an explicit ``denied`` always wins."""
    return bool(review_status) and bool(review_status.get("allowed")) and not review_status.get("denied")


def visible(items: Iterable[Any], namespaces: Iterable[str]) -> list[Any]:
    """The items (anything with ``.namespace``) that live in an authorized namespace, in their order."""
    allowed_set = set(namespaces)
    return [item for item in items if item.namespace in allowed_set]
