"""A poller per Subscription: read the source on its interval (at once when nudged), create one ticket
per subscribed Track for each new change, write what it found and did into the Subscription's status.

``Intake.run`` watches Subscriptions (list + watch, as the controller watches its kinds) and keeps one
``Poller`` thread per Subscription. A poller acts only while ``is_leader()`` and no other controller
claimed its namespace (``claimed_by``); a nudge (the ``k8sta.io/nudged-at`` annotation a webhook sets)
wakes it at once. Exactly once: ticket names come
from ``core.subscriptions.ticket_name``, so a repeated read, a restart or a second replica meets
AlreadyExists; ``status.acted`` records each change and the tickets made for it. Every failed read
gets a Ready=False condition naming the cause, creates nothing and is retried with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from k8sta_daemon.adapters import argocd, kube, registry
from k8sta_daemon.adapters.git.access import GitSettings
from k8sta_daemon.core import codec, delivery, model, selection
from k8sta_daemon.core import subscriptions as subs
from k8sta_daemon.ops import errors, operations
from k8sta_daemon.ops.store import Store

from . import config, images

log = logging.getLogger("k8sta.intake")
DOCKERCONFIG_TYPE = "kubernetes.io/dockerconfigjson"


class ReadFailed(Exception):
    def __init__(self, reason: subs.Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """One read: the condition to show, what was found, the tickets made, and when to read again."""

    ready: bool
    reason: subs.Reason
    message: str
    found: dict[str, str] | None = None
    acted: subs.Acted | None = None
    delay: float = 0.0


@dataclass
class Intake:
    kube: kube.Kube
    store: Store
    is_leader: Callable[[], bool] = lambda: True
    # the controller that claimed a namespace instead of this one: its intake reads that namespace's
    # Subscriptions, so two overlapping controllers never both act on one (``leader.NamespaceClaims``)
    claimed_by: Callable[[str], str | None] = lambda namespace: None
    connect: images.Connect = images.connect
    git: GitSettings | None = None
    argo: argocd.ArgoCD | None = None
    clock: Callable[[], float] = time.time
    on_rerendered: Callable[[], None] = lambda: None  # the drift watcher looks at app branches now
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pollers: dict[tuple[str, str], Poller] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    polls: int = 0  # reads done, for tests and metrics

    # -- the watch ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Watch Subscriptions until ``stop``; each one gets its poller thread."""
        try:
            self.kube.watch("Subscription", self._on_event, self._on_resync, stop)
        finally:
            with self.lock:
                for poller in self.pollers.values():
                    poller.stop.set()

    def _on_resync(self, items: list[dict[str, Any]]) -> None:
        seen = set()
        for obj in items:
            seen.add(self._key(obj))
            self._on_event("MODIFIED", obj)
        with self.lock:
            gone = [k for k in self.pollers if k not in seen]
        for key in gone:
            self._forget(key)

    @staticmethod
    def _key(obj: dict[str, Any]) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return (str(meta.get("namespace")), str(meta.get("name")))

    def _forget(self, key: tuple[str, str]) -> None:
        with self.lock:
            self.objects.pop(key, None)
            poller = self.pollers.pop(key, None)
        if poller is not None:
            poller.stop.set()
            poller.wake.set()

    def _on_event(self, event: str, obj: dict[str, Any]) -> None:
        key = self._key(obj)
        if event == "DELETED":
            self._forget(key)
            return
        with self.lock:
            old = self.objects.get(key)
            self.objects[key] = obj
            poller = self.pollers.get(key)
            if poller is None:
                poller = self.pollers[key] = Poller(self, key)
                poller.start()
                return
        if old is None or _nudge(old) != _nudge(obj) or _generation(old) != _generation(obj):
            poller.wake.set()  # a webhook's nudge or a changed spec: read now

    def subscription(self, key: tuple[str, str]) -> tuple[dict[str, Any] | None, subs.Subscription | None, str]:
        with self.lock:
            obj = self.objects.get(key)
        if obj is None:
            return None, None, ""
        try:
            return obj, subs.from_dict(obj), ""
        except codec.MalformedObject as exc:
            return obj, None, str(exc)

    def default_config(self, namespace: str, track: str) -> str | None:
        """The newest main commit a config Subscription of ``track`` saw (the default config of new tickets)."""
        with self.lock:
            objects = [o for (ns, _), o in self.objects.items() if ns == namespace]
        return subs.seen_config(objects, track)

    # -- one read -------------------------------------------------------------------------------

    def poll(self, key: tuple[str, str]) -> float | None:
        """Read one Subscription's source, act, write its status; the seconds until the next read."""
        obj, sub, problem = self.subscription(key)
        if obj is None:
            return None
        self.polls += 1
        if sub is None:
            outcome = Outcome(False, subs.Reason.INVALID_SPEC, problem, delay=300.0)
            failures = int((obj.get("status") or {}).get("failures") or 0) + 1
            self._write(obj, None, outcome, failures, source="(invalid)")
            return outcome.delay
        source = (f"image {sub.image.repository} ({sub.image.rule.strategy.value})" if sub.image else
                  f"git {sub.config.repo_url} {sub.config.branch}" if sub.config else "")
        try:
            outcome = self._read_image(sub) if sub.image is not None else config.read(self, sub)
        except ReadFailed as exc:
            outcome = Outcome(False, exc.reason, str(exc))
        failures = 0 if outcome.ready else sub.failures + 1
        delay = sub.interval if outcome.ready else min(sub.interval, subs.retry_delay(failures)) if \
            outcome.reason is subs.Reason.NO_MATCHING_TAG else subs.retry_delay(failures)
        self._write(obj, sub, outcome, failures, source)
        log.info("subscription %s/%s: %s %s", sub.namespace, sub.name, outcome.reason.value, outcome.message,
                 extra={"subscription": f"{sub.namespace}/{sub.name}"})
        return delay

    def _credentials(self, sub: subs.Subscription) -> registry.Credentials | None:
        assert sub.image is not None
        if sub.image.pull_secret is None:
            return None
        name = f"{sub.namespace}/{sub.image.pull_secret}"
        try:
            type_, data = self.kube.read_secret(sub.namespace, sub.image.pull_secret)
        except kube.NotFound:
            raise ReadFailed(subs.Reason.PULL_SECRET_INVALID, f"pull secret {name} not found") from None
        except kube.KubeError as exc:
            raise ReadFailed(subs.Reason.PULL_SECRET_INVALID, f"pull secret {name}: {exc}") from None
        if type_ != DOCKERCONFIG_TYPE or ".dockerconfigjson" not in data:
            raise ReadFailed(subs.Reason.PULL_SECRET_INVALID,
                             f"pull secret {name} is of type {type_ or '(none)'}, not {DOCKERCONFIG_TYPE}")
        host = registry.split_repository(sub.image.repository)[0]
        try:
            found = registry.credentials_from_dockerconfigjson(data[".dockerconfigjson"], host)
        except ValueError as exc:
            raise ReadFailed(subs.Reason.PULL_SECRET_INVALID, f"pull secret {name}: {exc}") from None
        if found is None:
            raise ReadFailed(subs.Reason.PULL_SECRET_INVALID, f"pull secret {name} has no entry for {host}")
        return found

    def _read_image(self, sub: subs.Subscription) -> Outcome:
        source = sub.image
        assert source is not None
        credentials = self._credentials(sub)
        client = self.connect(source, credentials)
        try:
            found = images.newest(source, client)
        except registry.RegistryError as exc:
            raise ReadFailed(subs.Reason(exc.reason), str(exc)) from None
        except selection.InvalidRule as exc:
            raise ReadFailed(subs.Reason.INVALID_SPEC, str(exc)) from None
        if found is None or found.digest is None:
            raise ReadFailed(subs.Reason.NO_MATCHING_TAG, f"{source.repository}: no tag matches "
                             f"{_describe_rule(source.rule)}")
        reference = f"{source.repository}:{found.tag}@{found.digest}"
        report = {"reference": f"{source.repository}:{found.tag}", "tag": found.tag, "digest": found.digest}
        pin = model.ImagePin(name=source.repository, tag=found.tag, digest=found.digest)
        return self._act(sub, found.digest, reference, report, images=[pin],
                         changed_at=lambda: found.created if found.created is not None else
                         images.created(source, client, found.tag))

    def _act(self, sub: subs.Subscription, key: str, reference: str, report: dict[str, str], *,
             images: list[model.ImagePin] | None = None, config_commit: str | None = None,
             changed_at: Callable[[], float | None] = lambda: None) -> Outcome:
        """Create the plan's tickets; ``changed_at`` (asked only when there is one to create) is when the
        change was made, recorded on each for its lead time (``core.delivery``)."""
        tracks: dict[str, model.TrackSpec | None] = {}
        for track in sub.tracks:
            try:
                tracks[track] = self.store.track(sub.namespace, track)
            except errors.NotFound:
                tracks[track] = None
            except errors.K8staError as exc:
                raise ReadFailed(subs.Reason.TRACK_NOT_FOUND, f"track {track}: {exc}") from None
        plan = subs.plan(sub, key, tracks)
        made, refused = [], []
        changed = changed_at() if plan.create else None
        when = {delivery.CHANGED_AT_ANNOTATION: codec.format_time(changed)} if changed is not None else {}
        for track, name in plan.create:
            try:
                created = operations.create_ticket(
                    self.store, sub.namespace, track, images=images or (), config_commit=config_commit,
                    actor=f"subscription {sub.name}", via="intake", name=name,
                    default_config=self.default_config(sub.namespace, track),
                    annotations={subs.SUBSCRIPTION_ANNOTATION: sub.name, subs.CHANGE_ANNOTATION: key, **when})
            except errors.K8staError as exc:
                refused.append(f"{track}: {exc}")
                continue
            made.append(created.name)
        message = "; ".join([f"found {reference}", *_present(
            (made, f"tickets {', '.join(made)}"),
            (plan.done, f"already acted on ({', '.join(plan.done)})"),
            (plan.held, f"held, nothing created on track {', '.join(plan.held)}"),
            (plan.missing, f"track {', '.join(plan.missing)} not found"),
            (refused, f"refused: {'; '.join(refused)}"))])
        acted = subs.Acted(key, reference, tuple(made), at=self.clock()) if made else None
        if refused or (plan.missing and not (made or plan.done or plan.held)):
            return Outcome(False, subs.Reason.TRACK_NOT_FOUND if plan.missing and not refused else
                           subs.Reason.INVALID_SPEC, message, report, acted)
        if plan.held and not (made or plan.done):
            return Outcome(True, subs.Reason.HELD, message, report, acted)
        return Outcome(True, subs.Reason.FOUND, message, report, acted)

    def _write(self, obj: dict[str, Any], sub: subs.Subscription | None, outcome: Outcome, failures: int,
               source: str) -> None:
        for _ in range(3):
            current = sub if sub is not None else _fallback(obj)
            acted = subs.with_acted(current.acted, outcome.acted) if outcome.acted else current.acted
            body = subs.status_body(current, now=self.clock(), source=source, ready=outcome.ready,
                                    reason=outcome.reason, message=outcome.message, found=outcome.found,
                                    acted=acted, failures=failures)
            try:
                fresh = self.kube.replace_status("Subscription", obj, body)
            except kube.Conflict:
                meta = obj["metadata"]
                try:
                    obj = self.kube.get("Subscription", meta["namespace"], meta["name"])
                except kube.KubeError:
                    return
                try:
                    sub = subs.from_dict(obj)
                except codec.MalformedObject:
                    sub = None
                continue
            except kube.KubeError as exc:
                log.warning("writing the status of subscription %s: %s", self._key(obj), exc)
                return
            with self.lock:
                key = self._key(fresh)
                if key in self.objects:
                    self.objects[key] = fresh
            return


