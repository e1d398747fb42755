"""The controller's view of the world: the latest object of every kind, fed by watches.

Callers: watch threads write (``replace_all`` on a (re)list, ``apply`` per event) and set ``wake``;
the loop takes one ``view`` per pass (the snapshot its decision is made from); the action units read
objects from that view and ``put`` their own writes' results into both. The lock is this class's own:
every method takes it, no caller does. Objects are kept as the API returned them and are never changed
in place (a watch event replaces the whole dict), so a view shares them with the cache: one view costs
one dict per kind, never a deep copy. Turning them into the model is ``core.codec``'s job.

The cache also remembers what changed since the loop last took a view (``take``: Tracks, Stations,
Tickets by key, managed Applications; a deletion or a relist of Tracks, Stations or Tickets is
"everything"; a relist of Applications changes the named ones it moved), so a pass decides only the
Tracks those changes concern (``core.scope``). Beside Argo CD's Applications it keeps Argo CD's answer
to K8sTA's latest sync request of one when that was a refusal (``set_refusal``, from the executor): the
view hands it on, and the kept World shows it as ``AppStatus.sync_refused``.

An Application's DELETED event leaves a tombstone (its resourceVersion): a refresh's or a read's answer,
or a list, that left Argo CD before the deletion can arrive after it (they come from the refresher's
threads) and must not bring the Application back; only a newer version (it was created again) does.

Argo CD's stream delivers every Application, also the many K8sTA does not manage. The cache keeps them
all (a Station may name one later) but only an event of an Application some Station references wakes
the loop (``referenced``, kept up to date from the Stations): unrelated Applications cost a JSON parse
and a dict store, never a decision pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from k8sta_daemon.core import codec, model, scope

Key = tuple[str, str]
KINDS = ("Track", "Station", "Ticket")
# How long a deleted Application's tombstone is kept: far longer than any Argo CD request the refresher
# has in flight may take (a request times out long before), so a late answer always finds it.
TOMBSTONE_SECONDS = 600.0


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
        self.deleted: dict[model.AppRef, tuple[dict[str, Any], float]] = {}  # tombstone: DELETED event, when
        self.refusals: dict[model.AppRef, model.SyncRefusal] = {}  # Argo CD refused our latest sync request
        self.listed: set[str] = set()  # kinds whose first list arrived (deciding before would be blind)
        self._station_apps: dict[Key, frozenset[model.AppRef]] = {}  # Station -> the Applications it names
        self.referenced: frozenset[model.AppRef] = frozenset()  # Applications any Station names
        self._changed: dict[str, set[Any]] = {kind: set() for kind in (*KINDS, "Application")}
        self._everything = True  # nothing decided yet

    def replace_all(self, kind: str, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self.objects[kind] = {key_of(o): o for o in items}
            self.listed.add(kind)
            if kind == "Station":
                self._station_apps = {key: _named_apps(obj) for key, obj in self.objects[kind].items()}
                self._reference()
            self._everything = True
        self.wake.set()

    def apply(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        with self._lock:
            store = self.objects[kind]
            key = key_of(obj)
            if event == "DELETED":
                store.pop(key, None)
                self._everything = True  # what it held or named is not in the next World to look up
            elif _newer(obj, store.get(key)):
                store[key] = obj
                self._changed[kind].add(key)
            if kind == "Station":
                named = _named_apps(store[key]) if key in store else frozenset()
                if self._station_apps.get(key, frozenset()) != named:
                    self._station_apps[key] = named
                    self._reference()
        self.wake.set()

    def _reference(self) -> None:
        """Recompute ``referenced`` (lock held); Stations change seldom, Applications often."""
        self.referenced = frozenset().union(*self._station_apps.values())

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        """Our own write's result, so the next decision sees it without waiting for the watch."""
        self.apply(kind, "MODIFIED", obj)

    def set_apps(self, items: list[dict[str, Any]]) -> None:
        """A (re)list of every Application: the named ones it changed (or removed) are changed, as if
        their events had come (a relist every 15 s must not make every pass decide everything)."""
        now = time.monotonic()
        with self._lock:
            self._forget_tombstones(now)
            apps = {ref: a for a in items if self._alive(ref := _app_ref(a), a)}
            before, self.apps = self.apps, apps
            self.app_event_at = dict.fromkeys(apps, now)  # a list is news of every Application
            moved = {ref for ref in self.referenced if _version(before.get(ref)) != _version(apps.get(ref))}
            self._changed["Application"] |= moved
        if moved:
            self.wake.set()

    def apply_app(self, event: str, app: dict[str, Any]) -> bool:
        """Store one Application event (or a read of it: an older one is ignored); returns whether a
        Station names it, and only then wakes the loop."""
        ref = _app_ref(app)
        now = time.monotonic()
        with self._lock:
            referenced = ref in self.referenced
            if event == "DELETED":
                self.apps.pop(ref, None)
                self._forget_tombstones(now)
                self.deleted[ref] = (app, now)
            elif self._alive(ref, app) and _newer(app, self.apps.get(ref)):  # late answers undo nothing newer
                self.apps[ref] = app
            else:
                return referenced
            self.app_event_at[ref] = now
            if referenced:
                self._changed["Application"].add(ref)
        if referenced:
            self.wake.set()
        return referenced

    def app_news(self, ref: model.AppRef) -> None:
        """Something the World says of a named Application changed without an event of its own (its
        health reasons, read off the loop's thread): decide it again, as if an event had come."""
        with self._lock:
            if ref not in self.referenced:
                return
            self._changed["Application"].add(ref)
        self.wake.set()

    def _alive(self, ref: model.AppRef, app: dict[str, Any]) -> bool:
        """``app`` is newer than ``ref``'s deletion, if any (lock held): it was created again, and the
        tombstone goes. An answer that left Argo CD before the deletion is not (same version: the
        deleted state itself)."""
        tombstone = self.deleted.get(ref)
        if tombstone is None:
            return True
        try:
            if int(app["metadata"]["resourceVersion"]) <= int(tombstone[0]["metadata"]["resourceVersion"]):
                return False
        except (KeyError, TypeError, ValueError):
            pass  # no comparable versions: as without a tombstone
        del self.deleted[ref]
        return True

    def _forget_tombstones(self, now: float) -> None:
        """Drop tombstones no answer in flight can still need (lock held)."""
        if self.deleted:
            self.deleted = {ref: t for ref, t in self.deleted.items() if now - t[1] < TOMBSTONE_SECONDS}

    def set_refusal(self, ref: model.AppRef, refusal: model.SyncRefusal | None) -> None:
        """Argo CD's answer to K8sTA's latest sync request of ``ref``, when it was a refusal (None: a
        request was accepted since). Not Argo CD's status but part of what decide sees of the
        Application (``AppStatus.sync_refused``), so a change is decided like an event of it."""
        with self._lock:
            if self.refusals.get(ref) == refusal:
                return
            if refusal is None:
                del self.refusals[ref]
            else:
                self.refusals[ref] = refusal
            referenced = ref in self.referenced
            if referenced:
                self._changed["Application"].add(ref)
        if referenced:
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

    def view(self) -> View:
        """The snapshot one pass decides from (and whose resourceVersions its writes carry)."""
        with self._lock:
            return View({k: dict(v) for k, v in self.objects.items()}, dict(self.apps), dict(self.refusals))

    def take(self) -> tuple[View, scope.Changed]:
        """One view and what changed since the previous ``take`` (forgotten here: the caller decides it,
        or gives it back with ``mark_all``)."""
        with self._lock:
            view = View({k: dict(v) for k, v in self.objects.items()}, dict(self.apps), dict(self.refusals))
            changed = scope.Changed(
                tracks=frozenset(self._changed["Track"]), stations=frozenset(self._changed["Station"]),
                tickets=frozenset(self._changed["Ticket"]), apps=frozenset(self._changed["Application"]),
                everything=self._everything)
            for keys in self._changed.values():
                keys.clear()
            self._everything = False
        return view, changed

    def mark_all(self, wake: bool = True) -> None:
        """The next pass decides every Track (a namespace claimed, drift found, a pass that stopped early)."""
        with self._lock:
            self._everything = True
        if wake:
            self.wake.set()

    def resource_version(self, kind: str, namespace: str, name: str) -> str | None:
        with self._lock:
            obj = self.objects[kind].get((namespace, name))
        return None if obj is None else obj["metadata"].get("resourceVersion")

    def synced(self) -> bool:
        """Every kind has been listed once: before that a decision would miss Tracks or Stations."""
        with self._lock:
            return self.listed.issuperset(KINDS)

    def namespaces(self) -> set[str]:
        """The namespaces that hold any Track, Station or Ticket (what a cluster-wide controller claims)."""
        with self._lock:
            return {ns for store in self.objects.values() for ns, _ in store}


