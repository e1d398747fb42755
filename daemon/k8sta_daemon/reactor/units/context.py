"""What every action unit may use: the adapters, the watch cache and the git settings of a push."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k8sta_cmp import safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.git.credentials import Credentials
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.reactor.cache import Cache


@dataclass(frozen=True)
class GitSettings:
    """How a Station is pushed: where the mirrors live, whose credentials, which kustomize and limits."""

    mirrors: Path
    credentials: Callable[[str], Credentials]
    kustomize: Kustomize
    limits: safety.Limits
    default_source_branch: str


@dataclass(frozen=True)
class Context:
    kube: kube.Kube
    argo: argocd.ArgoCD
    cache: Cache
    metrics: Metrics
    git: GitSettings

    def object(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """The cached object; acting on one the watch has not delivered (or has deleted) waits."""
        obj = self.cache.get(kind, namespace, name)
        if obj is None:
            raise kube.NotFound(f"{kind} {namespace}/{name} is not in the cache")
        return obj
