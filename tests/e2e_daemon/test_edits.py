"""Edits a user makes outside K8sTA, on the real stack (issue 19, items 4 and 7).

- A person removes ``.k8sta/`` from an app branch; the next ticket deploys over that commit (its push
  lands on top of it, as a K8sTA commit) instead of failing with "not written by K8sTA". The daemon runs
  with a drift interval far longer than the test, so the push path (not the drift repair) meets the edit.
- An Application is re-pointed to another branch while its ticket soaks; the daemon pushes the visit's
  snapshot to the new branch and the ticket completes there instead of timing out.
- A multi-source Application (a plain ``ref:`` source plus the k8sta source second, manual sync, so
  K8sTA's sync request must name the source position) rides like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model, sources
from k8sta_devstack.gitrepo import ConfigRepo
from k8sta_devstack.railway import ARGOCD_NS, AUTHORIZED_NAMESPACES, IN_CLUSTER, Railway, base, overlay
from k8sta_devstack.stack import Stack

from .conftest import Daemon
from .test_drift import first_parents, record_at, ticket_events

pytestmark = pytest.mark.stack


@pytest.fixture
def daemon(stack: Stack, namespace: str, tmp_path: Path) -> Iterator[Daemon]:
    """The daemon, with a drift watcher that scans at start and then only when a repair asks it to."""
    running = Daemon(stack, namespace, tmp_path, extra=("--drift-seconds", "3600"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def remove_k8sta_dir(repo: ConfigRepo, branch: str) -> str:
    """A person's `git rm -r .k8sta && git commit && git push` on the app branch."""
    head = repo.head(branch)
    assert head is not None
    entries = repo.git(["ls-tree", head]).splitlines()
    kept = [e for e in entries if not e.endswith("\t.k8sta")]
    assert len(kept) == len(entries) - 1
    tree = repo.git(["mktree"], stdin=("\n".join(kept) + "\n").encode()).strip()
    human = {"GIT_AUTHOR_NAME": "Pat Human", "GIT_AUTHOR_EMAIL": "pat@example.com",
             "GIT_COMMITTER_NAME": "Pat Human", "GIT_COMMITTER_EMAIL": "pat@example.com"}
    commit = repo.git(["commit-tree", tree, "-p", head, "-F", "-"], env=human,
                      stdin=b"cleanup: K8sTA files are not needed here\n").strip()
    repo.git(["update-ref", f"refs/heads/{branch}", commit, head])
    return commit


def one_station(rail: Railway, **dev: object) -> str:
    config = rail.commit({**base(), **overlay("dev")})
    rail.application("dev")
    rail.station("dev", ["dev"], **dev)
    rail.track("line", ["dev"])
    return config


def test_after_a_hand_edit_removed_k8sta_files_the_next_ticket_deploys_on_top_of_it(
        railway: Railway, argocd: ArgoCD) -> None:
    config = one_station(railway, timeoutSeconds=180)
    railway.ticket("api-1", "line", config, "21.0.0")
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed", timeout=180)
    ours = railway.repo.head("env/dev")
    human = remove_k8sta_dir(railway.repo, "env/dev")

    railway.ticket("api-2", "line", config, "22.0.0")
    railway.wait("api-2 Completed", lambda: railway.state("api-2") in ("Completed", "Failed"), timeout=180)

    status = railway.get("tickets", "api-2")["status"]
    assert status["state"] == "Completed", status["message"]
    landed = railway.repo.head("env/dev")
    assert first_parents(railway.repo, "env/dev")[:3] == [landed, human, ours]
    message = railway.repo.git(["log", "-1", "--format=%B", landed])
    assert f"K8sTA-Ticket: {railway.namespace}/api-2" in message and f"hand edit {human[:12]}" in message
    record = record_at(railway, "api-2", "dev")
    assert [p["commit"] for p in record["pushed"]] == [landed]
    assert record["drift"] == [{"application": {"namespace": ARGOCD_NS, "name": railway.apps["dev"]},
                                "branch": "env/dev", "head": human}]
    drift_on_ticket = [e for e in ticket_events(railway, "api-2") if e.reason == "Drift"]
    assert drift_on_ticket and all(e.type == "Warning" and human[:12] in e.message for e in drift_on_ticket)
    dev = model.AppRef(ARGOCD_NS, railway.apps["dev"])
    assert argocd.get_application(dev)["status"]["sync"]["revision"] == landed


