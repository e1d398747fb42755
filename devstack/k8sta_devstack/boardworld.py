"""Track, Station and Ticket objects as the Kubernetes API returns them, built in memory.

Callers: the board's pure and Flask tests and the board benchmark (``bench/bench_board.py``), which feed
these dicts to the board exactly as its watch would (``Hub.feed``/``Hub.apply``). Nothing here talks
to a cluster; the real-stack board tests use ``k8sta_devstack.railway`` instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

GROUP_VERSION = "k8sta.io/v1alpha1"
CREATED = "2026-12-01T10:00:00Z"
_versions = itertools.count(1)


def _meta(namespace: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "resourceVersion": str(next(_versions)),
            "creationTimestamp": CREATED, "uid": f"uid-{namespace}-{name}", **extra}


def track(namespace: str, name: str, stations: list[str], *, ready: bool = True, **spec: Any) -> dict[str, Any]:
    condition = {"type": "Ready", "status": "True" if ready else "False",
                 "reason": "Valid" if ready else "StationNotFound",
                 "message": "" if ready else "station missing"}
    return {"apiVersion": GROUP_VERSION, "kind": "Track", "metadata": _meta(namespace, name),
            "spec": {"stations": stations, **spec}, "status": {"conditions": [condition]}}


def station(namespace: str, name: str, apps: list[str] = (), *, tracks: list[str] = (), **spec: Any
            ) -> dict[str, Any]:
    return {"apiVersion": GROUP_VERSION, "kind": "Station", "metadata": _meta(namespace, name),
            "spec": {"applications": [{"namespace": "argocd", "name": a} for a in apps], "tracks": list(tracks),
                     **spec}}


def ticket(namespace: str, name: str, track_name: str, *, state: str = "Waiting", station_name: str | None = None,
           message: str = "", journey: list[dict[str, Any]] = (), created: str = CREATED, tag: str = "1.0.0",
           **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"state": state, "journey": list(journey)}
    if station_name:
        status["station"] = station_name
    if message:
        status["message"] = message
    meta = _meta(namespace, name)
    meta["creationTimestamp"] = created
    return {"apiVersion": GROUP_VERSION, "kind": "Ticket", "metadata": meta,
            "spec": {"track": track_name, "snapshot": {"images": [{"name": "ghcr.io/acme/api", "tag": tag}]},
                     **spec}, "status": status}


def record(station_name: str, state: str = "Entered", **extra: Any) -> dict[str, Any]:
    return {"station": station_name, "state": state, "enteredAt": CREATED, **extra}


@dataclass
class World:
    """Lists of objects by kind, in the order a watch would list them."""

    tracks: list[dict[str, Any]] = field(default_factory=list)
    stations: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)

    def lists(self) -> dict[str, list[dict[str, Any]]]:
        return {"Track": self.tracks, "Station": self.stations, "Ticket": self.tickets}


def runs(namespace: str, station_name: str, ticket_name: str, track_name: str) -> dict[str, Any]:
    """A Station's status as the controller writes it (``core.station_status``): what runs there now."""
    return {"source": "Ticket", "version": "3f2a9c1 api:1.4.2",
            "snapshot": {"configCommit": "3f2a9c1" + "0" * 33, "images": [
                {"name": "registry.example/acme/api", "tag": "1.4.2", "digest": "sha256:" + "ab" * 32}]},
            "ticket": ticket_name, "track": track_name, "arrivedAt": "2026-12-01T09:00:00Z",
            "applications": [{"namespace": "argocd", "name": f"{station_name}-app", "branch": f"env/{station_name}",
                              "commit": "c0ffee12" * 5, "sync": "Synced", "health": "Healthy"}]}


def at_scale(tracks: int = 1000, stations_per_track: int = 3, tickets: int = 1000) -> World:
    """``tracks`` Tracks of ``stations_per_track`` Stations each (a namespace per 50 Tracks), each Station with
    what runs there, and ``tickets`` tickets spread over them: every state the board draws, each with the
    reason the core would write."""
    world = World()
    states = [("Deploying", 0, "deploying at station {s}"),
              ("AwaitingApproval", 0, "waiting for approval to depart into station {n}"),
              ("Soaking", 1, "soaking at station {s} until 2026-12-01T10:05:00Z"),
              ("Waiting", None, "waiting to board track {t} after ticket {t}-0"),
              ("Suspended", 2, "waiting at station {s}: argocd/app: Suspended (rollout paused)")]
    for i in range(tracks):
        namespace = f"team-{i // 50:02d}"
        name = f"line-{i:04d}"
        names = [f"{name}-s{k}" for k in range(stations_per_track)]
        for k, station_name in enumerate(names):
            junction = [f"line-{(i + 1) % tracks:04d}"] if k == stations_per_track - 1 and i % 10 == 0 else []
            world.stations.append({**station(namespace, station_name, [f"{station_name}-app"], tracks=junction,
                                             approvalRequired=k == 1, soakSeconds=60 if k == 0 else 0),
                                   "status": runs(namespace, station_name, f"{name}-0", name)})
        world.tracks.append(track(namespace, name, names))
    for j in range(tickets):
        i = j % tracks
        namespace, name = f"team-{i // 50:02d}", f"line-{i:04d}"
        state, position, text = states[(j // tracks + i) % len(states)]
        at = None if position is None else f"{name}-s{min(position, stations_per_track - 1)}"
        after = f"{name}-s{min((position or 0) + 1, stations_per_track - 1)}"
        world.tickets.append(ticket(namespace, f"{name}-{j // tracks + 1}", name, state=state, station_name=at,
                                    message=text.format(s=at, n=after, t=name),
                                    journey=[record(at)] if at else []))
    return world
