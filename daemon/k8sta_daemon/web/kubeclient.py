"""The Kubernetes client of one app: built lazily on first use, shared by its requests and threads.

Callers: views through ``store()``/``api_client()``, the metrics collector through ``Clients``.
Lazy, so the app starts (and ``/healthz`` answers) even while the API server is unreachable; a
failure to build the client surfaces as ``Unavailable`` and is retried on the next request.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app
from kubernetes import client as k8s_client

from k8sta_daemon.adapters import kube
from k8sta_daemon.ops import errors
from k8sta_daemon.ops.store import Store

EXTENSION = "k8sta.kube"


class Clients:
    def __init__(self, kubeconfig: str | None) -> None:
        self.kubeconfig = kubeconfig
        self._lock = threading.Lock()
        self._api: k8s_client.ApiClient | None = None

    def api(self) -> k8s_client.ApiClient:
        with self._lock:
            if self._api is None:
                try:
                    self._api = kube.api_client(self.kubeconfig)
                except Exception as exc:  # missing file, not in a cluster, bad YAML: all mean "not ready"
                    where = f"kubeconfig {self.kubeconfig}" if self.kubeconfig else "the in-cluster service account"
                    raise errors.Unavailable(f"cannot configure a Kubernetes client from {where}: "
                                             f"{type(exc).__name__}: {exc}") from None
            return self._api

    def store(self) -> Store:
        return Store(self.api(), component="k8sta-web")


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Clients(app.config["KUBECONFIG"])


def clients() -> Clients:
    return current_app.extensions[EXTENSION]


def store() -> Store:
    return clients().store()
