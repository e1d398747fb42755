"""Git watching end to end: the real stack, the real daemon (its intake), real git, Argo CD deploying.

A config Subscription on the railway's repository: its first read records a baseline; a commit only
to env/dev/ re-renders env/dev alone (no ticket), Argo CD deploys it, an Event lands on the Application;
a commit to base/ becomes one ticket that rides; repeated polls create nothing twice; a ticket visiting a
Station when its overlay changes is judged against the re-rendered commit."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model
from k8sta_daemon.web import create_app
from k8sta_devstack.railway import ARGOCD_NS, Railway, base, overlay
from k8sta_devstack.stack import Stack

GROUP, VERSION = "k8sta.io", "v1alpha1"
TOKEN = "e2e-git-token"

pytestmark = pytest.mark.stack


def _subscription(rail: Railway) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
            "metadata": {"name": "config", "namespace": rail.namespace},
            "spec": {"tracks": ["main-line"], "intervalSeconds": 1,
                     "config": {"repoURL": rail.repo.url, "branch": "main"}}}
    rail.custom.create_namespaced_custom_object(GROUP, VERSION, rail.namespace, "subscriptions", body)


def _status(rail: Railway) -> dict[str, Any]:
    return rail.get("subscriptions", "config").get("status") or {}


def test_overlay_commits_rerender_and_shared_commits_ride(railway: Railway, argocd: ArgoCD, stack: Stack) -> None:
    config = railway.commit({**base(), **overlay("dev"), **overlay("staging")})
    for env in ("dev", "staging"):
        railway.application(env)
    railway.station("dev", ["dev"])
    railway.station("staging", ["staging"])
    railway.track("main-line", ["dev", "staging"])
    railway.ticket("api-1", "main-line", config, "1.0.0")
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed")
    staging_before = railway.repo.head("env/staging")

    _subscription(railway)
    railway.wait("the baseline", lambda: _status(railway).get("found", {}).get("change") == "baseline")
    assert _status(railway)["found"]["commit"] == config

    # an overlay-only commit: env/dev re-rendered alone, deployed, no ticket
    workload = yaml.safe_load(overlay("dev")["env/dev/workload.yaml"])
    workload["spec"]["replicas"] = 3
    started = time.monotonic()
    only_dev = railway.commit({"env/dev/workload.yaml": yaml.safe_dump(workload).encode()}, "dev: 3 replicas")

    def replicas() -> bool:
        docs = yaml.safe_load_all(railway.repo.git(["show", "env/dev:.k8sta/rendered.yaml"]))
        return any((d or {}).get("kind") == "Deployment" and d["spec"].get("replicas") == 3 for d in docs)

    railway.wait("env/dev re-rendered", replicas)
    rerendered_in = time.monotonic() - started
    head = railway.repo.head("env/dev")
    message = railway.repo.git(["log", "-1", "--format=%B", head])
    assert f"main@{only_dev[:7]}" in message or only_dev[:12] in message, message
    assert railway.repo.head("env/staging") == staging_before  # the other app branch is untouched
    app = model.AppRef(ARGOCD_NS, railway.apps["dev"])
    railway.wait("Argo CD deploys the re-render", lambda: (lambda a: a["status"]["sync"].get("revision") == head
                 and a["status"]["sync"]["status"] == "Synced" and a["status"]["health"]["status"] == "Healthy")(
                     argocd.get_application(app)))
    events = argocd.application_events(app)
    assert any(e.get("reason") == "ReRendered" and only_dev[:12] in e.get("message", "") for e in events)
    assert [t["metadata"]["name"] for t in railway.tickets()] == ["api-1"]
    assert _status(railway)["found"] == {**_status(railway)["found"], "commit": only_dev, "change": "overlay-only"}
    assert "env/dev" in _status(railway)["acted"][-1]["rerendered"][0]

    # a shared-config commit: one ticket pinning it, riding the whole Track
    started = time.monotonic()
    shared = railway.commit(base("2"), "shared: version 2")
    railway.wait("a ticket for the shared commit", lambda: len(railway.tickets()) == 2)
    ticket_in = time.monotonic() - started
    (new,) = [t for t in railway.tickets() if t["metadata"]["name"] != "api-1"]
    assert new["spec"]["snapshot"]["configCommit"] == shared
    assert new["spec"]["snapshot"]["images"] == [{"name": "ghcr.io/acme/api", "tag": "1.0.0"}]  # inherited
    railway.wait("the new ticket Completed", lambda: railway.state(new["metadata"]["name"]) == "Completed")
    time.sleep(3)  # three more polls at intervalSeconds 1
    assert len(railway.tickets()) == 2

    # a GitHub push webhook: intervalSeconds 60, so only the nudge explains the ticket; redeliveries add nothing
    railway.custom.patch_namespaced_custom_object(GROUP, VERSION, railway.namespace, "subscriptions", "config",
                                                  {"spec": {"intervalSeconds": 60}})
    time.sleep(2)  # the spec change itself triggers one read
    client = create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig), "WEBHOOK_TOKEN": TOKEN,
                         "WEBHOOK_NAMESPACE": railway.namespace}).test_client()
    body = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": railway.repo.url}}).encode()
    headers = {"X-GitHub-Event": "push", "Content-Type": "application/json",
               "X-Hub-Signature-256": "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()}
    started = time.monotonic()
    hooked = railway.commit(base("3"), "shared: version 3")
    answer = client.post(f"/webhooks/nudge?namespace={railway.namespace}", data=body, headers=headers)
    assert answer.status_code == 202 and answer.get_json()["nudged"] == ["config"], answer.get_json()
    railway.wait("the nudged ticket", lambda: len(railway.tickets()) == 3, timeout=30)
    hooked_in = time.monotonic() - started
    assert any(t["spec"]["snapshot"]["configCommit"] == hooked for t in railway.tickets())
    for _ in range(3):  # redelivered: nudged again (202) or, within the debounce, left alone (200)
        again = client.post(f"/webhooks/nudge?namespace={railway.namespace}", data=body, headers=headers)
        assert (again.status_code, again.get_json()["nudged"] or again.get_json()["debounced"]) in (
            (202, ["config"]), (200, ["config"])), again.get_json()
    time.sleep(3)
    assert len(railway.tickets()) == 3
    print(f"\ngit push -> (polling alone, intervalSeconds 1): overlay re-rendered in {rerendered_in:.2f} s, "
          f"shared-config ticket created in {ticket_in:.2f} s; with the GitHub push webhook (intervalSeconds 60) "
          f"ticket created in {hooked_in:.2f} s")


def _visit(rail: Railway, ticket: str, station: str) -> dict[str, Any]:
    journey = (rail.get("tickets", ticket).get("status") or {}).get("journey") or []
    return next((r for r in reversed(journey) if r.get("station") == station), {})


def test_a_visit_is_judged_against_the_re_render_of_its_overlay(railway: Railway, argocd: ArgoCD) -> None:
    """A ticket soaking at staging; an overlay-only commit to env/staging/: the branch is re-rendered, the
    visit adopts the new commit (an Event says so), Argo CD deploys it, and the ticket goes on from there
    instead of waiting for its old commit or asking Argo CD to sync it back."""
    config = railway.commit({**base(), **overlay("staging")})
    railway.application("staging")
    railway.station("staging", ["staging"], soakSeconds=3600)
    railway.track("main-line", ["staging"])
    railway.ticket("api-1", "main-line", config, "1.0.0")
    railway.wait("api-1 soaking at staging", lambda: railway.state("api-1") == "Soaking")
    pushed = _visit(railway, "api-1", "staging")["pushed"][0]["commit"]
    _subscription(railway)
    railway.wait("the baseline", lambda: _status(railway).get("found", {}).get("change") == "baseline")

    workload = yaml.safe_load(overlay("staging")["env/staging/workload.yaml"])
    workload["spec"]["replicas"] = 2
    railway.commit({"env/staging/workload.yaml": yaml.safe_dump(workload).encode()}, "staging: 2 replicas")
    railway.wait("env/staging re-rendered", lambda: railway.repo.head("env/staging") != pushed)
    head = railway.repo.head("env/staging")

    railway.wait("the visit adopts the re-render",
                 lambda: _visit(railway, "api-1", "staging")["pushed"][0]["commit"] == head)
    app = model.AppRef(ARGOCD_NS, railway.apps["staging"])
    railway.wait("Argo CD deploys the re-render", lambda: (lambda a: a["status"]["sync"].get("revision") == head
                 and a["status"]["sync"]["status"] == "Synced" and a["status"]["health"]["status"] == "Healthy")(
                     argocd.get_application(app)))
    railway.wait("api-1 soaking at the re-rendered commit", lambda: railway.state("api-1") == "Soaking")
    events = k8s.CoreV1Api(railway.api).list_namespaced_event(railway.namespace,
                                                field_selector="involvedObject.kind=Ticket,involvedObject.name=api-1")
    assert any(e.reason == "ReRendered" and head[:12] in e.message and pushed[:12] in e.message
               for e in events.items), [(e.reason, e.message) for e in events.items]
    assert argocd.get_application(app)["status"]["sync"]["revision"] == head  # never synced back to the old one

    railway.custom.patch_namespaced_custom_object(GROUP, VERSION, railway.namespace, "stations", "staging",
                                                  {"spec": {"soakSeconds": 1}})
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed")
    deployment = k8s.AppsV1Api(railway.api).read_namespaced_deployment("api", railway.target_namespace("staging"))
    assert deployment.spec.replicas == 2
    assert [t["metadata"]["name"] for t in railway.tickets()] == ["api-1"]
