"""The board's delivery page (``/board/delivery/<namespace>``): the delivery figures (DORA) of a namespace's
Tracks over the last 30 days, one server-rendered SVG per (Track, terminal Station).

Views only: the figures are ``ops.delivery.read`` (the tickets the API holds, read once per view), the
days ``core.delivery.last_days`` with this process's clock, the picture ``sansio.deliverysvg``. Who may
see a namespace is the board's rule (``board.visible_namespaces``), checked before anything is read;
callers authenticate as on the board (``board.AUTHENTICATE``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from k8sta_daemon.core import delivery
from k8sta_daemon.ops import delivery as reading
from k8sta_daemon.ops import errors

from . import auth, board, deliverymetrics, kubeclient
from .errors import status_of
from .sansio import deliverysvg

DAYS = 30
bp = Blueprint("delivery", __name__, url_prefix="/board/delivery")


@bp.before_request
def _authenticate() -> Response | None:
    check: Callable[[], Response | None] = current_app.extensions.get(board.AUTHENTICATE, auth.authenticate)
    return check()


@bp.errorhandler(errors.K8staError)
def _operator_error(exc: errors.K8staError) -> tuple[str, int]:
    return render_template("board/error.html", message=str(exc)), status_of(exc)


@bp.get("/")
def index() -> BaseResponse | str:
    """The configured namespace's page, else a list of the namespaces the caller may see."""
    configured = current_app.config["NAMESPACE"]
    if configured:
        return redirect(url_for(".page", namespace=configured))
    namespaces = sorted({t.namespace for t in kubeclient.store().tracks(None)})
    return render_template("board/delivery_index.html", namespaces=board.visible_namespaces(namespaces))


@bp.get("/<namespace>")
def page(namespace: str) -> str:
    if not board.visible_namespaces([namespace]):  # before anything is read: 403 says nothing about what exists
        raise auth.Forbidden(f"forbidden: may not list tickets in namespace {namespace}")
    now = time.time()
    windows = delivery.last_days(reading.read(kubeclient.store(), namespace), now, DAYS, namespace=namespace)
    return render_template("board/delivery.html", namespace=namespace, days=DAYS,
                           sections=[deliverysvg.render_window(w) for w in windows])


def init_app(app: Flask) -> None:
    """The page's blueprint and the figures' collector on ``/metrics`` (after ``metrics.init_app``)."""
    deliverymetrics.init_app(app)
    app.register_blueprint(bp)
