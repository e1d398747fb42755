"""What every action unit may use: the adapters, the watch cache, the pass's view and the git settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.git.access import GitSettings
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.reactor.cache import Cache, View
from k8sta_daemon.reactor.refresher import Refresher


@dataclass(frozen=True)
class Context:
    kube: kube.Kube
    argo: argocd.ArgoCD
    cache: Cache
    metrics: Metrics
    git: GitSettings
    view: View | None = None  # the pass's snapshot (``Executor.execute`` sets it)
    identity: str = ""  # which controller acts (Events name it)
    refresher: Refresher | None = None  # hard refreshes off the loop's thread (None: in line, as in tests)

    def object(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """The object as the decision saw it (plus this pass's own writes): writes based on it carry its
        resourceVersion, so a change that landed since conflicts instead of being overwritten."""
        obj = self.view.get(kind, namespace, name) if self.view is not None else self.cache.get(kind, namespace, name)
        if obj is None:
            raise kube.NotFound(f"{kind} {namespace}/{name} is not in the cache")
        return obj

    def wrote(self, kind: str, obj: dict[str, Any]) -> None:
        """Our own write's result: the rest of this pass builds on it, and so does the next pass."""
        if self.view is not None:
            self.view.put(kind, obj)
        self.cache.put(kind, obj)
