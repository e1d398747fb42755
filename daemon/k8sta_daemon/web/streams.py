"""How many Server-Sent-Events streams this process holds open: in all, and per user.

Callers: ``create_app`` (``init_app``) and the board's ``/board/events`` view (``admit``). Every open
stream holds one gunicorn thread for up to ``K8STA_BOARD_STREAM_SECONDS``; the threads also serve the
webhooks, the API and the probes. So a stream is admitted only while fewer than
``K8STA_BOARD_MAX_STREAMS`` are open in this process and fewer than ``K8STA_BOARD_MAX_STREAMS_PER_IDENTITY``
belong to the same user; otherwise the view answers 429 with a ``Retry-After`` and the reason, and the
thread is free again at once. ``gunicorn_conf`` runs one worker per pod, so the process's cap is the pod's.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from flask import Flask, current_app

EXTENSION = "k8sta.streams"


class Streams:
    """The open streams of one process, counted under one lock."""

    def __init__(self, total: int, per_identity: int) -> None:
        self.total = total
        self.per_identity = per_identity
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()

    def admit(self, who: str) -> Callable[[], None] | str:
        """A release function (call it once, when the stream closes), or why the stream is refused."""
        with self._lock:
            if sum(self._open.values()) >= self.total:
                return (f"too many live board streams on this server ({self.total}); "
                        "try again shortly (K8STA_BOARD_MAX_STREAMS)")
            if self._open[who] >= self.per_identity:
                return (f"too many live board streams for user {who} ({self.per_identity}); close another "
                        "board tab or try again shortly (K8STA_BOARD_MAX_STREAMS_PER_IDENTITY)")
            self._open[who] += 1
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                self._open[who] -= 1
                if self._open[who] <= 0:
                    del self._open[who]

        return release

    def open(self, who: str | None = None) -> int:
        """Streams open now (of ``who``, when named)."""
        with self._lock:
            return self._open[who] if who is not None else sum(self._open.values())


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Streams(app.config["BOARD_MAX_STREAMS"], app.config["BOARD_MAX_STREAMS_PER_IDENTITY"])


def streams() -> Streams:
    return current_app.extensions[EXTENSION]
