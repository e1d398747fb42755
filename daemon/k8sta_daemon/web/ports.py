"""Which port serves what: probes and metrics on ``K8STA_OPS_PORT``, everything else on the other port.

Callers: ``create_app`` (``init_app``). The install binds gunicorn to 8080 (the Service: the board, the
API, the webhooks) and 8081 (``K8STA_OPS_PORT``: the kubelet's ``/healthz`` and ``/readyz`` and the
scraper's ``/metrics``, never in the Service), so per-namespace ticket counts and readiness details are not
reachable through the Service, and a caller of the Service cannot tell the probes' port from the outside.
A route on the wrong port is a plain 404, exactly as if it did not exist there.

The port is the one the connection arrived on: under gunicorn the accepted socket's own address, never
the ``Host`` header; under another server (Flask's test client) its ``SERVER_PORT``. Without
``K8STA_OPS_PORT`` every route answers on every port (development, tests).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, request

OPS_BLUEPRINTS = frozenset({"health", "metrics"})


def local_port(environ: dict[str, Any]) -> int | None:
    """The port the request's connection was accepted on."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        try:
            return int(sock.getsockname()[1])
        except (OSError, IndexError, TypeError, ValueError):
            return None
    port = str(environ.get("SERVER_PORT") or "")
    return int(port) if port.isdigit() else None


def _route_by_port() -> None:
    ops = current_app.config["OPS_PORT"]
    if ops is None:
        return
    on_ops = local_port(request.environ) == ops
    if request.endpoint is None:  # no route matched (404, or 405 for another method): only 404 on the ops port
        if on_ops:
            abort(404)
        return
    if on_ops != (request.blueprint in OPS_BLUEPRINTS):
        abort(404)


def init_app(app: Flask) -> None:
    app.before_request(_route_by_port)
