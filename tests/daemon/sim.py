"""A tiny in-test simulator: applies decide's actions to a World the way the controller would, fakes
Argo CD as plain status values, and checks the ticket invariants after every applied decision.

Only the clock and Argo CD's state are fake here (pure-logic tests); the real adapters are tested on
the real stack elsewhere. The git "adapter" is idempotent like the real one: a push for the same
ticket and Station onto a branch whose head already carries them returns the head commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from k8sta_daemon.core import actions, decide, model

K = TypeVar("K")
V = TypeVar("V")

NS = "team"
ARGO_NS = "argocd"


def app(name: str) -> model.AppRef:
    return model.AppRef(ARGO_NS, name)


def station(name: str, apps: tuple[str, ...] = (), **kwargs: object) -> model.StationSpec:
    return model.StationSpec(NS, name, applications=tuple(app(a) for a in apps), **kwargs)  # type: ignore[arg-type]


def track(name: str, stations: tuple[str, ...], **kwargs: object) -> model.TrackSpec:
    return model.TrackSpec(NS, name, stations, **kwargs)  # type: ignore[arg-type]


def snapshot(n: int) -> model.Snapshot:
    return model.Snapshot(hashlib.sha1(f"config-{n}".encode()).hexdigest(),
                          (model.ImagePin("registry.example/app", f"1.{n}.0"),))


def healthy_at(commit: str, t: float) -> model.AppStatus:
    """An Application Argo CD has synced to ``commit`` and judged Healthy at time ``t``."""
    return model.AppStatus(
        exists=True, sync_status=model.SyncStatus.SYNCED, synced_revision=commit,
        operation_phase=model.OperationPhase.SUCCEEDED, operation_revision=commit,
        operation_started_at=t - 1, operation_finished_at=t, reconciled_at=t,
        health=model.HealthStatus.HEALTHY)


def arrived_by_definition(status: model.AppStatus | None, commit: str | None) -> bool:
    """The arrival rule, written independently of decide.judge_app (the property tests compare)."""
    return (status is not None and commit is not None and status.exists
            and status.sync_status is model.SyncStatus.SYNCED and status.synced_revision == commit
            and status.operation_phase is model.OperationPhase.SUCCEEDED
            and status.operation_revision in (None, commit)
            and status.operation_finished_at is not None and status.reconciled_at is not None
            and status.reconciled_at >= status.operation_finished_at
            and status.health is model.HealthStatus.HEALTHY)


@dataclass
class Sim:
    tracks: dict[model.TrackRef, model.TrackSpec]
    stations: dict[model.StationRef, model.StationSpec]
    apps: dict[model.AppRef, model.AppStatus]
    now: float = 1_000_000.0
    tickets: dict[model.TicketRef, model.Ticket] = field(default_factory=dict)
    heads: dict[model.AppRef, tuple[model.TicketRef | None, str | None, str]] = field(default_factory=dict)
    events: list[actions.EmitEvent] = field(default_factory=list)
    spawned: list[actions.SpawnTicket] = field(default_factory=list)
    counter: int = 0
    commits: int = 0
    check: bool = True

    @classmethod
    def of(cls, tracks: list[model.TrackSpec], stations: list[model.StationSpec], **kwargs: object) -> Sim:
        apps = {a: healthy_at("0" * 40, 0.0) for s in stations for a in s.applications}
        sim = cls({t.ref: t for t in tracks}, {s.ref: s for s in stations}, apps, **kwargs)  # type: ignore[arg-type]
        for ref in apps:
            sim.heads[ref] = (None, None, "0" * 40)
        return sim

    # -- the world and its changes --

    def world(self) -> model.World:
        return model.World(now=self.now, tracks=dict(self.tracks), stations=dict(self.stations),
                           tickets=dict(self.tickets), apps=dict(self.apps))

    def create(self, track_name: str, name: str | None = None, created: float | None = None) -> model.Ticket:
        self.counter += 1
        name = name or f"t{self.counter:03d}"
        ticket = model.Ticket(NS, name, uid=f"uid-{name}", created=self.now if created is None else created,
                              track=track_name, snapshot=snapshot(self.counter))
        assert ticket.ref not in self.tickets
        self.tickets[ticket.ref] = ticket
        return ticket

    def ticket(self, name: str) -> model.Ticket:
        return self.tickets[model.TicketRef(NS, name)]

    def edit(self, name: str, **changes: object) -> None:
        ref = model.TicketRef(NS, name)
        self.tickets[ref] = dataclasses.replace(self.tickets[ref], **changes)  # type: ignore[arg-type]

    def approve(self, name: str, station_name: str) -> None:
        ticket = self.ticket(name)
        self.edit(name, approved_stations=ticket.approved_stations | {station_name})

    def retry(self, name: str) -> None:
        self.edit(name, retry_count=self.ticket(name).retry_count + 1)

    def set_station(self, name: str, **changes: object) -> None:
        ref = model.StationRef(NS, name)
        self.stations[ref] = dataclasses.replace(self.stations[ref], **changes)  # type: ignore[arg-type]

    def pushed(self, name: str, app_name: str) -> str | None:
        """The commit pushed for the ticket at its current Station for that Application."""
        status = self.ticket(name).status
        return status.journey[-1].pushed_commit(app(app_name)) if status.journey else None

    def argo_converge(self, health: model.HealthStatus = model.HealthStatus.HEALTHY) -> None:
        """Argo CD syncs every Application to its branch head and judges it."""
        for ref, (_, _, commit) in self.heads.items():
            current = self.apps.get(ref)
            if current is not None and current.health is health and arrived_by_definition(
                    dataclasses.replace(current, health=model.HealthStatus.HEALTHY), commit):
                continue  # already there: keep its times, as Argo CD would
            self.apps[ref] = dataclasses.replace(healthy_at(commit, self.now), health=health)

    def set_app(self, app_name: str, **changes: object) -> None:
        ref = app(app_name)
        self.apps[ref] = dataclasses.replace(self.apps[ref], **changes)  # type: ignore[arg-type]

    def sync_app(self, app_name: str, health: model.HealthStatus = model.HealthStatus.HEALTHY) -> None:
        """Argo CD syncs this Application to its branch head and reconciles with ``health``."""
        ref = app(app_name)
        self.apps[ref] = dataclasses.replace(healthy_at(self.heads[ref][2], self.now), health=health)

    # -- deciding and applying --

    def step(self) -> list[actions.Action]:
        """One decision: decide, check determinism, apply, check invariants."""
        world = self.world()
        result = decide.decide(world)
        if self.check:
            assert decide.decide(world) == result, "decide is not deterministic"
            shuffled = model.World(now=world.now, tracks=_reversed(world.tracks),
                                   stations=_reversed(world.stations), tickets=_reversed(world.tickets),
                                   apps=_reversed(world.apps))
            assert decide.decide(shuffled) == result, "decide depends on the order of the world's maps"
        if self.check:
            check_order(result)
        before = dict(self.tickets)
        for action in result:
            self.apply(action)
        if self.check:
            self.check_invariants(before)
        return result

    def settle(self, max_rounds: int = 40) -> list[actions.Action]:
        """Decide until nothing more happens without outside change; that must come quickly."""
        everything: list[actions.Action] = []
        for _ in range(max_rounds):
            result = self.step()
            if not result:
                return everything
            everything.extend(result)
        raise AssertionError(f"decide did not settle in {max_rounds} rounds: {result}")

    def apply(self, action: actions.Action) -> None:
        match action:
            case actions.UpdateTicketStatus(ticket=ref, status=status):
                assert ref in self.tickets, f"status for unknown ticket {ref}"
                self.tickets[ref] = dataclasses.replace(self.tickets[ref], status=status)
            case actions.PushStation():
                self.push(action)
            case actions.SpawnTicket(parent=parent, name=name, track=track_name, snapshot=snap,
                                     created_at=created):
                ref = model.TicketRef(parent.namespace, name)
                assert ref not in self.tickets, f"spawned {name} twice"
                self.check_spawn(action)
                self.tickets[ref] = model.Ticket(parent.namespace, name, uid=f"uid-{name}", created=created,
                                                 track=track_name, snapshot=snap, parent=parent.name)
                self.spawned.append(action)
            case actions.SetTrackCondition(track=ref, condition=condition):
                spec = self.tracks[ref]
                conditions = (*(c for c in spec.conditions if c.type is not condition.type), condition)
                self.tracks[ref] = dataclasses.replace(spec, conditions=conditions)
            case actions.EmitEvent():
                self.events.append(action)
            case _:
                raise AssertionError(f"unknown action {action!r}")

    def push(self, action: actions.PushStation) -> None:
        pushed: list[model.PushedCommit] = []
        for ref in action.applications:
            owner, station_name, commit = self.heads.get(ref, (None, None, "0" * 40))
            if (owner, station_name) != (action.ticket, action.station):
                self.commits += 1
                commit = hashlib.sha1(f"commit-{self.commits}".encode()).hexdigest()
                self.heads[ref] = (action.ticket, action.station, commit)
            pushed.append(model.PushedCommit(ref, "file:///config.git", f"env/{ref.name}", commit))
        ticket = self.tickets[action.ticket]
        status = ticket.status
        if status.station != action.station or status.current is None:
            return  # the ticket moved on meanwhile: the controller drops the report
        record = status.current
        known = {p.app for p in record.pushed}
        merged = record.pushed + tuple(p for p in pushed if p.app not in known)
        record = dataclasses.replace(record, pushed=merged)
        status = dataclasses.replace(status, journey=(*status.journey[:-1], record))
        self.tickets[action.ticket] = dataclasses.replace(ticket, status=status)

    # -- invariants --

    def check_spawn(self, action: actions.SpawnTicket) -> None:
        parent = self.tickets[action.parent]
        junctions = [r for r in parent.status.journey
                     if r.arrived_at is not None
                     and action.track in self.stations[model.StationRef(NS, r.station)].tracks]
        assert junctions, f"{parent.name} spawned {action.name} without arriving at a junction"

    def check_invariants(self, before: dict[model.TicketRef, model.Ticket]) -> None:
        # never a lost ticket
        assert set(before) <= set(self.tickets), "a ticket disappeared"
        holders: dict[str, str] = {}
        for ticket in self.tickets.values():
            status = ticket.status
            if status.state.terminal:
                assert status.station is None, f"{ticket.name} is {status.state} but holds {status.station}"
            elif status.state in (model.TicketState.DEPLOYING, model.TicketState.SUSPENDED,
                                  model.TicketState.SOAKING):
                assert status.station is not None, f"{ticket.name} is {status.state} without a station"
            if status.station is not None and not status.state.terminal:
                # never two tickets at one Station (across Tracks)
                assert status.station not in holders, (
                    f"{ticket.name} and {holders[status.station]} both at {status.station}")
                holders[status.station] = ticket.name
                assert status.current is not None, f"{ticket.name}: station and journey disagree"
            old = before.get(ticket.ref)
            if old is not None:
                self.check_transition(old, ticket)
        # never a newer ticket ahead of an older one on a Track
        for spec in self.tracks.values():
            travelling = sorted(
                (t for t in self.tickets.values()
                 if t.track == spec.name and not t.status.state.terminal and t.status.station is not None
                 and t.status.station in spec.stations),
                key=lambda t: spec.stations.index(t.status.station or ""))
            keys = [t.order_key for t in travelling]
            assert keys == sorted(keys, reverse=True), (
                f"overtaking on {spec.name}: " + ", ".join(f"{t.name}@{t.status.station}" for t in travelling))

    def check_transition(self, old: model.Ticket, new: model.Ticket) -> None:
        was, now = old.status, new.status
        if was.state.terminal and was.state is not model.TicketState.FAILED:
            assert now.state is was.state, f"{new.name}: left terminal {was.state} for {now.state}"
        # the journey only grows; earlier visits are history
        assert len(now.journey) >= len(was.journey), f"{new.name}: journey shrank"
        for index, record in enumerate(now.journey):
            previous = was.journey[index] if index < len(was.journey) else None
            if record.healthy_since is None or (previous is not None
                                                and previous.healthy_since == record.healthy_since):
                continue
            # a ticket is never marked arrived unless every app was Synced+Healthy at its pushed commit
            spec = self.stations[model.StationRef(NS, record.station)]
            for ref in spec.active_applications:
                commit = record.pushed_commit(ref)
                assert arrived_by_definition(self.apps.get(ref), commit), (
                    f"{new.name} marked arrived at {record.station} but {ref} is {self.apps.get(ref)} "
                    f"(pushed {commit})")


STATUS_CHANGES = (actions.UpdateTicketStatus,)
DEFERRABLE = (actions.PushStation,)


def _key(action: actions.Action) -> object:
    return getattr(action, "ticket", None) or getattr(action, "parent", None) or getattr(action, "track", None)


def check_order(result: list[actions.Action]) -> None:
    """The actions contract: per ticket, status change, then its Events, then spawns, then the deferrable
    actions; an Event only ever comes with a status change of its ticket."""
    rank = {**dict.fromkeys(STATUS_CHANGES, 0), actions.EmitEvent: 1, actions.SpawnTicket: 2,
            **dict.fromkeys(DEFERRABLE, 3), actions.SetTrackCondition: -1}
    groups: dict[object, list[actions.Action]] = {}
    for action in result:
        groups.setdefault(_key(action), []).append(action)
    for group in groups.values():
        ranks = [rank[type(a)] for a in group]
        assert ranks == sorted(ranks), f"actions out of contract order: {group}"
        if any(isinstance(a, actions.EmitEvent) for a in group):
            assert any(isinstance(a, STATUS_CHANGES) for a in group), f"Event without its status change: {group}"


def _reversed(mapping: Mapping[K, V]) -> dict[K, V]:
    return dict(reversed(list(mapping.items())))
