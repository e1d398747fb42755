"""Read-only JSON API of Tracks and Tickets (``/api/v1``): the same views as ``k8sta -o json``.

Lists cover ``?namespace=``, else the configured ``K8STA_NAMESPACE``, else every namespace.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from k8sta_daemon.ops import board

from . import kubeclient

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _scope() -> str | None:
    return request.args.get("namespace") or current_app.config["NAMESPACE"]


@bp.get("/tracks")
def tracks() -> Response:
    store = kubeclient.store()
    namespace = _scope()
    tickets = store.tickets(namespace)
    stations = store.stations(namespace)
    items = []
    for track in store.tracks(namespace):
        mine = {ref.name: spec for ref, spec in stations.items() if ref.namespace == track.namespace}
        items.append(board.track_json(track, mine, tickets))
    return jsonify(items=items)


@bp.get("/tracks/<namespace>/<name>")
def track(namespace: str, name: str) -> Response:
    store = kubeclient.store()
    spec = store.track(namespace, name)
    stations = {ref.name: s for ref, s in store.stations(namespace).items()}
    return jsonify(board.track_json(spec, stations, store.tickets(namespace, name)))


@bp.get("/tickets")
def tickets() -> Response:
    track_name = request.args.get("track") or None
    items = kubeclient.store().tickets(_scope(), track_name)
    return jsonify(items=[board.ticket_summary(t) for t in items])


@bp.get("/tickets/<namespace>/<name>")
def ticket(namespace: str, name: str) -> Response:
    return jsonify(board.ticket_json(kubeclient.store().ticket(namespace, name)))
