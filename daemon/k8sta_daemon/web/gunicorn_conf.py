"""gunicorn settings for the web part: ``gunicorn -c python:k8sta_daemon.web.gunicorn_conf
'k8sta_daemon.web:create_app()'``. Bind and worker counts come from gunicorn's own ``GUNICORN_CMD_ARGS``
or these defaults.

Worker class ``gthread``: each request runs on a thread of its worker, and the worker's main thread keeps
beating gunicorn's heartbeat, so a long-lived response (the board's Server-Sent Events stream,
``/board/events``) does not count as a hung worker (``timeout`` applies to the worker, not to a
request) and does not block other requests. Every open board tab holds one thread for as long as it is
open, so the streams are capped (``k8sta_daemon.web.streams``: ``K8STA_BOARD_MAX_STREAMS`` in all,
``K8STA_BOARD_MAX_STREAMS_PER_IDENTITY`` per user, then 429) below ``threads``: the threads left over always
serve webhooks, the API and the probes. One worker, so the process's caps are the pod's (scale with
replicas); it keeps one watch of Tracks, Stations and Tickets for all its streams
(``k8sta_daemon.web.boardwatch``). The second port serves only the probes and metrics when the app has
``K8STA_OPS_PORT=8081`` (as the install sets it; ``k8sta_daemon.web.ports``). Streams end by themselves
after ``K8STA_BOARD_STREAM_SECONDS`` (the browser reconnects and catches up), so a graceful shutdown
waits at most ``graceful_timeout`` for them. The sync and gevent-less async workers are not suitable.
"""

bind = ["0.0.0.0:8080", "0.0.0.0:8081"]  # the Service's port; the probes' and metrics' (K8STA_OPS_PORT)
workers = 1  # the stream caps are per process: one worker makes them the pod's
worker_class = "gthread"
threads = 64  # K8STA_BOARD_MAX_STREAMS (40) board viewers + webhooks, API and probes; waits on sockets, not CPU
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = "-"  # paths only: tokens travel in headers, never in the URL
errorlog = "-"
# gunicorn >= 27 opens a control socket under ~/.gunicorn, read-only in our pods: not needed.
control_socket_disable = True


def post_worker_init(worker: object) -> None:
    """JSON log lines like the controller's (configured by the server, never by importing the app), and the
    board's watch started in this worker (after the fork, so it also works with ``--preload``)."""
    import os

    from k8sta_daemon.adapters import logs
    from k8sta_daemon.web import boardwatch

    logs.configure(os.environ.get("K8STA_LOG_LEVEL", "INFO"))
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions") and boardwatch.EXTENSION in app.extensions:
        boardwatch.start(app)
