"""The web part: health, metrics, a read-only JSON API, image webhooks and the departure board, served by
gunicorn.

``gunicorn 'k8sta_daemon.web:create_app()'`` builds the app; nothing is built at import. Each concern
is one blueprint (``health``, ``metrics``, ``api``, ``webhooks``, ``board``); each shared resource has one
``init_app`` (``kubeclient``, ``metrics``, ``boardwatch``, ``auth``: who the caller is and which namespaces it may
see; ``streams``: the board's open streams; ``ports``: probes and metrics on their own port). Configuration
comes from ``K8STA_*`` variables (see ``settings``), overridden by the mapping a test passes in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from . import (
        api,
        auth,
        board,
        boardwatch,
        errors,
        health,
        kubeclient,
        metrics,
        nudge,
        ports,
        settings,
        streams,
        webhooks,
    )
    from .delivery import init_app as init_delivery

    app = Flask(__name__)
    app.config.from_mapping(settings.DEFAULTS)
    app.config.from_prefixed_env("K8STA")
    if config is not None:
        app.config.from_mapping(config)
    settings.normalize(app.config)

    kubeclient.init_app(app)
    metrics.init_app(app)
    errors.init_app(app)
    boardwatch.init_app(app)
    auth.init_app(app)
    streams.init_app(app)
    ports.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(nudge.bp)
    app.register_blueprint(board.bp)
    from . import actions  # the board's operator actions (/board/actions)

    app.register_blueprint(actions.bp)

    init_delivery(app)  # the delivery page and its figures on /metrics
    return app
