"""Why an Application is not Healthy, in Argo CD's own words, for the ticket's message.

Argo CD 3 keeps per-resource health out of the Application (``controller.resource.health.persist`` is
off by default); its Application-level ``status.health.message`` is empty in 3.2-3.5 and in 3.6 names the
unhealthy resources, not why (``Caused by argoproj.io/Rollout:ns/api``). The reasons ("CanaryPauseStep",
``Deployment "api" exceeded its progress deadline``, an aborted analysis) live in the resource tree.
So for the Applications a Station deploys, and only while they are not Healthy, the loop asks for the
tree once per change of the Application (its resourceVersion), never on every pass, never for
Applications K8sTA does not manage, and not while nothing is deployed yet (Missing and OutOfSync).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
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


class HealthReasons:
    """A per-Application cache of the resource tree's reasons, keyed by the Application's resourceVersion."""

    def __init__(self, argo: argocd.ArgoCD) -> None:
        self.argo = argo
        self.known: dict[model.AppRef, tuple[str, str]] = {}  # app -> (resourceVersion, reasons)

    def reasons(self, apps: Mapping[model.AppRef, dict[str, Any]], managed: Iterable[model.AppRef]) -> dict[
            model.AppRef, str]:
        """The reasons for every managed, not-Healthy Application; one API call per changed Application."""
        found: dict[model.AppRef, str] = {}
        for ref in set(managed):
            app = apps.get(ref)
            health = ((app or {}).get("status") or {}).get("health") or {}
            if app is None or health.get("status") not in NOT_HEALTHY or _not_deployed(app):
                self.known.pop(ref, None)
                continue
            version = str((app.get("metadata") or {}).get("resourceVersion") or "")
            cached = self.known.get(ref)
            if cached is None or cached[0] != version:
                try:
                    text = codec.health_reasons(self.argo.resource_tree(ref), health.get("status"))
                except argocd.ArgoCDError as exc:  # the ticket still says Progressing/Degraded, without why
                    log.warning("reading the resource tree of %s failed: %s", ref, exc)
                    text = cached[1] if cached else ""
                cached = self.known[ref] = (version, text)
            if cached[1]:
                found[ref] = cached[1]
        return found
