"""Arrival on the real stack when Argo CD runs no operation: a ticket whose pins leave a Station's
Applications' renders unchanged (issue 13, "done when" (a)). Argo CD finds such an Application Synced at
the new commit at once, and its automated sync never starts an operation for a Synced Application."""

from __future__ import annotations

import pytest

from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model
from k8sta_devstack.railway import ARGOCD_NS, Railway, base, overlay

pytestmark = pytest.mark.stack


def test_a_ticket_whose_pins_leave_the_renders_unchanged_completes(railway: Railway, argocd: ArgoCD) -> None:
    """dev has two Applications; the second ticket has the first one's pins (a rollback to the same
    snapshot), so K8sTA pushes new commits whose renders are unchanged and Argo CD syncs nothing."""
    config = railway.commit({**base(), **overlay("dev"), **overlay("dev2")})
    for env in ("dev", "dev2"):
        railway.application(env)
    railway.station("dev", ["dev", "dev2"])
    railway.track("line", ["dev"])
    railway.ticket("api-1", "line", config, "8.0.0")
    railway.wait("first Completed", lambda: railway.state("api-1") == "Completed")
    first = {env: railway.repo.head(f"env/{env}") for env in ("dev", "dev2")}
    railway.ticket("api-2", "line", config, "8.0.0")  # identical pins (a rollback to the same snapshot)
    railway.wait("second Completed", lambda: railway.state("api-2") == "Completed", timeout=240)
    (record,) = railway.get("tickets", "api-2")["status"]["journey"]
    for pushed in record["pushed"]:
        env = pushed["branch"].removeprefix("env/")
        assert pushed["commit"] == railway.repo.head(f"env/{env}") != first[env]
        app = argocd.get_application(model.AppRef(ARGOCD_NS, railway.apps[env]))
        assert app["status"]["sync"]["status"] == "Synced" and app["status"]["sync"]["revision"] == pushed["commit"]
        # Argo CD never ran an operation for the new commit: the last one is still the first ticket's
        assert app["status"]["operationState"]["syncResult"]["revision"] == first[env]
