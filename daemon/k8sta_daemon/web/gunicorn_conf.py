"""gunicorn settings for the web part: ``gunicorn -c python:k8sta_daemon.web.gunicorn_conf
'k8sta_daemon.web:create_app()'``. Bind and worker counts come from gunicorn's own ``GUNICORN_CMD_ARGS``
or these defaults; threads suit the app (its work is waiting on the Kubernetes API)."""

bind = "0.0.0.0:8080"
workers = 2
worker_class = "gthread"
threads = 4
timeout = 30
graceful_timeout = 10
accesslog = "-"  # paths only: tokens travel in headers, never in the URL
errorlog = "-"
# gunicorn >= 27 opens a control socket under ~/.gunicorn, read-only in our pods: not needed.
control_socket_disable = True


def post_worker_init(worker: object) -> None:
    """JSON log lines like the controller's (configured by the server, never by importing the app)."""
    import os

    from k8sta_daemon.adapters import logs

    logs.configure(os.environ.get("K8STA_LOG_LEVEL", "INFO"))
