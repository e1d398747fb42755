"""What runs where, on the real stack (issue 20, item 1): each Station's status after a ride, after a
rollback and after an overlay re-render, written by the running daemon, read through the Kubernetes API
and ``k8sta stations``; and no write while nothing changes (passes every 2 s, Argo CD refreshes)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model
from k8sta_devstack.railway import ARGOCD_NS, IMAGE, Railway, base, overlay
from k8sta_devstack.stack import Stack

GROUP, VERSION = "k8sta.io", "v1alpha1"

pytestmark = pytest.mark.stack


def k8sta(stack: Stack, rail: Railway, *argv: str) -> str:
    done = subprocess.run([str(Path(sys.executable).parent / "k8sta"), "--kubeconfig", str(stack.kubeconfig),
                           "-n", rail.namespace, *argv], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def status(rail: Railway, station: str) -> dict[str, Any]:
    return rail.get("stations", station).get("status") or {}


def arrived(rail: Railway, ticket: str, station: str) -> str:
    journey = rail.get("tickets", ticket)["status"]["journey"]
    return next(r for r in reversed(journey) if r["station"] == station)["arrivedAt"]


def runs(rail: Railway, station: str, ticket: str, tag: str, config: str, *, synced: bool = True) -> bool:
    """The Station's status names ``ticket``, pins ``tag`` and the branch head, Synced and Healthy."""
    found = status(rail, station)
    apps = found.get("applications") or []
    return (found.get("ticket") == ticket and found["snapshot"].get("configCommit") == config
            and [(i["name"], i["tag"]) for i in found["snapshot"]["images"]] == [(IMAGE, tag)]
            and [a.get("commit") for a in apps] == [rail.repo.head(f"env/{station}")]
            and (not synced or [(a["sync"], a["health"]) for a in apps] == [("Synced", "Healthy")]))


def test_station_status_after_a_ride_a_rollback_and_an_overlay_rerender(
        railway: Railway, argocd: ArgoCD, stack: Stack) -> None:
    config = railway.commit({**base(), **overlay("dev"), **overlay("staging")})
    for env in ("dev", "staging"):
        railway.application(env)
    railway.station("dev", ["dev"])
    railway.station("staging", ["staging"])
    railway.track("line", ["dev", "staging"])
    time.sleep(4)  # two resyncs: a Station nothing arrived at and whose branches do not exist gets no status
    assert status(railway, "dev") == {} and status(railway, "staging") == {}

    # a ride: each Station names the ticket, its snapshot, its arrival and each Application's commit
    for n, tag in ((1, "1.0.0"), (2, "2.0.0")):
        railway.ticket(f"api-{n}", "line", config, tag)
        railway.wait(f"api-{n} Completed", lambda n=n: railway.state(f"api-{n}") == "Completed")
    for env in ("dev", "staging"):
        railway.wait(f"{env} runs api-2", lambda env=env: runs(railway, env, "api-2", "2.0.0", config), timeout=60)
        found = status(railway, env)
        assert found["source"] == "Ticket" and found["track"] == "line"
        assert found["arrivedAt"] == arrived(railway, "api-2", env)
        assert found["version"] == f"{config[:7]} api:2.0.0"
        (app,) = found["applications"]
        assert (app["namespace"], app["name"], app["branch"]) == (ARGOCD_NS, railway.apps[env], f"env/{env}")

    # written only when it changes: passes every 2 s, drift scans and an Argo CD hard refresh change nothing
    before = {env: railway.get("stations", env)["metadata"]["resourceVersion"] for env in ("dev", "staging")}
    for env in ("dev", "staging"):
        argocd.refresh(model.AppRef(ARGOCD_NS, railway.apps[env]))
    time.sleep(8)
    assert {env: railway.get("stations", env)["metadata"]["resourceVersion"] for env in ("dev", "staging")} == before

    # a rollback is a ticket like any other: its arrival brings the older snapshot back
    k8sta(stack, railway, "rollback", "--track", "line", "--to", "api-1")
    (rollback,) = [t["metadata"]["name"] for t in railway.tickets()
                   if t["metadata"]["name"] not in ("api-1", "api-2")]
    railway.wait("the rollback Completed", lambda: railway.state(rollback) == "Completed")
    for env in ("dev", "staging"):
        railway.wait(f"{env} runs the rollback", lambda env=env: runs(railway, env, rollback, "1.0.0", config),
                     timeout=60)
        assert status(railway, env)["arrivedAt"] == arrived(railway, rollback, env)
    staging = status(railway, "staging")
    k8sta(stack, railway, "resume", "line")  # the rollback's hold: a held Track is not re-rendered either

    # an overlay-only commit re-renders env/dev: same ticket and snapshot, the new commit, Argo CD's verdicts
    dev_before = railway.repo.head("env/dev")
    railway.custom.create_namespaced_custom_object(GROUP, VERSION, railway.namespace, "subscriptions", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
        "metadata": {"name": "config", "namespace": railway.namespace},
        "spec": {"tracks": ["line"], "intervalSeconds": 1, "config": {"repoURL": railway.repo.url, "branch": "main"}}})
    railway.wait("the Subscription's baseline", lambda: (railway.get("subscriptions", "config").get("status") or {})
                 .get("found", {}).get("change") == "baseline")
    workload = yaml.safe_load(overlay("dev")["env/dev/workload.yaml"])
    workload["spec"]["replicas"] = 3
    railway.commit({"env/dev/workload.yaml": yaml.safe_dump(workload).encode()}, "dev: 3 replicas")
    railway.wait("env/dev re-rendered", lambda: railway.repo.head("env/dev") != dev_before)
    railway.wait("dev shows the re-render", lambda: runs(railway, "dev", rollback, "1.0.0", config), timeout=90)
    dev = status(railway, "dev")
    assert dev["applications"][0]["commit"] != dev_before
    assert dev["arrivedAt"] == arrived(railway, rollback, "dev")  # the version did not move, only the commit
    assert status(railway, "staging") == staging

    # k8sta stations prints what runs where
    out = k8sta(stack, railway, "stations")
    assert f"dev  {config[:7]} api:1.0.0" in out and f"staging  {config[:7]} api:1.0.0" in out
    assert f"ticket   {rollback} (track line), arrived {dev['arrivedAt'][:19]}" in out
    assert f"env/dev@{dev['applications'][0]['commit'][:12]}  Synced Healthy" in out
