"""``POST /webhooks/image``: an image push creates a Ticket (other pins from the Track's newest one).

Thin view: find the secret the request proves and its scope (``sansio.scopes``), parse
(``sansio.payloads``, the namespace defaulting to the secret's), check the push stays in the secret's
scope, then the shared ``operations.create_ticket``. The token is never logged; outcomes are counted on
``/metrics``. Answers: 201 created, 200 unchanged (redelivery) or ignored event, 400 bad payload, 401 bad
token, 403 a namespace or Track outside the secret's scope, 404 unknown Track, 503 webhooks disabled or
the API unavailable.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request

from k8sta_daemon.ops import board, errors, operations

from . import kubeclient, metrics
from .errors import status_of
from .sansio import auth, payloads, scopes

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _answer(source: str, outcome: str, status: int, **body: object) -> tuple[Response, int]:
    metrics.get().webhook_requests.labels(source=source, outcome=outcome).inc()
    return jsonify(**body), status


@bp.post("/image")
def image() -> tuple[Response, int]:
    secrets = current_app.config["WEBHOOK_SECRETS"]
    if not secrets:
        return _answer("unknown", "disabled", 503, error=current_app.config["WEBHOOKS_DISABLED"])
    body = request.get_data(cache=False)
    scope = scopes.proven(secrets, token=request.headers.get(auth.TOKEN_HEADER), body=body,
                          github_signature=request.headers.get(auth.GITHUB_SIGNATURE_HEADER))
    if scope is None:
        return _answer("unknown", "unauthorized", 401,
                       error=f"missing or wrong {auth.TOKEN_HEADER} header (or GitHub signature)")
    github_event = request.headers.get("X-GitHub-Event")
    try:
        payload = payloads.decode(body)
        source = payloads.detect(payload, github_event).value
        push = payloads.parse(payload, request.args, default_namespace=scope.namespace, github_event=github_event)
    except payloads.PayloadError as exc:
        return _answer("unknown", "invalid", 400, error=str(exc))
    if isinstance(push, payloads.Ignored):
        return _answer(source, "ignored", 200, ignored=push.reason)
    if not scope.allows(push.namespace, push.track):
        return _answer(source, "forbidden", 403, error=f"this webhook secret cannot create tickets for track "
                                                       f"{push.track} in namespace {push.namespace}")
    try:
        created = operations.create_ticket(
            kubeclient.store(), push.namespace, push.track, images=[push.image],
            actor=f"{push.source.value} webhook", via="POST /webhooks/image", skip_if_unchanged=True)
    except errors.K8staError as exc:
        outcome = {404: "not_found", 400: "invalid", 409: "refused"}.get(status_of(exc), "error")
        return _answer(source, outcome, status_of(exc), error=str(exc))
    log.info("image push %s on track %s/%s: ticket %s%s", push.image.reference, push.namespace, push.track,
             created.name, "" if created.created else " (unchanged, nothing created)",
             extra={"ticket": f"{created.namespace}/{created.name}", "track": push.track})
    return _answer(source, "created" if created.created else "unchanged", 201 if created.created else 200,
                   namespace=created.namespace, ticket=created.name, track=created.track, created=created.created,
                   snapshot=board.snapshot_json(created.snapshot))
