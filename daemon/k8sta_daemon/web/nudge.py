"""``POST /webhooks/nudge``: a registry or git forge says something changed; the matching Subscriptions'
pollers read their source at once. The body is never trusted for content: it only names a repository.

Authentication keeps the existing checks (``sansio.auth``: ``X-K8sTA-Token``, GitHub's
``X-Hub-Signature-256``) and adds GitLab's token and Gitea's/Forgejo's signature (``sansio.forges``),
each secret scoped to its namespace (``sansio.scopes``, as ``/webhooks/image``). Answers: 202 nudged,
200 nothing watches it or an ignored event, 400 malformed body (the field named), 401 unauthenticated,
403 a namespace or Track outside the secret's scope, 503 webhooks disabled or the API unavailable. The
namespace comes from ``?namespace=`` or the secret's own, the Track from ``?track=`` or the secret's own (a
secret of one Track nudges only the Subscriptions feeding it). A Subscription nudged moments ago is not
nudged again (``K8STA_WEBHOOK_DEBOUNCE_SECONDS``, ``hooks.nudge``), so a replayed webhook forces no poll.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, request

from k8sta_daemon.ops import errors, intake

from . import hooks
from .hooks import answer
from .sansio import auth, forges
from .sansio import nudges as payloads

bp = Blueprint("nudge", __name__, url_prefix="/webhooks")


def _forge_proof(body: bytes) -> Callable[[str], bool]:
    return lambda secret: forges.authorized(secret, body=body, headers=request.headers)


@bp.post("/nudge")
def nudge() -> hooks.Answer:
    proof = hooks.prove(f"missing or wrong webhook token or signature ({auth.TOKEN_HEADER}, "
                        f"{auth.GITHUB_SIGNATURE_HEADER}, {forges.GITLAB_TOKEN_HEADER}, "
                        f"{' or '.join(forges.GITEA_SIGNATURE_HEADERS)})", also=_forge_proof)
    if not isinstance(proof, hooks.Proven):
        return proof
    body, scope = proof
    query = {key: value for key, value in request.args.items()}
    try:
        found = payloads.parse(payloads.decode(body), request.headers, query)
        namespace = query.get("namespace") or scope.namespace
        track = query.get("track") or scope.track
        try:
            intake.check_name("namespace", namespace)
            if track is not None:
                intake.check_name("track", track)
        except errors.Invalid as exc:
            raise payloads.PayloadError(str(exc)) from None
    except payloads.PayloadError as exc:
        return answer("unknown", "invalid", 400, error=str(exc))
    if not scope.allows(namespace, track):
        where = f"of track {track} in namespace {namespace}" if track else f"in namespace {namespace}"
        return answer("unknown", "forbidden", 403, error=f"this webhook secret cannot nudge subscriptions {where}")
    if isinstance(found, payloads.Ignored):
        return answer(found.source, "ignored", 200, ignored=found.reason)
    return hooks.nudge(found.source, namespace, images=found.images, git_urls=found.git_urls, track=track)