def _fallback(obj: dict[str, Any]) -> subs.Subscription:
    meta = obj.get("metadata") or {}
    return subs.Subscription(namespace=str(meta.get("namespace")), name=str(meta.get("name")), tracks=(),
                             interval=300, generation=int(meta.get("generation") or 0),
                             raw_status=dict(obj.get("status") or {}))


def _nudge(obj: dict[str, Any]) -> object:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(subs.NUDGE_ANNOTATION)


def _generation(obj: dict[str, Any]) -> object:
    return (obj.get("metadata") or {}).get("generation")


def _describe_rule(rule: selection.ImageRule) -> str:
    return ", ".join([rule.strategy.value, *_present(
        (rule.constraint, f"constraint {rule.constraint!r}"),
        (rule.allow_tags, f"allowTags {rule.allow_tags!r}"),
        (rule.ignore_tags, f"ignoreTags {list(rule.ignore_tags)}"))])


def _present(*parts: tuple[object, str]) -> list[str]:
    """The texts whose value is set, in order: the optional pieces of a one-line summary."""
    return [text for value, text in parts if value]


class Poller(threading.Thread):
    """Reads one Subscription on its interval or when woken; only while this daemon leads."""

    def __init__(self, intake: Intake, key: tuple[str, str]) -> None:
        super().__init__(name=f"intake-{key[0]}/{key[1]}", daemon=True)
        self.intake = intake
        self.key = key
        self.stop = threading.Event()
        self.wake = threading.Event()

    def run(self) -> None:
        delay = 0.0
        while not self.stop.is_set():
            self.wake.wait(delay)
            self.wake.clear()
            if self.stop.is_set():
                return
            if not self.intake.is_leader() or self.intake.claimed_by(self.key[0]) is not None:
                delay = 2.0
                continue
            try:
                next_delay = self.intake.poll(self.key)
            except Exception:  # one bad read must not end the poller; the next one retries
                log.exception("intake poll of %s/%s failed", *self.key)
                next_delay = subs.MAX_RETRY_SECONDS / 10
            if next_delay is None:
                return
            delay = next_delay
