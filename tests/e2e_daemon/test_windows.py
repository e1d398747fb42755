"""Freeze windows and stop-the-line on the real stack (issue 20, item 3): a deny window holds a ticket
at boarding, its message saying which window and until when, and the ticket enters once the window
ends; ``k8sta freeze`` holds every Track of the namespace, ``k8sta unfreeze`` lets them ride. Driven
only through the Kubernetes API and the ``k8sta`` command; the daemon uses its own clock."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from k8sta_daemon.core.codec import format_time, parse_time
from k8sta_devstack.railway import Railway, base, overlay
from k8sta_devstack.stack import Stack

pytestmark = pytest.mark.stack

WINDOW_SECONDS = 60  # long enough for a loaded machine to decide the new ticket inside it


def k8sta(stack: Stack, rail: Railway, *argv: str) -> str:
    done = subprocess.run([str(Path(sys.executable).parent / "k8sta"), "--kubeconfig", str(stack.kubeconfig),
                           "-n", rail.namespace, *argv], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def status(rail: Railway, ticket: str) -> dict[str, Any]:
    return rail.get("tickets", ticket).get("status") or {}


def holding(rail: Railway, ticket: str, words: str) -> dict[str, Any] | None:
    """The ticket's status once its message has ``words`` (None before)."""
    found = status(rail, ticket)
    return found if words in found.get("message", "") else None


def reasons(kube_api: k8s.ApiClient, rail: Railway, name: str, kind: str) -> list[str]:
    events = k8s.CoreV1Api(kube_api).list_namespaced_event(
        rail.namespace, field_selector=f"involvedObject.name={name},involvedObject.kind={kind}").items
    return [e.reason for e in events]


def test_a_deny_window_holds_a_ticket_saying_until_when_then_it_enters(railway: Railway,
                                                                       kube_api: k8s.ApiClient) -> None:
    config = railway.commit({**base(), **overlay("dev")})
    railway.application("dev")
    ends = math.ceil(time.time()) + WINDOW_SECONDS
    start, end = format_time(ends - 3600), format_time(ends)
    railway.station("dev", ["dev"], windows=[{"kind": "Deny", "from": start, "to": end, "reason": "release freeze"}])
    railway.track("line", ["dev"])
    railway.ticket("api-1", "line", config, "1.0.0")
    held = railway.wait("api-1 held at the window", lambda: holding(railway, "api-1", "deny window"),
                        timeout=WINDOW_SECONDS - 10)
    assert held["state"] == "Waiting" and not held.get("journey"), held
    assert held["message"] == (f"waiting to board into station dev: station dev: inside deny window {start} to "
                               f"{end} (release freeze), until {end}; k8sta ticket pass-window api-1 --reason ... "
                               "lets this ticket through")
    assert railway.repo.head("env/dev") is None  # nothing pushed while the window is open
    assert "WindowClosed" in reasons(kube_api, railway, "api-1", "Ticket")
    railway.wait("api-1 Completed after the window", lambda: railway.state("api-1") == "Completed",
                 timeout=WINDOW_SECONDS + 180)
    (record,) = status(railway, "api-1")["journey"]
    assert parse_time(record["enteredAt"]) >= ends  # the daemon's clock: never inside the window


def test_stop_the_line_holds_every_track_then_releases(railway: Railway, stack: Stack,
                                                       kube_api: k8s.ApiClient) -> None:
    config = railway.commit({**base(), **overlay("dev"), **overlay("staging")})
    for env in ("dev", "staging"):
        railway.application(env)
        railway.station(env, [env])
    railway.track("line-a", ["dev"])
    railway.track("line-b", ["staging"])
    out = k8sta(stack, railway, "freeze", "--reason", "incident 7")
    assert "no ticket enters a station on tracks line-a, line-b" in out
    railway.ticket("a-1", "line-a", config, "1.0.0")
    railway.ticket("b-1", "line-b", config, "1.0.0")
    frozen = f"namespace {railway.namespace} is frozen: incident 7 (by "
    for ticket, station in (("a-1", "dev"), ("b-1", "staging")):
        held = railway.wait(f"{ticket} held by the freeze", lambda t=ticket: holding(railway, t, frozen))
        assert held["state"] == "Waiting" and not held.get("journey"), held
        assert held["message"].startswith(f"waiting to board into station {station}: {frozen}")
        assert held["message"].endswith("; k8sta unfreeze lets every track move again")
        assert "Frozen" in reasons(kube_api, railway, ticket, "Ticket")
    for track in ("line-a", "line-b"):
        assert reasons(kube_api, railway, track, "Track") == ["Frozen"]
    time.sleep(4)  # two resyncs of the daemon (--resync-seconds 2): still nothing moves
    assert railway.state("a-1") == railway.state("b-1") == "Waiting"
    assert railway.repo.head("env/dev") is None and railway.repo.head("env/staging") is None

    k8sta(stack, railway, "unfreeze")
    railway.wait("both Completed after unfreeze",
                 lambda: railway.state("a-1") == railway.state("b-1") == "Completed", timeout=180)
