"""Scoped webhook secrets as pure functions: each secret belongs to one namespace (or one Track there).

Callers: ``web.settings`` (parses the secrets once at startup), ``web.hooks`` (finds the secret a request
proves) and the webhook views (check the push stays inside its scope). A secret can never act elsewhere:
a push naming another namespace or Track is refused, and a push naming none gets the secret's own.

The secrets file (a mounted Secret, ``K8STA_WEBHOOK_SECRETS_FILE``) is a YAML list::

    - {namespace: shop, token: "..."}              # any Track in shop
    - {namespace: shop, track: api, token: "..."}  # only Track api in shop (its Subscriptions)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import yaml

from . import auth


class ScopeError(ValueError):
    """The secrets file cannot be used; the message names the entry (never a token)."""


@dataclass(frozen=True)
class Scope:
    namespace: str
    track: str | None
    token: str

    def __repr__(self) -> str:  # never the token, even in a traceback
        return f"Scope(namespace={self.namespace!r}, track={self.track!r})"

    def describe(self) -> str:
        return f"track {self.track} in namespace {self.namespace}" if self.track else f"namespace {self.namespace}"

    def allows(self, namespace: str, track: str | None) -> bool:
        """Inside this scope: its namespace and, for a secret of one Track, that Track (None is every one)."""
        return namespace == self.namespace and (self.track is None or track == self.track)


def parse(text: str) -> tuple[Scope, ...]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScopeError(f"not YAML: {type(exc).__name__}") from None
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ScopeError("must be a YAML list of {namespace, track?, token}")
    scopes = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or set(entry) - {"namespace", "track", "token"}:
            raise ScopeError(f"entry {index} must have only the keys namespace, track (optional) and token")
        namespace, track, token = entry.get("namespace"), entry.get("track"), entry.get("token")
        if not isinstance(namespace, str) or not namespace:
            raise ScopeError(f"entry {index} needs a namespace")
        if track is not None and (not isinstance(track, str) or not track):
            raise ScopeError(f"entry {index}: track must be a name")
        if token is None or str(token) == "":
            raise ScopeError(f"entry {index} needs a token")
        scopes.append(Scope(namespace, track, str(token)))
    tokens = [s.token for s in scopes]
    if len(set(tokens)) != len(tokens):
        raise ScopeError("two entries share a token; each secret must belong to exactly one scope")
    return tuple(scopes)


def proven(scopes: Iterable[Scope], *, token: str | None, body: bytes, github_signature: str | None,
           also: Callable[[str], bool] | None = None) -> Scope | None:
    """The scope whose secret the request carries (token header or GitHub signature, or ``also(secret)``:
    another proof such as a forge's signature), else None.

    Every secret is compared (constant-time each), so the answer time does not tell which one matched.
    """
    found = None
    for scope in scopes:
        ok = auth.authorized(scope.token, token=token, body=body, github_signature=github_signature)
        ok = (also(scope.token) if also is not None else False) or ok
        if ok and found is None:
            found = scope
    return found
