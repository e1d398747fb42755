"""The departure board (``/board``): every Track as an SVG railway, a page per ticket, live over SSE.

Views only: the rendered Tracks come from the process's one watch (``boardwatch.hub()``); a ticket page
reads that ticket and its Events from the API once per view. The page is plain HTML (links, no script
needed); ``static/board.js`` subscribes to ``/board/events`` and swaps a Track's section when it changes.

Who may see what is Kubernetes RBAC of the caller (``web.auth``: a bearer token checked with
TokenReview, each namespace with a SubjectAccessReview), through two slots a deployment or a test may
fill instead:
- ``app.extensions[AUTHENTICATE]``: called before every board request (default ``auth.authenticate``);
  may return a response that is sent instead, or raise;
- ``app.extensions[NAMESPACE_FILTER]``: ``(namespace) -> bool`` for the current request (default: the
  caller may ``list tickets.k8sta.io`` there); every namespace the board shows or streams passes through
  ``visible_namespaces``, and nothing else decides it.

``/board/events`` holds a thread per stream, so before streaming it needs a namespace the caller may see
(else 403, as for a ticket page) and a free slot (``streams``: per process and per user, else 429).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from k8sta_daemon.core import diff as core_diff
from k8sta_daemon.core import model
from k8sta_daemon.ops import board as views
from k8sta_daemon.ops import diff as diffs
from k8sta_daemon.ops import errors
from k8sta_daemon.ops.store import Store

from . import auth, boardwatch, kubeclient, streams
from .errors import status_of
from .sansio import authz

AUTHENTICATE = "k8sta.board.authenticate"
NAMESPACE_FILTER = "k8sta.namespace_filter"
bp = Blueprint("board", __name__, url_prefix="/board", static_folder="static", static_url_path="/static")


@bp.before_request
def _authenticate() -> Response | None:
    check: Callable[[], Response | None] = current_app.extensions.get(AUTHENTICATE, auth.authenticate)
    return check()


def visible_namespaces(candidates: Iterable[str]) -> list[str]:
    """The namespaces among ``candidates`` this request may see."""
    candidates = list(candidates)
    allowed: Callable[[str], bool] | None = current_app.extensions.get(NAMESPACE_FILTER)
    if allowed is None:  # the caller's RBAC; many namespaces are cheaper with one cluster-wide review
        if len(candidates) > 1 and auth.everywhere():
            return candidates
        allowed = auth.may
    return [n for n in candidates if allowed(n)]


def _wants() -> Callable[[str], bool]:
    """The request's namespace predicate: ``?namespace=`` (else the configured one), then visibility (asked
    per change: ``web.auth`` caches its answers briefly, so a revoked RoleBinding also ends a live stream)."""
    chosen = request.args.get("namespace") or current_app.config["NAMESPACE"]

    def wants(namespace: str) -> bool:
        return (chosen is None or namespace == chosen) and bool(visible_namespaces([namespace]))

    return wants


@bp.errorhandler(errors.K8staError)
def _operator_error(exc: errors.K8staError) -> tuple[str, int]:
    return render_template("board/error.html", message=str(exc)), status_of(exc)


@bp.get("/")
def index() -> tuple[str, int] | str:
    hub = boardwatch.hub()
    if not hub.wait_ready(current_app.config["BOARD_READY_SECONDS"]):
        kubeclient.store().tracks(current_app.config["NAMESPACE"])  # raises why the API cannot be read
        return render_template("board/error.html", message="the board is still listing Tracks, Stations and "
                                                           "Tickets; try again in a moment"), 503
    wants = _wants()
    seq, fragments, namespaces = hub.snapshot(wants)
    chosen = request.args.get("namespace") or None
    return render_template("board/index.html", fragments=fragments, seq=seq, chosen=chosen,
                           namespaces=visible_namespaces(namespaces),
                           events_url=url_for(".events", namespace=chosen, since=seq))


def _require_a_namespace(hub: boardwatch.Hub) -> None:
    """Raises Forbidden unless the caller may see the chosen namespace (``?namespace=``, else the
    configured one) or, with none chosen, at least one namespace the board shows (or every namespace)."""
    chosen = request.args.get("namespace") or current_app.config["NAMESPACE"]
    if chosen is not None:
        if not visible_namespaces([chosen]):
            raise auth.Forbidden(f"forbidden: may not list tickets in namespace {chosen}, so there is nothing "
                                 "to stream")
        return
    hub.wait_ready(current_app.config["BOARD_READY_SECONDS"])
    if visible_namespaces(hub.snapshot(lambda _namespace: False)[2]):
        return
    if current_app.extensions.get(NAMESPACE_FILTER) is None and auth.everywhere():
        return  # a cluster-wide reader of a board without Tracks yet: they will appear in the stream
    raise auth.Forbidden(f"forbidden: may list {authz.RESOURCE}.{authz.GROUP} in none of the board's "
                         "namespaces, so there is nothing to stream; ask for a RoleBinding that allows it, or "
                         "name a namespace with ?namespace=")


def _who() -> str:
    """The stream's owner for the per-user cap: the authenticated user (an auth slot may leave none)."""
    identity = getattr(g, "k8sta_identity", None)
    return identity.username if identity is not None else "anonymous"


