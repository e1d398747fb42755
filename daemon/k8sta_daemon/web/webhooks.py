"""``POST /webhooks/image``: a registry says an image was pushed; the Subscriptions watching that
repository read the registry at once. A push never creates a ticket by itself.

The body is never trusted for content: of a valid push only the image repository is kept (its tag and
digest are checked, then dropped), and the Subscriptions in the namespace that watch it are nudged
(``k8sta.io/nudged-at``, as ``/webhooks/nudge`` does); their pollers read the registry and their
strategy decides which version is newest, so the order in which pushes arrive never matters. To have
pushes become tickets, declare a Subscription (``spec.image.repository``). A push naming a Track (in a
generic body or ``?track=``) nudges only the Subscriptions feeding that Track.

Thin view: find the secret the request proves and its scope (``sansio.scopes``), parse
(``sansio.payloads``, the namespace and Track defaulting to the secret's), check the push stays in the
secret's scope, then the shared ``hooks.nudge``. The token is never logged; outcomes are counted on
``/metrics``. Answers: 202 nudged, 200 nothing watches it or an ignored event, 400 bad payload, 401 bad
token, 403 a namespace or Track outside the secret's scope, 503 webhooks disabled or the API unavailable.
"""

from __future__ import annotations

from flask import Blueprint, request

from . import hooks
from .hooks import answer
from .sansio import auth, nudges, payloads

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/image")
def image() -> hooks.Answer:
    proof = hooks.prove(f"missing or wrong {auth.TOKEN_HEADER} header (or GitHub signature)")
    if not isinstance(proof, hooks.Proven):
        return proof
    body, scope = proof
    try:
        push = payloads.parse(nudges.decode(body), request.args, default_namespace=scope.namespace,
                              github_event=request.headers.get("X-GitHub-Event"))
    except payloads.PayloadError as exc:
        return answer("unknown", "invalid", 400, error=str(exc))
    source = push.source.value
    if isinstance(push, payloads.Ignored):
        return answer(source, "ignored", 200, ignored=push.reason)
    track = push.track or scope.track  # a secret of one Track nudges only that Track's Subscriptions
    if not scope.allows(push.namespace, track):
        where = f"of track {track} in namespace {push.namespace}" if track else f"in namespace {push.namespace}"
        return answer(source, "forbidden", 403, error=f"this webhook secret cannot nudge Subscriptions {where}")
    repository = push.repositories[0]
    feeds = f", spec.tracks: [{track}]" if track else ""
    return hooks.nudge(source, push.namespace, images=push.repositories, track=track,
                       hint=f"; declare one (kind: Subscription{feeds}, spec.image.repository: {repository}) "
                            "— webhooks never create tickets by themselves")
