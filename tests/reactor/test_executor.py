"""The executor against the real API server, Argo CD and git: stale decisions, Events, trouble, fencing.

Each test makes one decision from the cache, lands a change at an exact point (as a watch would
deliver it), and executes the decision, then checks what the API server and the config repo hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from git import httpgit  # tests/git (tests/ is the rootdir of the test packages)
from kubernetes import client as k8s

from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.adapters.git.mirror import cache_key
from k8sta_daemon.core import actions, failures
from k8sta_daemon.reactor import units
from k8sta_devstack.railway import Railway, base, overlay

from .conftest import Reactor

pytestmark = pytest.mark.stack
FAR = 1e12  # a push backoff that never expires within a test


def one_station(rail: Railway, env: str = "dev", track: str = "line") -> str:
    config = rail.commit({**base(), **overlay(env)})
    rail.application(env)
    rail.station(env, [env])
    rail.track(track, [env])
    return config


def reasons(api: k8s.ApiClient, namespace: str, ticket: str) -> list[str]:
    items = k8s.CoreV1Api(api).list_namespaced_event(namespace, field_selector=f"involvedObject.name={ticket}").items
    return sorted(e.reason for e in items)


def status(rail: Railway, ticket: str) -> dict:
    return rail.get("tickets", ticket).get("status") or {}


def test_a_decision_made_before_an_abandon_writes_nothing_and_pushes_nothing(
        railway: Railway, reactor: Reactor, kube_api: k8s.ApiClient) -> None:
    config = one_station(railway)
    railway.ticket("t-1", "line", config, "1.0.0")
    reactor.sync()
    view, world, planned = reactor.decide()
    assert any(isinstance(a, actions.PushStation) for a in planned)
    railway.patch_ticket("t-1", {"abandon": True})  # lands mid-pass, and the watch delivers it
    reactor.deliver("Ticket", railway.get("tickets", "t-1"))
    reactor.execute(view, world, planned)
    assert status(railway, "t-1") == {}  # the decision that did not see the abandon was not written
    assert railway.repo.head("env/dev") is None  # and its push did not run
    assert reasons(kube_api, railway.namespace, "t-1") == []
    reactor.sync()  # the next pass sees the abandon
    view, world, planned = reactor.decide()
    reactor.execute(view, world, planned)
    assert status(railway, "t-1")["state"] == "Abandoned"
    assert railway.repo.head("env/dev") is None


def test_the_events_of_a_written_status_go_out_when_its_push_is_deferred(
        railway: Railway, reactor: Reactor, kube_api: k8s.ApiClient) -> None:
    config = one_station(railway)
    railway.ticket("t-1", "line", config, "1.0.0")
    reactor.sync()
    view, world, planned = reactor.decide()
    [push] = [a for a in planned if isinstance(a, actions.PushStation)]
    reactor.executor.not_before[push.ticket] = FAR  # an earlier RetryLater still runs
    reactor.execute(view, world, planned)
    assert (status(railway, "t-1")["state"], status(railway, "t-1")["station"]) == ("Deploying", "dev")
    assert railway.repo.head("env/dev") is None  # deferred
    assert reasons(kube_api, railway.namespace, "t-1") == ["Boarded", "Entered"]


def test_a_push_decided_from_an_older_view_does_not_run(railway: Railway, reactor: Reactor) -> None:
    """The ticket already entered (status written, push pending): a decision that is only the push, made
    before an operator's change, must not push once that change has arrived."""
    config = one_station(railway)
    railway.ticket("t-1", "line", config, "1.0.0")
    reactor.sync()
    for _ in range(3):  # boarded, then "pushing ... pending": each pass writes until only the push is left
        view, world, planned = reactor.decide()
        if [type(a) for a in planned] == [actions.PushStation]:
            break
        reactor.executor.not_before[next(a.ticket for a in planned if isinstance(a, actions.PushStation))] = FAR
        reactor.execute(view, world, planned)
        reactor.executor.not_before.clear()
        reactor.sync()
    assert [type(a) for a in planned] == [actions.PushStation]  # nothing else changes: only the push
    railway.patch_ticket("t-1", {"abandon": True})
    reactor.deliver("Ticket", railway.get("tickets", "t-1"))
    assert reactor.execute(view, world, planned).done == 0
    assert railway.repo.head("env/dev") is None


