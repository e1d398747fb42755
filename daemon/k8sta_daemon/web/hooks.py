"""What every webhook endpoint does first: count its answer, and find the secret the request proves.

Callers: ``webhooks`` (``/webhooks/image``) and ``nudge`` (``/webhooks/nudge``). Both refuse with 503
while no secret is configured and 401 when the request proves none; each names its own proofs in the
401 message (the nudge endpoint also accepts the forges' own headers, through ``also``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from flask import Response, current_app, jsonify, request

from . import metrics
from .sansio import auth, scopes

Answer = tuple[Response, int]


class Proven(NamedTuple):
    """A request that proved a secret: its raw body and that secret's scope."""

    body: bytes
    scope: scopes.Scope


def answer(source: str, outcome: str, status: int, **body: object) -> Answer:
    """The JSON answer, counted on ``/metrics`` by source and outcome."""
    metrics.get().webhook_requests.labels(source=source, outcome=outcome).inc()
    return jsonify(**body), status


def prove(unauthorized: str, also: Callable[[bytes], Callable[[str], bool]] | None = None) -> Proven | Answer:
    """The request's body and proven scope, or the 503/401 answer (``unauthorized``: the 401's message).

    ``also(body)`` is a further proof per secret (a forge's signature over that body).
    """
    secrets = current_app.config["WEBHOOK_SECRETS"]
    if not secrets:
        return answer("unknown", "disabled", 503, error=current_app.config["WEBHOOKS_DISABLED"])
    body = request.get_data(cache=False)
    scope = scopes.proven(secrets, token=request.headers.get(auth.TOKEN_HEADER), body=body,
                          github_signature=request.headers.get(auth.GITHUB_SIGNATURE_HEADER),
                          also=also(body) if also is not None else None)
    if scope is None:
        return answer("unknown", "unauthorized", 401, error=unauthorized)
    return Proven(body, scope)
