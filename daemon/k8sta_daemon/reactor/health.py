"""Why an Application is not Healthy, in Argo CD's own words, for the ticket's message.

Argo CD 3 sets no Application-level ``status.health.message`` and keeps per-resource health out of the
Application (``controller.resource.health.persist`` is off by default): the reasons ("CanaryPauseStep",
``Deployment "api" exceeded its progress deadline``, an aborted analysis) live in the resource tree.
So for the Applications a Station deploys, and only while they are not Healthy, the loop asks for the
tree once per change of the Application (its resourceVersion), never on every pass, never for
Applications K8sTA does not manage, and not while nothing is deployed yet (Missing and OutOfSync).

Never on the loop's thread: a tree request to a slow Argo CD took up to its 15 s timeout, and the pass
that asked (every Track's decisions) waited for it. The request goes to the refresher's threads
(``submit``, as hard refreshes do) and ``reasons`` says which Applications' reasons are still on their
way (``pending``); the kept World (``reactor.standing``) goes on showing such an Application's previous
status until they land, so its new status is decided together with Argo CD's why (a ticket never
fails on a Degraded Application, or shows Suspended, without it, and its message does not lose the
reasons on every new resourceVersion). The answer is news of the Application (``on_news``: the cache
marks it changed and wakes the loop); a failed request keeps the last reasons known.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from k8sta_daemon.adapters import argocd
from k8sta_daemon.core import codec, model

log = logging.getLogger("k8sta.controller")
NOT_HEALTHY = {"Progressing", "Suspended", "Degraded", "Missing", "Unknown"}


def _not_deployed(app: dict[str, Any]) -> bool:
    """Missing and OutOfSync: nothing is deployed yet, and the tree would only say "missing" again
    (bench/bench_scale.py at 100 Tracks: ~4 tree requests per promotion while Argo CD caught up)."""
    status = app.get("status") or {}
    return (status.get("health") or {}).get("status") == "Missing" and (status.get("sync") or {}).get(
        "status") == "OutOfSync"


def _in_line(call: Callable[..., None], *args: Any) -> None:
    call(*args)


class HealthReasons:
    """A per-Application cache of the resource tree's reasons, keyed by the Application's resourceVersion.

    ``submit(call, *args)`` runs a tree request (``Refresher.run``: on its threads; the default, in
    line, is for tests and tools); ``on_news(app)`` is told when the answer for ``app``'s current
    resourceVersion landed (the status held back for it can be decided now).
    """

    def __init__(self, argo: argocd.ArgoCD, submit: Callable[..., None] = _in_line,
                 on_news: Callable[[model.AppRef], None] = lambda app: None) -> None:
        self.argo = argo
        self.submit = submit
        self.on_news = on_news
        self._lock = threading.Lock()  # the loop reads, the refresher's threads write
        self.known: dict[model.AppRef, tuple[str, str]] = {}  # app -> (resourceVersion, reasons)
        self.asking: dict[model.AppRef, str] = {}  # app -> the resourceVersion whose tree is on its way

    def reasons(self, apps: Mapping[model.AppRef, dict[str, Any]], managed: Iterable[model.AppRef],
                ) -> tuple[dict[model.AppRef, str], set[model.AppRef]]:
        """The reasons of every managed, not-Healthy Application, and those whose reasons for their
        current resourceVersion are still on their way (asked for here, one request per version,
        without waiting for the answers)."""
        wanted: list[model.AppRef] = []
        asks: list[tuple[model.AppRef, str, Any]] = []
        with self._lock:
            for ref in set(managed):
                app = apps.get(ref)
                health = ((app or {}).get("status") or {}).get("health") or {}
                if app is None or health.get("status") not in NOT_HEALTHY or _not_deployed(app):
                    self.known.pop(ref, None)
                    self.asking.pop(ref, None)  # an answer on its way is no longer wanted
                    continue
                wanted.append(ref)
                version = str((app.get("metadata") or {}).get("resourceVersion") or "")
                cached = self.known.get(ref)
                if (cached is None or cached[0] != version) and self.asking.get(ref) != version:
                    self.asking[ref] = version
                    asks.append((ref, version, health.get("status")))
        for ref, version, status in asks:
            try:
                self.submit(self.fetch, ref, version, status)
            except RuntimeError as exc:  # the refresher's pool is shut down: never hold a status forever
                log.warning("cannot ask for the resource tree of %s: %s", ref, exc)
                with self._lock:
                    if self.asking.get(ref) == version:
                        del self.asking[ref]
        with self._lock:
            pending = {ref for ref in wanted if ref in self.asking}
            return {ref: text for ref in wanted if (text := self.known.get(ref, ("", ""))[1])}, pending

    def fetch(self, ref: model.AppRef, version: str, status: Any) -> None:
        """One tree request, for ``ref`` at ``version``; its reasons are kept unless a newer version
        was asked for meanwhile (or the Application became Healthy). A failure keeps the last reasons
        (the ticket still says Progressing/Degraded, without a new why) and is never raised."""
        text: str | None = None
        try:
            text = codec.health_reasons(self.argo.resource_tree(ref), status)
        except argocd.ArgoCDError as exc:
            log.warning("reading the resource tree of %s failed: %s", ref, exc)
        except Exception:  # on a pool thread nobody would see it otherwise
            log.exception("reading the resource tree of %s failed unexpectedly", ref)
        with self._lock:
            if self.asking.get(ref) != version:
                return
            del self.asking[ref]
            before = self.known.get(ref, ("", ""))[1]
            self.known[ref] = (version, before if text is None else text)
        self.on_news(ref)  # the status held back for these reasons can be decided now
