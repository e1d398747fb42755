"""Argo CD Applications K8sTA does not manage cost no decision: their events never wake the loop.

Pure: the daemon's own cache and loop, fed as the watches feed them, without a stack.
"""

from __future__ import annotations

from typing import Any

from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import model
from k8sta_daemon.reactor.cache import KINDS, Cache
from k8sta_daemon.reactor.loop import Controller

MANAGED = model.AppRef("argocd", "dev")
UNRELATED = model.AppRef("argocd", "someone-elses")


def station(name: str, *apps: model.AppRef, version: str = "1") -> dict[str, Any]:
    return {"apiVersion": "k8sta.io/v1alpha1", "kind": "Station",
            "metadata": {"namespace": "ns", "name": name, "resourceVersion": version},
            "spec": {"applications": [{"name": a.name, "namespace": a.namespace} for a in apps]}}


def app(ref: model.AppRef, version: str = "1") -> dict[str, Any]:
    return {"metadata": {"namespace": ref.namespace, "name": ref.name, "resourceVersion": version},
            "spec": {"source": {"repoURL": "file:///repo", "targetRevision": "env/dev", "path": "."}},
            "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}}


def listed(*stations: dict[str, Any]) -> Cache:
    cache = Cache()
    for kind in KINDS:
        cache.replace_all(kind, list(stations) if kind == "Station" else [])
    cache.set_apps([app(MANAGED), app(UNRELATED)])
    cache.wake.clear()
    return cache


def woke(cache: Cache) -> bool:
    was = cache.wake.is_set()
    cache.wake.clear()
    return was


def test_an_event_of_an_application_no_station_names_does_not_wake_the_loop() -> None:
    cache = listed(station("dev", MANAGED))
    assert cache.apply_app("MODIFIED", app(UNRELATED, "2")) is False
    assert not woke(cache)
    assert cache.application(UNRELATED)["metadata"]["resourceVersion"] == "2"  # kept: a Station may name it later
    assert cache.apply_app("DELETED", app(UNRELATED, "3")) is False
    assert not woke(cache)


def test_an_event_of_an_application_a_station_names_wakes_the_loop() -> None:
    cache = listed(station("dev", MANAGED))
    assert cache.apply_app("MODIFIED", app(MANAGED, "2")) is True
    assert woke(cache)


def test_which_applications_wake_follows_the_stations() -> None:
    cache = listed(station("dev", MANAGED))
    cache.apply("Station", "MODIFIED", station("dev", MANAGED, UNRELATED, version="2"))
    woke(cache)
    assert cache.apply_app("MODIFIED", app(UNRELATED, "2")) is True
    assert woke(cache)
    cache.apply("Station", "DELETED", station("dev", MANAGED, UNRELATED, version="3"))
    woke(cache)
    assert cache.apply_app("MODIFIED", app(MANAGED, "2")) is False
    assert not woke(cache)


def test_a_malformed_station_names_no_application() -> None:
    broken = station("dev", MANAGED)
    broken["spec"]["applications"] = [{"namespace": "argocd"}]  # no name
    cache = listed(broken)
    assert cache.apply_app("MODIFIED", app(MANAGED, "2")) is False


def test_the_loop_counts_application_events_by_whether_they_are_managed() -> None:
    metrics = Metrics()
    cache = listed(station("dev", MANAGED))
    controller = Controller(kube=None, argo=None, executor=None, cache=cache, metrics=metrics)  # type: ignore[arg-type]
    for version in ("2", "3", "4"):
        controller._on_app_event("MODIFIED", app(UNRELATED, version))
    controller._on_app_event("MODIFIED", app(MANAGED, "2"))
    samples = {s.labels["managed"]: s.value for m in metrics.app_events.collect() for s in m.samples
               if s.name.endswith("_total")}
    assert samples == {"false": 3, "true": 1}


def test_the_world_holds_the_status_of_managed_applications_only() -> None:
    cache = listed(station("dev", MANAGED))
    controller = Controller(kube=None, argo=None, executor=None, cache=cache, metrics=Metrics())  # type: ignore[arg-type]
    assert set(controller.world().apps) == {MANAGED}
