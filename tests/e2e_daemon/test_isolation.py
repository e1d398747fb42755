"""Trouble stays where it is, on the real stack with real ``k8sta-daemon`` processes: a broken Track
next to a healthy one, a leader paused past its Lease, two controllers whose scopes overlap."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from k8sta_daemon.adapters.leader import CLAIM_NAME
from k8sta_daemon.core import codec
from k8sta_devstack.railway import ARGOCD_NS, Railway, base, overlay
from k8sta_devstack.stack import Stack

from .conftest import Daemon

pytestmark = pytest.mark.stack


def two_tracks(rail: Railway) -> str:
    """a-line: dev; b-line: eu; one Application each."""
    config = rail.commit({**base(), **overlay("dev"), **overlay("eu")})
    for env, track in (("dev", "a-line"), ("eu", "b-line")):
        rail.application(env)
        rail.station(env, [env])
        rail.track(track, [env])
    return config


def action_failed(rail: Railway, ticket: str) -> dict[str, Any] | None:
    conditions = (rail.get("tickets", ticket).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "ActionFailed"), None)


def events(api: k8s.ApiClient, namespace: str, name: str) -> list[k8s.CoreV1Event]:
    return k8s.CoreV1Api(api).list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items


def test_a_track_with_a_broken_repository_url_says_why_and_the_healthy_one_completes(
        railway: Railway, kube_api: k8s.ApiClient) -> None:
    config = two_tracks(railway)
    broken = f"file:///nonexistent/{railway.suffix}/config.git"
    railway.custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications",
                                                  railway.apps["dev"], {"spec": {"source": {"repoURL": broken}}})
    railway.ticket("a-1", "a-line", config, "1.0.0")
    railway.ticket("b-1", "b-line", config, "1.0.0")
    railway.wait("the healthy Track's ticket Completed", lambda: railway.state("b-1") == "Completed")
    condition = railway.wait("the broken one says why", lambda: action_failed(railway, "a-1"))
    assert condition["status"] == "True" and condition["reason"] == "Retrying" and condition["station"] == "dev"
    assert f"fetching {broken} failed" in condition["message"], condition
    warnings = [e for e in events(kube_api, railway.namespace, "a-1") if e.reason == "ActionFailed"]
    assert [e.type for e in warnings] == ["Warning"] and broken in warnings[0].message
    assert railway.state("a-1") == "Deploying"  # delayed (backing off), the Station's timeout may fail it
    assert action_failed(railway, "b-1") is None


def block_pushes(repo_path: Path, branch: str, flag: Path, mark: Path) -> None:
    """A pre-receive hook: a push of ``branch`` waits while ``flag`` exists (``mark`` says it is waiting)."""
    hook = repo_path / "hooks" / "pre-receive"
    hook.write_text(f"""#!/bin/sh
while read old new ref; do
  if [ "$ref" = "refs/heads/{branch}" ]; then
    touch '{mark}'
    while [ -e '{flag}' ]; do sleep 0.1; done
  fi
