"""What Tracks share, on the real stack: a shared Station goes to the ticket that has waited longest
whatever the Tracks are called, and two Stations may not name one Application."""

from __future__ import annotations

import pytest

from k8sta_devstack.railway import Railway, base, overlay

pytestmark = pytest.mark.stack


def status(rail: Railway, ticket: str) -> dict:
    return rail.get("tickets", ticket).get("status") or {}


def waiting_for(rail: Railway, ticket: str, holder: str) -> bool:
    now = status(rail, ticket)
    return now.get("state") == "Waiting" and f"into station shared: held by ticket {holder}" in (
        now.get("message") or "")


@pytest.mark.parametrize("busy, patient", [("alpha", "zulu"), ("zulu", "alpha")])
def test_the_ticket_that_waited_longest_enters_a_shared_station_first(railway: Railway, busy: str,
                                                                     patient: str) -> None:
    """Track ``busy``: (busy, shared, after); track ``patient``: (patient, shared). The busy Track's
    first ticket holds shared (awaiting approval into after); the patient Track's ticket lines up
    for shared, then the busy Track's second one does. When the holder leaves, the patient ticket
    enters first, in both name orders (before, the Track whose turn came first in the pass won, and
    the holder's own Track always came first: it freed the Station)."""
    config = railway.commit({**base(), **overlay(busy), **overlay(patient), **overlay("shared"),
                             **overlay("after")})
    for env in (busy, patient, "shared", "after"):
        railway.application(env)
        railway.station(env, [env], **({"approvalRequired": True} if env == "after" else {}))
    railway.track(busy, [busy, "shared", "after"])
    railway.track(patient, [patient, "shared"])
    railway.ticket(f"{busy}-1", busy, config, "1.0.0")
    railway.wait("the holder at shared, awaiting approval into after",
                 lambda: status(railway, f"{busy}-1").get("state") == "AwaitingApproval"
                 and status(railway, f"{busy}-1").get("station") == "shared")
    railway.ticket(f"{patient}-1", patient, config, "1.0.1")
    railway.wait("the patient ticket lined up", lambda: waiting_for(railway, f"{patient}-1", f"{busy}-1"))
    railway.ticket(f"{busy}-2", busy, config, "1.0.2")
    railway.wait("the busy Track's second ticket lined up", lambda: waiting_for(railway, f"{busy}-2", f"{busy}-1"))

    railway.patch_ticket(f"{busy}-1", {"approvedStations": ["after"]})
    entered = railway.wait("someone entered shared", lambda: [
        t for t in (f"{patient}-1", f"{busy}-2") if status(railway, t).get("station") == "shared"])
    assert entered == [f"{patient}-1"], {t: status(railway, t).get("message") for t in (f"{patient}-1", f"{busy}-2")}
    railway.wait("the busy Track's ticket waits for the patient one",
                 lambda: waiting_for(railway, f"{busy}-2", f"{patient}-1"))
    railway.wait("the patient ticket Completed", lambda: railway.state(f"{patient}-1") == "Completed")
    railway.wait("then the busy Track's second ticket enters",
                 lambda: status(railway, f"{busy}-2").get("station") == "shared")
    (mine,) = [r for r in status(railway, f"{patient}-1")["journey"] if r["station"] == "shared"]
    (theirs,) = [r for r in status(railway, f"{busy}-2")["journey"] if r["station"] == "shared"]
    assert mine["departedAt"] <= theirs["enteredAt"]


def test_two_stations_naming_one_application_refuse_their_tracks(railway: Railway) -> None:
    """Both Tracks say why (naming the Application and both Stations) and nobody pushes its branch;
    giving each Station its own Application lets the waiting ticket ride."""
    config = railway.commit({**base(), **overlay("dev"), **overlay("preview")})
    app = railway.application("dev")
    railway.application("preview")
    railway.station("dev", ["dev"])
    railway.station("preview", ["dev"])  # a copy-paste slip: preview deploys dev's Application
    railway.track("main", ["dev"])
    railway.track("previews", ["preview"])
    railway.ticket("main-1", "main", config, "1.0.0")

    def refused(track: str) -> dict | None:
        conditions = (railway.get("tracks", track).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "Ready" and c["status"] == "False"), None)

    for track in ("main", "previews"):
        condition = railway.wait(f"track {track} refused", lambda track=track: refused(track), timeout=60)
        assert condition["reason"] == "ApplicationShared"
        assert f"application argocd/{app} is named by stations dev, preview" in condition["message"]
    railway.wait("the ticket says why", lambda: "named by stations dev, preview" in (
        status(railway, "main-1").get("message") or ""))
    assert not status(railway, "main-1").get("journey")
    assert railway.repo.head("env/dev") is None
    railway.custom.patch_namespaced_custom_object(
        "k8sta.io", "v1alpha1", railway.namespace, "stations", "preview",
        {"spec": {"applications": [{"name": railway.apps["preview"], "namespace": "argocd"}]}})
    railway.wait("main-1 Completed once each Station has its own Application",
                 lambda: railway.state("main-1") == "Completed")
