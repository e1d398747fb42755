"""The board's one watch per process and its fan-out to Server-Sent-Events clients.

Callers: ``create_app`` (``init_app``), the board views (``hub()``: the page reads the rendered Tracks,
the event stream waits for changes) and the board benchmark (``Hub.feed``/``Hub.apply``). Three watch
threads (Tracks, Stations, Tickets; ``kube.Kube.watch``: list, watch, re-list on any break) feed one
``BoardState``; each change re-renders only the Tracks it affects, and a Track whose picture really
changed gets a new sequence number in a shared change log. Browsers never cause API calls: each SSE
stream waits on one condition variable and sends the fragments changed since the sequence it has seen
(``Last-Event-ID`` on reconnect), so a slow or reconnecting client catches up without a queue of its own.

The watch starts when a gunicorn worker has booted (``gunicorn_conf.post_worker_init`` calls ``start``) or
on first use, never at app creation, so a gunicorn master that preloads the app forks no threads.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from markupsafe import Markup

from k8sta_daemon.adapters import kube
from k8sta_daemon.core import model

from . import kubeclient
from .sansio import svg
from .sansio.boardstate import KINDS, BoardState

EXTENSION = "k8sta.board"
LOG_SIZE = 4096  # changes remembered for catch-up; a client further behind gets every Track again
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fragment:
    """One Track's rendered section as of change ``seq``; ``html`` None: the Track is gone."""

    ref: model.TrackRef
    seq: int
    html: Markup | None
    published: float  # wall-clock seconds when it was published (the page measures its lag from it)
    data: str  # the SSE event's JSON, encoded once for every client

    @classmethod
    def make(cls, ref: model.TrackRef, seq: int, html: Markup | None, published: float) -> Fragment:
        data = json.dumps({"id": svg.dom_id(ref.namespace, ref.name), "namespace": ref.namespace,
                           "html": str(html) if html is not None else None, "seq": seq,
                           "published": round(published * 1000, 1)})
        return cls(ref, seq, html, published, data)

    @property
    def dom_id(self) -> str:
        return svg.dom_id(self.ref.namespace, self.ref.name)


class Hub:
    """The state, the rendered Tracks and the change log of one process, behind one condition."""

    def __init__(self, prefix: str = "/board", clock: Callable[[], float] = time.time) -> None:
        self.prefix = prefix
        self._clock = clock
        self._cond = threading.Condition()
        self.state = BoardState()
        self._fragments: dict[model.TrackRef, Fragment] = {}
        self._log: collections.deque[tuple[int, model.TrackRef]] = collections.deque(maxlen=LOG_SIZE)
        self._seq = 0
        self._synced: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()

    # -- feeding (watch threads, the benchmark) --------------------------------------------------

    def feed(self, kind: str, items: Iterable[dict[str, Any]]) -> int:
        """A full list of ``kind``; returns how many Tracks changed."""
        with self._cond:
            affected = self.state.replace_all(kind, items)
            first = kind not in self._synced
            self._synced.add(kind)
            changed = self._publish(affected)
            if first:
                self._cond.notify_all()  # a page may be waiting for ``ready``, even if no picture changed
            return changed

    def apply(self, kind: str, event: str, obj: dict[str, Any]) -> int:
        """One watch event; returns how many Tracks changed."""
        with self._cond:
            return self._publish(self.state.apply(kind, event, obj))

    def _publish(self, affected: set[model.TrackRef]) -> int:
        changed = 0
        now = self._clock()
        for ref in sorted(affected):
            view = self.state.track_view(ref)
            html = None if view is None else svg.render_track(view, prefix=self.prefix)
            old = self._fragments.get(ref)
            if (old.html if old else None) == html:
                continue
            self._seq += 1
            self._fragments[ref] = Fragment.make(ref, self._seq, html, now)
            self._log.append((self._seq, ref))
            changed += 1
        if changed:
            self._cond.notify_all()
        return changed

    # -- reading (views) --------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._synced.issuperset(KINDS)

    def wait_ready(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.ready, timeout)

    def snapshot(self, wants: Callable[[str], bool]) -> tuple[int, list[Fragment], list[str]]:
        """The current sequence, the Tracks of the namespaces ``wants`` (in name order) and every namespace."""
        with self._cond:
            fragments = [f for ref, f in sorted(self._fragments.items()) if f.html is not None and wants(ref.namespace)]
            return self._seq, fragments, self.state.namespaces()

    def ticket(self, namespace: str, name: str) -> model.Ticket | None:
        with self._cond:
            return self.state.ticket(namespace, name)

    def changes_since(self, seq: int, timeout: float) -> tuple[int, list[Fragment]]:
        """Block until something newer than ``seq`` exists (or ``timeout``); the newest fragment per Track."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > seq or self._stop.is_set(), timeout)
            if self._seq <= seq:
                return seq, []
            if self._log and self._log[0][0] <= seq + 1:
                refs = {ref for s, ref in self._log if s > seq}
            else:  # fell out of the log (or a stale Last-Event-ID): every Track again
                refs = set(self._fragments)
            changed = sorted((self._fragments[r] for r in refs if self._fragments[r].seq > seq),
                             key=lambda f: f.seq)
            return self._seq, changed

    # -- the watch ----------------------------------------------------------------------------------

    def start(self, make_kube: Callable[[], kube.Kube]) -> None:
        """Start the three watch threads once (later calls do nothing)."""
        with self._start_lock:
            if self._threads:
                return
            for kind in KINDS:
                thread = threading.Thread(target=self._watch, args=(kind, make_kube), daemon=True,
                                          name=f"k8sta-board-watch-{kind.lower()}")
                thread.start()
                self._threads.append(thread)

    def _watch(self, kind: str, make_kube: Callable[[], kube.Kube]) -> None:
        while not self._stop.is_set():
            try:
                client = make_kube()
            except Exception as exc:  # no client yet (API unreachable, bad kubeconfig): retry
                log.warning("board watch of %ss cannot start: %s", kind, exc)
                self._stop.wait(2.0)
                continue
            client.watch(kind, lambda event, obj: self.apply(kind, event, obj),
                         lambda items: self.feed(kind, items), self._stop)

    def stop(self) -> None:
        """End the watch and wake every stream (they return and close)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Hub()


def start(app: Flask) -> None:
    """Start the app's watch now (gunicorn's ``post_worker_init``), so the first page finds it listed."""
    with app.app_context():
        hub()


def hub() -> Hub:
    """The app's hub, its watch started (unless ``K8STA_BOARD_WATCH`` is off: a fed, in-memory board)."""
    current: Hub = current_app.extensions[EXTENSION]
    if current_app.config["BOARD_WATCH"]:
        clients = kubeclient.clients()
        namespace = current_app.config["NAMESPACE"]
        current.start(lambda: kube.Kube(clients.api(), namespace, component="k8sta-web"))
    return current