done
exit 0
""")
    hook.chmod(0o755)


def test_a_leader_paused_past_its_lease_pushes_nothing_when_it_resumes(
        railway: Railway, daemon: Daemon, stack: Stack, tmp_path: Path) -> None:
    """Leader A decides a pass with two pushes; it is paused (SIGSTOP) inside the first one. Replica B
    takes over and, because Station eu was disabled meanwhile, completes b-1 without deploying it. When
    A resumes (SIGCONT), its pass is older than its Lease: it must stop instead of pushing env/eu."""
    daemon.stop()  # this test runs its own two replicas
    config = two_tracks(railway)
    flag, mark = tmp_path / "hold", tmp_path / "waiting"
    flag.touch()
    block_pushes(railway.repo.path, "env/dev", flag, mark)
    railway.ticket("a-1", "a-line", config, "1.0.0")
    railway.ticket("b-1", "b-line", config, "1.0.0")
    # b-1 already entered eu (its push is all that is left), as a previous leader would have left it.
    now = time.time()
    status = {"state": "Deploying", "station": "eu", "observedRetry": 0,
              "message": "pushing app branches at station eu (1 pending)",
              "journey": [{"station": "eu", "state": "Entered", "enteredAt": codec.format_time(now)}]}
    obj = railway.get("tickets", "b-1")
    railway.custom.replace_namespaced_custom_object_status("k8sta.io", "v1alpha1", railway.namespace, "tickets",
                                                           "b-1", {**obj, "status": status})
    lease = ("--lease-seconds", "6")
    leader = Daemon(stack, railway.namespace, tmp_path / "a", extra=lease)
    standby = Daemon(stack, railway.namespace, tmp_path / "b", extra=lease)
    leader.start()
    try:
        railway.wait("A inside its first push", mark.exists, timeout=120)
        leader.pause()
        flag.unlink()  # the push A started lands; A itself stays paused
        railway.custom.patch_namespaced_custom_object("k8sta.io", "v1alpha1", railway.namespace, "stations", "eu",
                                                      {"spec": {"disabled": True}})
        standby.start()
        railway.wait("B leads", lambda: standby.logged("became leader"), timeout=60)
        railway.wait("a-1 Completed by B", lambda: railway.state("a-1") == "Completed")
        railway.wait("b-1 passed the disabled Station", lambda: railway.state("b-1") == "Completed")
        assert railway.repo.head("env/eu") is None
        leader.resume()
        railway.wait("A notices it lost the Lease", lambda: leader.logged("lost leadership"), timeout=30)
        time.sleep(4)  # two resync passes in which a wrong A would still push (a negative check)
        assert railway.repo.head("env/eu") is None, leader.log.read_text()[-3000:]
        assert railway.repo.git(["rev-list", "--count", "env/dev"]).strip() == "1"
        assert "pushed env/eu" not in leader.log.read_text()
        assert leader.logged("stopping the pass: lease")  # the fence, not luck, stopped it
    finally:
        leader.stop()
        standby.stop()


def test_two_controllers_with_overlapping_scopes_never_both_act(
        railway: Railway, daemon: Daemon, stack: Stack, kube_api: k8s.ApiClient, tmp_path: Path) -> None:
    """A namespaced daemon holds the namespace's claim; a cluster-wide one started next yields it
    (log line and Warning Event naming the holder) and acts only once the first one has stopped."""
    railway.wait("the namespaced daemon claims its namespace",
                 lambda: daemon.logged(f"claimed namespace {railway.namespace}"), timeout=60)
    scoped = daemon.identity
    config = railway.commit({**base(), **overlay("dev")})
    railway.application("dev")
    railway.station("dev", ["dev"])
    railway.track("line", ["dev"])
    wide = Daemon(stack, None, tmp_path / "wide", lease_namespace="default")
    wide.start()
    try:
        railway.wait("the cluster-wide daemon yields",
                     lambda: wide.logged(f"yielding namespace {railway.namespace}: its Tickets belong to "
                                         f"controller {scoped} (namespace {railway.namespace})"), timeout=60)
        overlap = [e for e in events(kube_api, railway.namespace, CLAIM_NAME) if e.reason == "ControllerOverlap"]
        assert overlap and overlap[0].type == "Warning"
        assert f"yields namespace {railway.namespace} to controller {scoped}" in overlap[0].message
        railway.ticket("api-1", "line", config, "1.0.0")
        railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed")
        acted = {e.reporting_instance for e in events(kube_api, railway.namespace, "api-1")}
        assert acted == {scoped}, acted
        assert f"ticket\": \"{railway.namespace}/api-1" not in wide.log.read_text()
        daemon.stop()  # a clean stop gives the claim up
        railway.wait("the cluster-wide daemon takes the namespace over",
                     lambda: wide.logged(f"claimed namespace {railway.namespace}"), timeout=60)
        railway.ticket("api-2", "line", config, "1.0.1")
        railway.wait("api-2 Completed", lambda: railway.state("api-2") == "Completed")
        assert {e.reporting_instance for e in events(kube_api, railway.namespace, "api-2")} == {wide.identity}
    finally:
        wide.stop()