def test_an_unexpected_error_in_one_track_stays_there_and_is_recorded_on_its_ticket(
        railway: Railway, reactor: Reactor, kube_api: k8s.ApiClient, tmp_path: Path) -> None:
    """Track a-line's push hits an error nobody named (its mirror in the cache is not a repository);
    b-line, decided in the same pass and executed after it, still moves."""
    config = railway.commit({**base(), **overlay("dev"), **overlay("eu")})
    for env, track in (("dev", "a-line"), ("eu", "b-line")):
        railway.application(env)
        railway.station(env, [env])
        railway.track(track, [env])
    railway.ticket("a-1", "a-line", config, "1.0.0")
    railway.ticket("b-1", "b-line", config, "1.0.0")
    broken_url = "file:///nonexistent/k8sta-broken.git"
    # a merge patch, not get-and-replace: Argo CD's controller writes the Application's status meanwhile
    railway.custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications",
                                                  railway.apps["dev"], {"spec": {"source": {"repoURL": broken_url}}})
    mirrors = tmp_path / "mirrors"
    mirrors.mkdir()
    (mirrors / f"{cache_key(broken_url)}.git").write_text("not a repository\n")
    reactor.sync()
    view, world, planned = reactor.decide()
    order = [a.ticket.name for a in planned if isinstance(a, actions.PushStation)]
    assert order == ["a-1", "b-1"]  # the broken one comes first
    reactor.execute(view, world, planned)
    assert railway.repo.head("env/eu") is not None  # the healthy Track was pushed
    [condition] = [c for c in status(railway, "a-1").get("conditions", []) if c["type"] == failures.CONDITION_TYPE]
    assert condition["reason"] == failures.Reason.UNEXPECTED and condition["station"] == "dev"
    assert "push to station dev failed unexpectedly" in condition["message"]
    assert "AlreadyExistsError" in condition["message"], condition
    assert "ActionFailed" in reasons(kube_api, railway.namespace, "a-1")
    assert status(railway, "a-1")["state"] == "Deploying"  # delayed, not failed
    assert not [c for c in status(railway, "b-1").get("conditions", []) if c["type"] == failures.CONDITION_TYPE]


def test_a_fenced_replica_stops_the_pass_before_any_write(railway: Railway, reactor: Reactor) -> None:
    config = one_station(railway)
    railway.ticket("t-1", "line", config, "1.0.0")
    reactor.sync()
    view, world, planned = reactor.decide()
    reactor.fenced = "lease k8sta-controller not renewed for 16 s (lease 15 s)"
    result = reactor.execute(view, world, planned)
    assert (result.done, result.fenced) == (0, reactor.fenced)
    assert status(railway, "t-1") == {}
    assert railway.repo.head("env/dev") is None


def test_a_push_that_landed_before_a_crash_is_recorded_once_by_the_next_daemon(
        railway: Railway, reactor: Reactor, kube_api: k8s.ApiClient, argocd: ArgoCD, kustomize: Kustomize,
        tmp_path: Path) -> None:
    """The intent ("entering dev") is written before the push; the push lands; the daemon dies before
    recording it. A fresh daemon (empty cache, new mirror) decides the push again: the trailers make it
    a no-op returning the same commit, which is then recorded. One commit on the branch."""
    config = one_station(railway)
    railway.ticket("t-1", "line", config, "1.0.0")
    reactor.sync()
    view, world, planned = reactor.decide()
    [push] = [a for a in planned if isinstance(a, actions.PushStation)]
    reactor.executor.not_before[push.ticket] = FAR
    reactor.execute(view, world, planned)  # the intent is written, the push deferred
    assert status(railway, "t-1")["journey"][-1] == {**status(railway, "t-1")["journey"][-1], "state": "Entered"}
    landed = units.UNITS[actions.PushStation](push, reactor.context)  # the unit pushes... and the daemon dies
    [commit] = landed.commits
    assert railway.repo.head("env/dev") == commit.commit
    fresh = Reactor(kube_api, argocd, railway.namespace, tmp_path / "restarted", kustomize)
    fresh.sync()
    view, world, planned = fresh.decide()
    assert any(isinstance(a, actions.PushStation) for a in planned)  # nothing recorded: decided again
    fresh.execute(view, world, planned)
    [pushed] = status(railway, "t-1")["journey"][-1]["pushed"]
    assert pushed["commit"] == commit.commit
    assert railway.repo.git(["rev-list", "--count", "env/dev"]).strip() == "1"


