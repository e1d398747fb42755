"""What every webhook endpoint shares: find the secret the request proves, nudge, count the answer.

Callers: ``webhooks`` (``/webhooks/image``) and ``nudge`` (``/webhooks/nudge``). Both refuse with 503
while no secret is configured and 401 when the request proves none; each names its own proofs in the
401 message (the nudge endpoint also accepts the forges' own headers, through ``also``). Both end in
``nudge``: webhooks never create tickets, they only make the matching Subscriptions' pollers read now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple

from flask import Response, current_app, jsonify, request

from k8sta_daemon.ops import errors, nudges

from . import kubeclient, metrics, settings
from .errors import status_of
from .sansio import auth, scopes

log = logging.getLogger(__name__)

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
    secrets, disabled = settings.webhook_secrets(current_app.config)
    if not secrets:
        return answer("unknown", "disabled", 503, error=disabled)
    body = request.get_data(cache=False)
    scope = scopes.proven(secrets, token=request.headers.get(auth.TOKEN_HEADER), body=body,
                          github_signature=request.headers.get(auth.GITHUB_SIGNATURE_HEADER),
                          also=also(body) if also is not None else None)
    if scope is None:
        return answer("unknown", "unauthorized", 401, error=unauthorized)
    return Proven(body, scope)


def nudge(source: str, namespace: str, *, images: Sequence[str] = (), git_urls: Sequence[str] = (),
          track: str | None = None, hint: str = "") -> Answer:
    """Nudge the Subscriptions in ``namespace`` watching ``images``/``git_urls`` (and feeding ``track``,
    when named): 202 with their names, 200 when none matches (``hint`` appended: how to declare one) or
    when every match was nudged less than ``K8STA_WEBHOOK_DEBOUNCE_SECONDS`` ago (a replay: no new poll)."""
    try:
        found = nudges.nudge(kubeclient.store(), namespace, images=images, git_urls=git_urls, track=track,
                             debounce=current_app.config["WEBHOOK_DEBOUNCE_SECONDS"])
    except errors.K8staError as exc:
        return answer(source, "error", status_of(exc), error=str(exc))
    names = found.nudged
    log.info("%s webhook nudged %s in %s (debounced: %s)", source, names or "nothing", namespace,
             found.debounced or "none")
    if found.debounced and not names:
        return answer(source, "debounced", 200, nudged=[], debounced=found.debounced,
                      message="nudged moments ago; their pollers are already reading (not nudged again)")
    if not names:
        feeding = f" feeding Track {track}" if track else ""
        return answer(source, "unmatched", 200, nudged=[], message=f"no Subscription in namespace {namespace}"
                      f"{feeding} watches {' or '.join([*images, *git_urls])}{hint}")
    if found.debounced:
        return answer(source, "nudged", 202, nudged=names, debounced=found.debounced)
    return answer(source, "nudged", 202, nudged=names)