class View:
    """One pass's snapshot: the objects its decision was made from, plus this pass's own writes.

    Status writes read their basis (and so the resourceVersion they carry) here, never from the live
    cache: a change that lands mid-pass (an operator's ``abandon``) makes the write conflict instead of
    being overwritten by a decision that did not see it.
    """

    def __init__(self, objects: dict[str, dict[Key, dict[str, Any]]], apps: dict[model.AppRef, dict[str, Any]],
                 refusals: dict[model.AppRef, model.SyncRefusal] | None = None):
        self.objects = objects
        self.apps = apps
        self.refusals = refusals or {}

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects[kind].get((namespace, name))

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        """Our own write's result: the next write of this pass builds on it."""
        self.objects[kind][key_of(obj)] = obj

    def resource_version(self, kind: str, namespace: str, name: str) -> str | None:
        obj = self.get(kind, namespace, name)
        return None if obj is None else obj["metadata"].get("resourceVersion")


def _app_ref(app: dict[str, Any]) -> model.AppRef:
    meta = app["metadata"]
    return model.AppRef(meta.get("namespace", ""), meta["name"])


def _named_apps(station: dict[str, Any]) -> frozenset[model.AppRef]:
    """The Applications a Station object names (disabled ones too: enabling one changes the Station);
    a malformed Station names none (it is left out of the World)."""
    try:
        return frozenset(codec.station_from_dict(station).applications)
    except codec.MalformedObject:
        return frozenset()


def _version(obj: dict[str, Any] | None) -> str | None:
    return None if obj is None else (obj.get("metadata") or {}).get("resourceVersion")


def _newer(obj: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Never replace a newer object with an older one (our write may overtake a stale watch event)."""
    if current is None:
        return True
    try:
        return int(obj["metadata"]["resourceVersion"]) >= int(current["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return True