def test_refused_git_credentials_fail_the_ticket_at_once_with_a_clear_message(
        railway: Railway, reactor: Reactor, kube_api: k8s.ApiClient) -> None:
    """Retrying with credentials the remote refuses cannot succeed: no backoff loop, the ticket fails."""
    config = one_station(railway)
    railway.ticket("t-1", "line", config, "1.0.0")
    with httpgit.serve(railway.repo.path.parent, username="k8sta-bot", password="s3cret") as base_url:
        url = f"{base_url}/{railway.repo.path.name}"
        railway.custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications",
                                                      railway.apps["dev"], {"spec": {"source": {"repoURL": url}}})
        reactor.sync()
        view, world, planned = reactor.decide()
        reactor.execute(view, world, planned)
    final = status(railway, "t-1")
    assert final["state"] == "Failed", final
    assert "push to station dev failed" in final["message"] and "credentials" in final["message"], final
    assert reactor.executor.not_before == {}  # nothing scheduled: not retried
    assert "Failed" in reasons(kube_api, railway.namespace, "t-1")
    assert railway.repo.head("env/dev") is None


def test_a_ticket_does_not_enter_a_station_whose_release_was_not_written(
        railway: Railway, reactor: Reactor) -> None:
    """One decision fails a-1 (its Station's timeout), which frees dev, and boards a-2 into dev. If a-1's
    write does not take effect (an operator's change landed), a-2 must not enter: two tickets would hold
    dev. The next pass decides both again from what was written."""
    config = railway.commit({**base(), **overlay("dev")})
    railway.application("dev")
    railway.station("dev", ["dev"], timeoutSeconds=1)
    railway.track("line", ["dev"])
    railway.ticket("a-1", "line", config, "1.0.0")
    entered = {"state": "Deploying", "station": "dev", "observedRetry": 0, "message": "deploying at station dev",
               "journey": [{"station": "dev", "state": "Entered", "enteredAt": "2026-01-01T00:00:00Z"}]}
    obj = railway.get("tickets", "a-1")
    railway.custom.replace_namespaced_custom_object_status("k8sta.io", "v1alpha1", railway.namespace, "tickets",
                                                           "a-1", {**obj, "status": entered})
    railway.ticket("a-2", "line", config, "1.0.1")
    reactor.sync()
    view, world, planned = reactor.decide()
    writes = {a.ticket.name: a.status for a in planned if isinstance(a, actions.UpdateTicketStatus)}
    assert (writes["a-1"].state.value, writes["a-1"].station) == ("Failed", None)
    assert (writes["a-2"].state.value, writes["a-2"].station) == ("Deploying", "dev")
    railway.patch_ticket("a-1", {"approvedStations": ["dev"]})  # lands mid-pass: a-1's write will conflict
    reactor.deliver("Ticket", railway.get("tickets", "a-1"))
    reactor.execute(view, world, planned)
    assert status(railway, "a-1")["state"] == "Deploying"  # not written
    assert status(railway, "a-2") == {}  # held back: dev was never released
    assert railway.repo.head("env/dev") is None
    reactor.sync()
    view, world, planned = reactor.decide()
    reactor.execute(view, world, planned)
    assert status(railway, "a-1")["state"] == "Failed"
    assert (status(railway, "a-2")["state"], status(railway, "a-2")["station"]) == ("Deploying", "dev")
