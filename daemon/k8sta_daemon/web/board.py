"""The departure board (``/board``): every Track as an SVG railway, a page per ticket, live over SSE.

Views only: the rendered Tracks come from the process's one watch (``boardwatch.hub()``); a ticket page
reads that ticket and its Events from the API once per view. The page is plain HTML (links, no script
needed); ``static/board.js`` subscribes to ``/board/events`` and swaps a Track's section when it changes.

Two slots for authentication, so it attaches without touching these views:
- ``app.extensions[AUTHENTICATE]``: called before every board request; may return a response (401/403)
  that is sent instead;
- ``app.extensions[NAMESPACE_FILTER]``: ``(namespace) -> bool`` for the current request; every namespace
  the board shows or streams passes through ``visible_namespaces``, and nothing else decides it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from flask import Blueprint, Response, abort, current_app, render_template, request, stream_with_context, url_for

from k8sta_daemon.core import model
from k8sta_daemon.ops import board as views
from k8sta_daemon.ops import errors

from . import boardwatch, kubeclient
from .errors import status_of

AUTHENTICATE = "k8sta.board.authenticate"
NAMESPACE_FILTER = "k8sta.namespace_filter"
bp = Blueprint("board", __name__, url_prefix="/board", static_folder="static", static_url_path="/static")


@bp.before_request
def _authenticate() -> Response | None:
    check: Callable[[], Response | None] | None = current_app.extensions.get(AUTHENTICATE)
    return None if check is None else check()


def visible_namespaces(candidates: Iterable[str]) -> list[str]:
    """The namespaces among ``candidates`` this request may see (all of them until auth registers a filter)."""
    allowed: Callable[[str], bool] | None = current_app.extensions.get(NAMESPACE_FILTER)
    return [n for n in candidates if allowed is None or allowed(n)]


def _wants() -> Callable[[str], bool]:
    """The request's namespace predicate: ``?namespace=`` (else the configured one), then visibility; memoised
    so a stream asks about each namespace once."""
    chosen = request.args.get("namespace") or current_app.config["NAMESPACE"]
    answers: dict[str, bool] = {}

    def wants(namespace: str) -> bool:
        if namespace not in answers:
            answers[namespace] = (chosen is None or namespace == chosen) and bool(visible_namespaces([namespace]))
        return answers[namespace]

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


@bp.get("/events")
def events() -> Response:
    hub = boardwatch.hub()
    try:
        since = int(request.headers.get("Last-Event-ID") or request.args.get("since") or 0)
    except ValueError:
        abort(400, "Last-Event-ID and ?since= must be integers")
    keepalive = current_app.config["BOARD_KEEPALIVE_SECONDS"]
    lifetime = current_app.config["BOARD_STREAM_SECONDS"]
    response = Response(stream_with_context(_stream(hub, since, _wants(), keepalive, lifetime)),
                        mimetype="text/event-stream")
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
    if not visible_namespaces([namespace]):
        raise errors.NotFound(f"ticket {name} not found in namespace {namespace}")
    store = kubeclient.store()
    found: model.Ticket = store.ticket(namespace, name)
    view = views.ticket_json(found)
    events = [views.event_json(e.time, e.type, e.reason, e.message, e.count, e.source)
              for e in store.events(namespace, name)]
    return render_template("board/ticket.html", ticket=view, events=events)
