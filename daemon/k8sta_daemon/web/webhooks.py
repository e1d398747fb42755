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

from flask import Blueprint, request

from k8sta_daemon.ops import board, errors, operations

from . import hooks, kubeclient
from .errors import status_of
from .hooks import answer
from .sansio import auth, payloads

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/image")
def image() -> hooks.Answer:
    proof = hooks.prove(f"missing or wrong {auth.TOKEN_HEADER} header (or GitHub signature)")
    if not isinstance(proof, hooks.Proven):
        return proof
    body, scope = proof
    github_event = request.headers.get("X-GitHub-Event")
    try:
        payload = payloads.decode(body)
        source = payloads.detect(payload, github_event).value
        push = payloads.parse(payload, request.args, default_namespace=scope.namespace, github_event=github_event)
    except payloads.PayloadError as exc:
        return answer("unknown", "invalid", 400, error=str(exc))
    if isinstance(push, payloads.Ignored):
        return answer(source, "ignored", 200, ignored=push.reason)
    if not scope.allows(push.namespace, push.track):
        return answer(source, "forbidden", 403, error=f"this webhook secret cannot create tickets for track "
                                                      f"{push.track} in namespace {push.namespace}")
    try:
        created = operations.create_ticket(
            kubeclient.store(), push.namespace, push.track, images=[push.image],
            actor=f"{push.source.value} webhook", via="POST /webhooks/image", skip_if_unchanged=True)
    except errors.K8staError as exc:
        outcome = {404: "not_found", 400: "invalid", 409: "refused"}.get(status_of(exc), "error")
        return answer(source, outcome, status_of(exc), error=str(exc))
    log.info("image push %s on track %s/%s: ticket %s%s", push.image.reference, push.namespace, push.track,
             created.name, "" if created.created else " (unchanged, nothing created)",
             extra={"ticket": f"{created.namespace}/{created.name}", "track": push.track})
    return answer(source, "created" if created.created else "unchanged", 201 if created.created else 200,
                  namespace=created.namespace, ticket=created.name, track=created.track, created=created.created,
                  snapshot=board.snapshot_json(created.snapshot))