def test_an_application_re_pointed_mid_visit_is_pushed_on_its_new_branch_and_the_ticket_completes(
        railway: Railway, argocd: ArgoCD) -> None:
    config = one_station(railway, soakSeconds=30, timeoutSeconds=150)
    railway.ticket("api-1", "line", config, "23.0.0")
    railway.wait("soaking at dev", lambda: railway.state("api-1") == "Soaking")
    first = railway.repo.head("env/dev")
    dev = model.AppRef(ARGOCD_NS, railway.apps["dev"])

    # Someone moves the Application to a blue branch (same overlay) while the ticket soaks.
    railway.custom.patch_namespaced_custom_object(
        "argoproj.io", "v1alpha1", ARGOCD_NS, "applications", dev.name,
        {"metadata": {"annotations": {sources.OVERLAY_ANNOTATION: "env/dev"}},
         "spec": {"source": {"targetRevision": "env/dev-blue"}}})

    railway.wait("api-1 done", lambda: railway.state("api-1") in ("Completed", "Failed"), timeout=240)
    status = railway.get("tickets", "api-1")["status"]
    assert status["state"] == "Completed", status["message"]
    blue = railway.repo.head("env/dev-blue")
    assert blue is not None and railway.repo.head("env/dev") == first  # the old branch is left as it was
    (pushed,) = record_at(railway, "api-1", "dev")["pushed"]
    assert (pushed["branch"], pushed["commit"]) == ("env/dev-blue", blue)
    message = railway.repo.git(["log", "-1", "--format=%B", blue])
    assert f"K8sTA-Ticket: {railway.namespace}/api-1" in message and "K8sTA-Station: dev" in message
    assert argocd.get_application(dev)["status"]["sync"]["revision"] == blue


def multi_source_application(rail: Railway, env: str) -> str:
    """A manual-sync Application with two sources: a plain ``ref:`` values source, then K8sTA's."""
    name = f"{env}-{rail.suffix}"
    body: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": ARGOCD_NS, "annotations": {AUTHORIZED_NAMESPACES: rail.namespace}},
        "spec": {"project": "default",
                 "sources": [{"repoURL": rail.repo.url, "targetRevision": "main", "ref": "values"},
                             {"repoURL": rail.repo.url, "targetRevision": f"env/{env}", "path": ".",
                              "plugin": {"name": "k8sta"}}],
                 "destination": {"server": IN_CLUSTER, "namespace": f"{name}-ns"},
                 "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}}
    rail.custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications", body)
    rail.apps[env] = name
    return name


def test_a_multi_source_application_with_one_k8sta_source_rides_and_is_synced_by_position(
        railway: Railway, argocd: ArgoCD, daemon: Daemon) -> None:
    config = railway.commit({**base(), **overlay("dev")})
    multi_source_application(railway, "dev")
    railway.station("dev", ["dev"], timeoutSeconds=180)
    railway.track("line", ["dev"])
    railway.ticket("api-1", "line", config, "24.0.0")

    railway.wait("api-1 done", lambda: railway.state("api-1") in ("Completed", "Failed"), timeout=240)
    status = railway.get("tickets", "api-1")["status"]
    assert status["state"] == "Completed", status["message"]
    ours = railway.repo.head("env/dev")
    (pushed,) = record_at(railway, "api-1", "dev")["pushed"]
    assert pushed["commit"] == ours
    app = argocd.get_application(model.AppRef(ARGOCD_NS, railway.apps["dev"]))
    assert app["status"]["sync"]["revisions"][1] == ours
    operation = app["status"]["operationState"]
    assert operation["phase"] == "Succeeded" and operation["syncResult"]["revisions"][1] == ours
    assert not operation["operation"].get("initiatedBy", {}).get("automated")  # K8sTA's request, not auto-sync
    assert not daemon.logged("has several sources")
    pods = k8s.CoreV1Api(railway.api).list_namespaced_pod(railway.target_namespace("dev")).items
    assert pods
