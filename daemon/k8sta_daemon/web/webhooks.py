"""``POST /webhooks/image``: an image push creates a Ticket (other pins from the Track's newest one).

Thin view: authenticate (``sansio.auth``), parse (``sansio.payloads``), then the shared
``operations.create_ticket``. The token is never logged; outcomes are counted on ``/metrics``.
Answers: 201 created, 200 unchanged (redelivery) or ignored event, 400 bad payload, 401 bad token,
404 unknown Track, 503 webhooks disabled or the API unavailable.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request

from k8sta_daemon.ops import board, errors, operations

from . import kubeclient, metrics
from .errors import status_of
from .sansio import auth, payloads

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _answer(source: str, outcome: str, status: int, **body: object) -> tuple[Response, int]:
    metrics.get().webhook_requests.labels(source=source, outcome=outcome).inc()
    return jsonify(**body), status


@bp.post("/image")
def image() -> tuple[Response, int]:
    secret = current_app.config["WEBHOOK_TOKEN"]
    if not secret:
        return _answer("unknown", "disabled", 503, error="webhooks are disabled: set K8STA_WEBHOOK_TOKEN "
                                                         "or K8STA_WEBHOOK_TOKEN_FILE")
    body = request.get_data(cache=False)
    if not auth.authorized(secret, token=request.headers.get(auth.TOKEN_HEADER), body=body,
                           github_signature=request.headers.get(auth.GITHUB_SIGNATURE_HEADER)):
        return _answer("unknown", "unauthorized", 401,
                       error=f"missing or wrong {auth.TOKEN_HEADER} header (or GitHub signature)")
    github_event = request.headers.get("X-GitHub-Event")
    try:
        payload = payloads.decode(body)
        source = payloads.detect(payload, github_event).value
        push = payloads.parse(payload, request.args, default_namespace=current_app.config["NAMESPACE"],
                              github_event=github_event)
    except payloads.PayloadError as exc:
        return _answer("unknown", "invalid", 400, error=str(exc))
    if isinstance(push, payloads.Ignored):
        return _answer(source, "ignored", 200, ignored=push.reason)
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
