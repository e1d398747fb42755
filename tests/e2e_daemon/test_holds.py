"""A hold holds on the real stack (issue 19, items 2 and 3): ``k8sta rollback --track region-line`` during a
parent ride. The parent's next ticket passes its junction while region-line is held: its child waits at
boarding (its message naming the hold) and the region keeps running the rolled-back version, until
``k8sta resume``, which lets the child ride. Driven only through the Kubernetes API and the ``k8sta`` command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model
from k8sta_devstack.railway import ARGOCD_NS, IMAGE, Railway, base, overlay
from k8sta_devstack.stack import Stack

pytestmark = pytest.mark.stack


def k8sta(stack: Stack, rail: Railway, *argv: str) -> str:
    done = subprocess.run([str(Path(sys.executable).parent / "k8sta"), "--kubeconfig", str(stack.kubeconfig),
                           "-n", rail.namespace, *argv], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def state(rail: Railway, ticket: str) -> str | None:
    """The ticket's state; None while it does not exist (a junction child is created by the daemon)."""
    found = [t for t in rail.tickets() if t["metadata"]["name"] == ticket]
    return (found[0].get("status") or {}).get("state") if found else None


def runs(rail: Railway, argocd: ArgoCD, tag: str) -> bool:
    """region's app branch renders ``tag`` and Argo CD has it Synced at that branch head, Healthy."""
    head = rail.repo.head("env/region")
    if head is None or f"image: {IMAGE}:{tag}" not in rail.repo.git(["show", f"{head}:.k8sta/rendered.yaml"]):
        return False
    status = argocd.get_application(model.AppRef(ARGOCD_NS, rail.apps["region"])).get("status", {})
    return status.get("sync", {}).get("revision") == head and status.get("sync", {}).get("status") == "Synced" \
        and status.get("health", {}).get("status") == "Healthy"


def test_a_rollback_holds_against_a_parent_ride_until_resume(railway: Railway, argocd: ArgoCD,
                                                             stack: Stack) -> None:
    config = railway.commit({**base(), **overlay("dev"), **overlay("region")})
    for env in ("dev", "region"):
        railway.application(env)
    railway.station("dev", ["dev"], tracks=["region-line"], approvalRequired=True)
    railway.station("region", ["region"])
    railway.track("main-line", ["dev"])
    railway.track("region-line", ["region"])
    for n, tag in ((1, "1.0.0"), (2, "3.0.0")):
        railway.ticket(f"api-{n}", "main-line", config, tag, approvedStations=["dev"])
        railway.wait(f"api-{n}'s child Completed", lambda n=n: state(railway, f"api-{n}-region-line") == "Completed")
    assert runs(railway, argocd, "3.0.0")

    railway.ticket("api-3", "main-line", config, "4.0.0")  # the parent's next ride: parked at dev's gate
    railway.wait("api-3 awaits approval", lambda: railway.state("api-3") == "AwaitingApproval")
    out = k8sta(stack, railway, "rollback", "--track", "region-line", "--to", "api-1-region-line")
    rollback = "region-line-1"
    assert f"ticket {rollback} created on track region-line" in out
    hold = railway.get("tracks", "region-line")["spec"]["hold"]
    assert hold["reason"] == f"rollback to api-1-region-line (ticket {rollback})"
    railway.wait("the rollback Completed", lambda: railway.state(rollback) == "Completed", timeout=180)
    railway.wait("region runs 1.0.0 again", lambda: runs(railway, argocd, "1.0.0"))
    rolled_back = railway.repo.head("env/region")

    railway.patch_ticket("api-3", {"approvedStations": ["dev"]})  # the parent rides on and passes the junction
    child = "api-3-region-line"
    railway.wait("api-3 Completed", lambda: railway.state("api-3") == "Completed")
    status = railway.wait("the child waits at boarding, naming the hold",
                          lambda: next((t.get("status") or {} for t in railway.tickets()
                                        if t["metadata"]["name"] == child
                                        and "is held" in (t.get("status") or {}).get("message", "")), None))
    assert status["state"] == "Waiting" and not status.get("journey"), status
    assert f"track region-line is held ({hold['reason']})" in status["message"]
    assert "k8sta resume region-line" in status["message"]
    assert railway.repo.head("env/region") == rolled_back and runs(railway, argocd, "1.0.0")
    assert railway.state(rollback) == "Completed"  # never superseded by the newer child
    assert hold["ticket"] == rollback  # the one ticket allowed to board while held

    refused = subprocess.run([str(Path(sys.executable).parent / "k8sta"), "--kubeconfig", str(stack.kubeconfig),
                              "-n", railway.namespace, "ticket", "create", "--track", "region-line", "--image",
                              f"{IMAGE}:5.0.0"], capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "track region-line is held" in refused.stderr

    k8sta(stack, railway, "resume", "region-line")
    railway.wait("the child Completed after resume", lambda: state(railway, child) == "Completed", timeout=180)
    railway.wait("region runs 4.0.0", lambda: runs(railway, argocd, "4.0.0"))
