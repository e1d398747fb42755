"""One place that turns the operator surface's errors into JSON responses with the right status.

Callers: ``create_app`` (``init_app``); views simply let ``K8staError`` propagate.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

from k8sta_daemon.ops import errors

STATUS = {errors.NotFound: 404, errors.Invalid: 400, errors.Refused: 409, errors.Denied: 403, errors.Unavailable: 503}


def status_of(exc: errors.K8staError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 500


def init_app(app: Flask) -> None:
    @app.errorhandler(errors.K8staError)
    def operator_error(exc: errors.K8staError) -> tuple[Response, int]:
        return jsonify(error=str(exc)), status_of(exc)
