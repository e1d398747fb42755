"""An old signed K8sTA commit force-pushed back (a replay) on the real stack (issue 18, finding 4).

The daemon signs with the stack's input key, so the replayed commit is signed, carries K8sTA's
trailers and renders in Argo CD. K8sTA judges the head by the commit the tickets' statuses record,
sees the replay as drift and restores the recorded commit's content on top of it (history keeps the
replay); Argo CD ends at the repair with the newer ticket's image.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from k8sta_cmp import contract
from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model
from k8sta_devstack.railway import ARGOCD_NS, IMAGE, Railway, base, overlay
from k8sta_devstack.stack import INPUT_KEY_FILE, Stack

from .conftest import Daemon
from .test_drift import first_parents

pytestmark = pytest.mark.stack


@pytest.fixture
def daemon(stack: Stack, namespace: str, tmp_path: Path) -> Iterator[Daemon]:
    """The railway's daemon, signing app branches with the key the plugin sidecars hold."""
    running = Daemon(stack, namespace, tmp_path, extra=("--input-key-file", str(stack.state_dir / INPUT_KEY_FILE)))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def image_at(railway: Railway) -> str:
    deployment = k8s.AppsV1Api(railway.api).read_namespaced_deployment("api", railway.target_namespace("dev"))
    return str(deployment.spec.template.spec.containers[0].image)


def test_an_old_signed_commit_pushed_back_is_repaired_as_drift_to_the_recorded_commit(
        railway: Railway, argocd: ArgoCD) -> None:
    config = railway.commit({**base(), **overlay("dev")})
    railway.application("dev")
    railway.station("dev", ["dev"])
    railway.track("line", ["dev"])
    railway.ticket("api-1", "line", config, "21.0.0")
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed")
    old = railway.repo.head("env/dev")
    railway.ticket("api-2", "line", config, "22.0.0")
    railway.wait("api-2 Completed", lambda: railway.state("api-2") == "Completed")
    new = railway.repo.head("env/dev")
    assert old is not None and new is not None and old != new
    for sha, sequence in ((old, 1), (new, 2)):
        assert f"\nsequence {sequence}\n" in railway.repo.git(["show", f"{sha}:{contract.INPUTS_PATH}"])

    railway.repo.git(["update-ref", "refs/heads/env/dev", old, new])  # the force-push of the old commit

    railway.wait("replay repaired", lambda: first_parents(railway.repo, "env/dev")[1:2] == [old], timeout=120)
    repair = railway.repo.head("env/dev")
    assert railway.repo.git(["rev-parse", f"{repair}^{{tree}}"]) == railway.repo.git(["rev-parse", f"{new}^{{tree}}"])
    message = railway.repo.git(["log", "-1", "--format=%B", repair])
    assert message.startswith(f"k8sta: restore env/dev to {new[:12]} over a hand edit")
    dev = model.AppRef(ARGOCD_NS, railway.apps["dev"])
    railway.wait("Argo CD at the repair", lambda: (argocd.get_application(dev)["status"].get("sync") or {})
                 .get("revision") == repair, timeout=120)
    railway.wait("the newer ticket's image", lambda: image_at(railway) == f"{IMAGE}:22.0.0", timeout=120)
    railway.wait("Drift Event on the Application", lambda: any(
        e.get("reason") == "Drift" and old[:12] in e["message"] for e in argocd.application_events(dev)),
        timeout=30)
