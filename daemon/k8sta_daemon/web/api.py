"""Read-only JSON API of Tracks and Tickets (``/api/v1``): the same views as ``k8sta -o json``.

Lists cover ``?namespace=``, else the configured ``K8STA_NAMESPACE``, else every namespace the caller
may list. Every request needs a Kubernetes bearer token and RBAC to list tickets in the namespace
(``auth``): 401 without a valid token, 403 for a namespace the caller may not list.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from k8sta_daemon.ops import board

from . import auth, kubeclient

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(auth.authenticate)


def _scope() -> str | None:
    """The namespace to list (checked), or None: every namespace, filtered with ``auth.visible``."""
    namespace = request.args.get("namespace") or current_app.config["NAMESPACE"]
    if namespace is not None:
        auth.require(namespace)
    return namespace


@bp.get("/tracks")
def tracks() -> Response:
    store = kubeclient.store()
    namespace = _scope()
    tickets = store.tickets(namespace)
    stations = store.stations_running(namespace)
    items = []
    for track in auth.visible(store.tracks(namespace)):
        mine = [(spec, runs) for spec, runs in stations if spec.namespace == track.namespace]
        items.append(board.track_json(track, {s.name: s for s, _ in mine}, tickets,
                                     {s.name: board.runs_json(r) for s, r in mine}))
    return jsonify(items=items)


@bp.get("/tracks/<namespace>/<name>")
def track(namespace: str, name: str) -> Response:
    auth.require(namespace)
    store = kubeclient.store()
    spec = store.track(namespace, name)
    stations = store.stations_running(namespace)
    return jsonify(board.track_json(spec, {s.name: s for s, _ in stations}, store.tickets(namespace, name),
                                    {s.name: board.runs_json(runs) for s, runs in stations}))


@bp.get("/tickets")
def tickets() -> Response:
    track_name = request.args.get("track") or None
    items = auth.visible(kubeclient.store().tickets(_scope(), track_name))
    return jsonify(items=[board.ticket_summary(t) for t in items])


@bp.get("/tickets/<namespace>/<name>")
def ticket(namespace: str, name: str) -> Response:
    auth.require(namespace)
    return jsonify(board.ticket_json(kubeclient.store().ticket(namespace, name)))
