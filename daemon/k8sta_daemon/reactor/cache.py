"""The controller's view of the world: the latest object of every kind, fed by watches.

Callers: watch threads write (``replace_all`` on a (re)list, ``apply`` per event) and set ``wake``;
the loop reads a consistent ``copy``; the action units read one object (``get``, ``application``) and
``put`` their own writes' results. The lock is this class's own: every method takes it, no caller does.
Objects are kept as the API returned them; turning them into the model is ``core.codec``'s job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from k8sta_daemon.core import model

Key = tuple[str, str]
KINDS = ("Track", "Station", "Ticket")


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self.objects: dict[str, dict[Key, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self.apps: dict[model.AppRef, dict[str, Any]] = {}
        self.app_event_at: dict[model.AppRef, float] = {}  # monotonic time of the latest event

    def replace_all(self, kind: str, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self.objects[kind] = {key_of(o): o for o in items}
        self.wake.set()

    def apply(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        with self._lock:
            store = self.objects[kind]
            key = key_of(obj)
            if event == "DELETED":
                store.pop(key, None)
            elif _newer(obj, store.get(key)):
                store[key] = obj
        self.wake.set()

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        """Our own write's result, so the next decision sees it without waiting for the watch."""
        self.apply(kind, "MODIFIED", obj)

    def set_apps(self, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self.apps = {_app_ref(a): a for a in items}
        self.wake.set()

    def apply_app(self, event: str, app: dict[str, Any]) -> None:
        ref = _app_ref(app)
        with self._lock:
            if event == "DELETED":
                self.apps.pop(ref, None)
            else:
                self.apps[ref] = app
            self.app_event_at[ref] = time.monotonic()
        self.wake.set()

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self.objects[kind].get((namespace, name))

    def application(self, ref: model.AppRef) -> dict[str, Any] | None:
        with self._lock:
            return self.apps.get(ref)

    def applications(self) -> dict[model.AppRef, dict[str, Any]]:
        with self._lock:
            return dict(self.apps)

    def app_event_times(self, refs: Iterable[model.AppRef]) -> list[float | None]:
        """Monotonic time of each Application's latest watch event (None: none seen yet)."""
        with self._lock:
            return [self.app_event_at.get(ref) for ref in refs]

    def copy(self) -> tuple[dict[str, dict[Key, dict[str, Any]]], dict[model.AppRef, dict[str, Any]]]:
        with self._lock:
            return {k: dict(v) for k, v in self.objects.items()}, dict(self.apps)


def _app_ref(app: dict[str, Any]) -> model.AppRef:
    meta = app["metadata"]
    return model.AppRef(meta.get("namespace", ""), meta["name"])


def _newer(obj: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Never replace a newer object with an older one (our write may overtake a stale watch event)."""
    if current is None:
        return True
    try:
        return int(obj["metadata"]["resourceVersion"]) >= int(current["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return True
