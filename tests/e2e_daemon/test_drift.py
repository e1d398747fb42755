"""Hand edits of app branches on the real stack (issue 13, items 11 and 13, "done when" (e)).

A person pushes a commit to ``env/staging`` while a ticket soaks there. K8sTA's drift watcher sees a
head without K8sTA's trailers; the visit records it, Warning Events go to the Ticket and the
Application, and (``selfHeal``, the default) K8sTA commits its own tree on top of the human commit, so
history keeps the edit and the ticket completes. With ``selfHeal: false`` a visit whose edit breaks the
render cannot recover and fails at its timeout with the plugin's own words.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model
from k8sta_devstack.gitrepo import ConfigRepo
from k8sta_devstack.railway import ARGOCD_NS, Railway, base, overlay

pytestmark = pytest.mark.stack


def hand_edit(repo: ConfigRepo, branch: str, path: str, content: bytes, message: str) -> str:
    """What `git commit && git push` by a person does to an app branch: one commit on top, by a human."""
    head = repo.head(branch)
    assert head is not None
    with tempfile.TemporaryDirectory(prefix="k8sta-hand-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        repo.git(["read-tree", head], env=env)
        blob = subprocess.run(["git", "--git-dir", str(repo.path), "hash-object", "-w", "--stdin"], input=content,
                              capture_output=True, check=True).stdout.decode().strip()
        repo.git(["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], env=env)
        tree = repo.git(["write-tree"], env=env).strip()
    human = {"GIT_AUTHOR_NAME": "Pat Human", "GIT_AUTHOR_EMAIL": "pat@example.com",
             "GIT_COMMITTER_NAME": "Pat Human", "GIT_COMMITTER_EMAIL": "pat@example.com"}
    commit = repo.git(["commit-tree", tree, "-p", head, "-F", "-"], env=human, stdin=message.encode()).strip()
    repo.git(["update-ref", f"refs/heads/{branch}", commit, head])
    return commit


def first_parents(repo: ConfigRepo, branch: str) -> list[str]:
    return repo.git(["rev-list", "--first-parent", branch]).split()


def record_at(rail: Railway, ticket: str, station: str) -> dict:
    (record,) = [r for r in rail.get("tickets", ticket)["status"]["journey"] if r["station"] == station]
    return record


def ticket_events(rail: Railway, ticket: str) -> list[k8s.CoreV1Event]:
    return list(k8s.CoreV1Api(rail.api).list_namespaced_event(
        rail.namespace, field_selector=f"involvedObject.name={ticket}").items)


def two_stations(rail: Railway, **staging: object) -> str:
    config = rail.commit({**base(), **overlay("dev"), **overlay("staging")})
    rail.application("dev")
    rail.application("staging")
    rail.station("dev", ["dev"])
    rail.station("staging", ["staging"], **staging)
    rail.track("line", ["dev", "staging"])
    return config


def scaled_workload(env: str) -> bytes:
    """The overlay's Deployment with another replica count: a changed input of the recorded render."""
    workload = yaml.safe_load(overlay(env)[f"env/{env}/workload.yaml"])
    workload["spec"]["replicas"] = 5
    return yaml.safe_dump(workload).encode()