@bp.get("/events")
def events() -> Response | tuple[Response, int, dict[str, str]]:
    hub = boardwatch.hub()
    try:
        since = int(request.headers.get("Last-Event-ID") or request.args.get("since") or 0)
    except ValueError:
        abort(400, "Last-Event-ID and ?since= must be integers")
    _require_a_namespace(hub)
    admitted = streams.streams().admit(_who())
    if isinstance(admitted, str):
        return jsonify(error=admitted), 429, {"Retry-After": "10"}
    keepalive = current_app.config["BOARD_KEEPALIVE_SECONDS"]
    lifetime = current_app.config["BOARD_STREAM_SECONDS"]
    try:
        response = Response(stream_with_context(_stream(hub, since, _wants(), keepalive, lifetime)),
                            mimetype="text/event-stream")
    except BaseException:
        admitted()
        raise
    response.call_on_close(admitted)  # the server closes every response, streamed to its end or not
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx-style proxies must not buffer the stream
    return response


def _stream(hub: boardwatch.Hub, since: int, wants: Callable[[str], bool], keepalive: float,
            lifetime: float) -> Iterator[str]:
    """SSE: each changed Track of a wanted namespace as one ``track`` event (id = its change number)."""
    yield "retry: 2000\n: connected\n\n"
    end = time.monotonic() + lifetime
    seq = since
    while not hub.stopped:
        remaining = end - time.monotonic()
        if remaining <= 0:
            return
        seq, changed = hub.changes_since(seq, min(keepalive, remaining))
        sent = False
        for fragment in changed:
            if wants(fragment.ref.namespace):
                sent = True
                yield f"id: {fragment.seq}\nevent: track\ndata: {fragment.data}\n\n"
        if not sent:
            yield ": keepalive\n\n"


@bp.get("/tickets/<namespace>/<name>")
def ticket(namespace: str, name: str) -> str:
    if not visible_namespaces([namespace]):  # before anything is read: 403 says nothing about what exists
        raise auth.Forbidden(f"forbidden: may not list tickets in namespace {namespace}")
    store = kubeclient.store()
    found: model.Ticket = store.ticket(namespace, name)
    view = views.ticket_json(found)
    events = [views.event_json(e.time, e.type, e.reason, e.message, e.count, e.source)
              for e in store.events(namespace, name)]
    change, why = _diff(store, namespace, name, request.args.get("station") or None)
    return render_template("board/ticket.html", ticket=view, events=events, diff=change, diff_error=why)


DIFF_SETTINGS = ("CACHE", "KUSTOMIZE", "REPO_SECRETS_NAMESPACE", "ARGOCD_NAMESPACE", "DEFAULT_SOURCE_BRANCH")


def _diff(store: Store, namespace: str, name: str, station: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The ticket's diff at ``station`` (default: as ``k8sta diff``), or why it cannot be shown: the page
    still shows the ticket when git or a render fails."""
    config = current_app.config
    environ = {"HOME": os.environ.get("HOME", "/tmp"),  # the default cache dir, as for the CLI
               **{f"K8STA_{key}": str(config[key]) for key in DIFF_SETTINGS if config.get(key)}}
    try:
        found = diffs.ticket_diff(store, diffs.git_access(store.api, environ), namespace, name, station)
    except errors.K8staError as exc:
        return None, str(exc)
    return core_diff.to_json(found, views.iso), None