def test_a_harmless_human_commit_on_a_soaking_station_is_repaired_on_top_and_the_ticket_completes(
        railway: Railway, argocd: ArgoCD) -> None:
    config = two_stations(railway, soakSeconds=25)
    railway.ticket("api-1", "line", config, "11.0.0")
    railway.wait("soaking at staging", lambda: railway.state("api-1") == "Soaking"
                 and railway.get("tickets", "api-1")["status"].get("station") == "staging")
    ours = railway.repo.head("env/staging")
    human = hand_edit(railway.repo, "env/staging", "NOTES.md", b"checked by hand\n", "note: looked at staging")

    railway.wait("repaired", lambda: first_parents(railway.repo, "env/staging")[1:3] == [human, ours], timeout=120)
    repair = railway.repo.head("env/staging")
    assert railway.repo.git(["rev-parse", f"{repair}^{{tree}}"]) == railway.repo.git(["rev-parse", f"{ours}^{{tree}}"])
    message = railway.repo.git(["log", "-1", "--format=%B", repair])
    assert f"K8sTA-Ticket: {railway.namespace}/api-1" in message and "K8sTA-Station: staging" in message
    railway.wait("Completed", lambda: railway.state("api-1") == "Completed", timeout=180)

    record = record_at(railway, "api-1", "staging")
    assert record["drift"] == [{"application": {"namespace": ARGOCD_NS, "name": railway.apps["staging"]},
                                "branch": "env/staging", "head": human}]
    (pushed,) = record["pushed"]
    assert pushed["commit"] == repair == railway.repo.head("env/staging")
    staging = model.AppRef(ARGOCD_NS, railway.apps["staging"])
    app = argocd.get_application(staging)
    assert app["status"]["sync"]["revision"] == repair
    drift_on_app = [e for e in argocd.application_events(staging) if e.get("reason") == "Drift"]
    assert drift_on_app and all(e["type"] == "Warning" for e in drift_on_app)
    assert any(human[:12] in e["message"] for e in drift_on_app)
    drift_on_ticket = [e for e in ticket_events(railway, "api-1") if e.reason == "Drift"]
    assert [e.type for e in drift_on_ticket] == ["Warning"] and human[:12] in drift_on_ticket[0].message

    # after the ride nobody holds dev: a hand edit there is repaired too, the Event goes on the Application
    dev_ours = railway.repo.head("env/dev")
    dev_human = hand_edit(railway.repo, "env/dev", "NOTES.md", b"late edit\n", "note: dev")
    railway.wait("dev repaired", lambda: first_parents(railway.repo, "env/dev")[1:3] == [dev_human, dev_ours],
                 timeout=120)
    dev = model.AppRef(ARGOCD_NS, railway.apps["dev"])
    railway.wait("Drift Event on the dev Application", lambda: any(
        e.get("reason") == "Drift" and dev_human[:12] in e["message"] for e in argocd.application_events(dev)),
        timeout=30)


def test_a_breaking_hand_edit_is_repaired_and_the_ticket_completes(railway: Railway, argocd: ArgoCD) -> None:
    """The edit changes the overlay's input, so the plugin refuses the head (digest mismatch)."""
    config = two_stations(railway, soakSeconds=20)
    railway.ticket("api-1", "line", config, "12.0.0")
    railway.wait("soaking at staging", lambda: railway.state("api-1") == "Soaking"
                 and railway.get("tickets", "api-1")["status"].get("station") == "staging")
    ours = railway.repo.head("env/staging")
    human = hand_edit(railway.repo, "env/staging", "env/staging/workload.yaml", scaled_workload("staging"),
                      "hotfix: staging replicas")
    railway.wait("repaired", lambda: first_parents(railway.repo, "env/staging")[1:3] == [human, ours], timeout=120)
    railway.wait("Completed", lambda: railway.state("api-1") == "Completed", timeout=180)
    assert record_at(railway, "api-1", "staging")["drift"][0]["head"] == human


def test_with_self_heal_off_a_visit_that_cannot_recover_fails_with_the_plugins_message(
        railway: Railway, argocd: ArgoCD) -> None:
    config = two_stations(railway, soakSeconds=600, timeoutSeconds=45, selfHeal=False)
    railway.ticket("api-1", "line", config, "13.0.0")
    railway.wait("soaking at staging", lambda: railway.state("api-1") == "Soaking"
                 and railway.get("tickets", "api-1")["status"].get("station") == "staging")
    human = hand_edit(railway.repo, "env/staging", "env/staging/workload.yaml", scaled_workload("staging"),
                      "hotfix: staging replicas")
    staging = model.AppRef(ARGOCD_NS, railway.apps["staging"])
    argocd.refresh(staging, hard=True)  # Argo CD would compare at its next poll; the test has no 3 minutes

    railway.wait("Failed", lambda: railway.state("api-1") == "Failed", timeout=240)
    status = railway.get("tickets", "api-1")["status"]
    record = record_at(railway, "api-1", "staging")
    assert record["drift"][0]["head"] == human
    assert "does not match recorded" in status["message"], status["message"]  # the plugin's digest check
    assert "ComparisonError" in status["message"], status["message"]
    assert railway.repo.head("env/staging") == human  # nothing repaired
