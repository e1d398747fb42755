"""A tiny in-test simulator: applies decide's actions to a World the way the controller would, runs a
fake Argo CD written from Argo CD's documented behaviour, and checks the ticket invariants after every
applied decision.

Only the clock and Argo CD are fake here (pure-logic tests); the real adapters are tested on the real
stack elsewhere. The git "adapter" is idempotent like the real one: a push for the same ticket and
Station onto a branch whose head already carries them returns the head commit.

The fake Argo CD (``FakeApp`` plus the ``Sim`` methods ``refresh``, ``sync``, ``finish``, ``rollout``)
follows the documented behaviour (docs "Automated Sync Policy", controller/appcontroller.go
``autoSync``), not decide's arrival rule:

- a comparison (``refresh``: Argo CD's poll, a webhook or our hard refresh) reads the branch head,
  sets ``sync.revision`` to it, ``Synced`` when the live state equals the head's render (an unchanged
  render is Synced at once, no operation), ``reconciledAt`` to now, and health from the live resources;
- automated sync starts an operation only when the comparison says OutOfSync, no operation is
  running, and that revision was not attempted already: a failed attempt is never retried, the
  condition ``SyncError`` says "Failed last sync attempt to [<revision>]: <its message>"
  (``autoSync``, ``alreadyAttemptedSync``);
- a sync request through the API (``RequestSync``, ``request_sync``; server/application/application.go
  ``Sync`` and ``resolveSourceRevisions``) is refused while a deny sync window is active ("cannot sync:
  blocked by sync window", HTTP 403); while automated sync is on, one naming a revision other than the
  Application's ``targetRevision`` is refused ("Cannot sync to <revision>: auto-sync currently set to
  <targetRevision>", FailedPrecondition, HTTP 400), one naming none syncs the ``targetRevision``,
  resolved to the branch head at that moment; one while an operation runs is refused ("another
  operation is already in progress"). The reactor's memory of a refusal is ``AppStatus.sync_refused``
  (set on a refusal, cleared when a request is accepted), as ``reactor.execution`` keeps it;
- each sync is one operation with its own revision, ``startedAt`` and (once it ends) ``finishedAt``;
- a Succeeded operation applies the revision's render (the workloads then roll out: Progressing,
  then the outcome the test chose) and asks for a refresh, which is a separate step here so the
  tests see "Succeeded, not reconciled yet"; a Failed one changes nothing live;
- health is what the live resources say (``Suspended`` for a paused Rollout, ``Degraded``, ...), and
  Argo CD reports its changes without a new comparison (``reconciledAt`` stays);
- an edit of the Application's source (``repoint``: another ``targetRevision``) shows in its spec at
  once, and the controller compares again right away (a spec that differs from ``comparedTo`` needs
  a refresh, ``needRefreshAppStatus``): from then on the branch head it reads is the new branch's.

``truly_arrived`` is the ground truth the invariants check decide's arrivals against: the cluster
runs the pushed commit's render, no operation is running, and the workloads are Healthy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from k8sta_daemon.core import actions, codec, decide, drift, model, outcomes, scope, sources

from . import scope_reference

K = TypeVar("K")
V = TypeVar("V")

NS = "team"
REPO = "file:///config.git"
ARGO_NS = "argocd"
INITIAL = "0" * 40
H = model.HealthStatus


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
    """An Application Argo CD has synced to ``commit`` and judged Healthy at time ``t`` (for rule tables)."""
    return model.AppStatus(
        exists=True, sync_status=model.SyncStatus.SYNCED, synced_revision=commit,
        operation_phase=model.OperationPhase.SUCCEEDED, operation_revision=commit,
        operation_started_at=t - 1, operation_finished_at=t, reconciled_at=t,
        health=model.HealthStatus.HEALTHY, authorized_namespaces=NS)


@dataclass
class FakeApp:
    """One Application: what Argo CD reports (``status``) and what is true in the cluster."""

    status: model.AppStatus
    live_render: str  # the render the cluster runs (of the last Succeeded operation)
    target: str = ""  # spec.source.targetRevision: the app branch
    outcome: model.HealthStatus = H.HEALTHY  # where the workloads end up after a rollout
    attempted: str | None = None  # the revision of the last operation (automated sync's memory)
    pruned: bool | None = None  # whether the last operation K8sTA requested prunes
    window: bool = False  # a deny sync window is active (manual syncs included)

    @property
    def automated(self) -> bool:
        return bool(self.status.automated)


@dataclass
class Sim:
    tracks: dict[model.TrackRef, model.TrackSpec]
    stations: dict[model.StationRef, model.StationSpec]
    argo: dict[model.AppRef, FakeApp]
    now: float = 1_000_000.0
    tickets: dict[model.TicketRef, model.Ticket] = field(default_factory=dict)
    heads: dict[model.AppRef, tuple[model.TicketRef | None, str | None, str]] = field(default_factory=dict)
    renders: dict[str, str] = field(default_factory=lambda: {INITIAL: "initial"})
    static: frozenset[model.AppRef] = frozenset()  # Applications whose render ignores the snapshot
    events: list[actions.EmitEvent] = field(default_factory=list)
    spawned: list[actions.SpawnTicket] = field(default_factory=list)
    sync_requests: list[actions.RequestSync] = field(default_factory=list)
    counter: int = 0
    commits: int = 0
    fail_spawns: int = 0  # the next N child creations fail (API server unavailable)
    malformed: dict[model.TicketRef, tuple[model.Ticket, model.MalformedTicket]] = field(default_factory=dict)
    human: dict[model.AppRef, str] = field(default_factory=dict)  # branch heads a human pushed
    unseen: set[model.AppRef] = field(default_factory=set)  # hand edits the drift watcher has not seen yet
    k8sta_heads: dict[model.AppRef, str] = field(default_factory=dict)  # the newest K8sTA commit per branch
    repairs: list[actions.RepairDrift] = field(default_factory=list)
    rerendered: dict[model.AppRef, model.Rerendered] = field(default_factory=dict)  # heads K8sTA re-rendered
    branches: dict[tuple[model.AppRef, str], tuple[model.TicketRef | None, str | None, str]] = field(
        default_factory=dict)  # heads of branches an Application no longer points at
    check: bool = True
    index: scope.Index = field(default_factory=scope.Index)  # kept across steps, as the controller keeps it
    frozen: dict[str, str] = field(default_factory=dict)  # namespaces stopped by ``k8sta freeze``

    @classmethod
    def of(cls, tracks: list[model.TrackSpec], stations: list[model.StationSpec],
           manual: tuple[str, ...] = (), static: tuple[str, ...] = (), **kwargs: object) -> Sim:
        """Every Application starts Synced and Healthy at ``INITIAL``, following its branch ``env/<name>``;
        ``manual`` ones have no automated sync (and no prune), the others ``automated: {prune: true}``;
        ``static`` ones render the same whatever the snapshot (e.g. an image they do not use)."""
        argo = {a: FakeApp(dataclasses.replace(_initial_status(), automated=a.name not in manual,
                                               prune=a.name not in manual, repo_url=REPO,
                                               target_revision=f"env/{a.name}"), "initial", target=f"env/{a.name}")
                for s in stations for a in s.applications}
        sim = cls({t.ref: t for t in tracks}, {s.ref: s for s in stations}, argo,  # type: ignore[arg-type]
                  static=frozenset(app(n) for n in static), **kwargs)  # type: ignore[arg-type]
        for ref in argo:
            sim.heads[ref] = (None, None, INITIAL)
        return sim

    @property
    def apps(self) -> dict[model.AppRef, model.AppStatus]:
        return {ref: fake.status for ref, fake in self.argo.items()}

    # -- the world and its changes --

    def world(self) -> model.World:
        return model.World(now=self.now, tracks=dict(self.tracks), stations=dict(self.stations),
                           tickets=dict(self.tickets), apps=self.apps,
                           malformed={ref: broken for ref, (_, broken) in self.malformed.items()},
                           drift={ref: model.Drift(ref, f"env/{ref.name}", head) for ref, head in self.human.items()
                                  if ref not in self.unseen},
                           rerendered=dict(self.rerendered), frozen=dict(self.frozen))

    def rerender(self, ref: model.AppRef) -> str:
        """The intake re-renders the app branch for an overlay-only main commit: a new K8sTA commit with
        the head's trailers (same ticket, same Station, same pins) and a new render."""
        owner, station_name, head = self.heads[ref]
        assert owner is not None and station_name is not None, "only a K8sTA head is re-rendered"
        self.commits += 1
        commit = hashlib.sha1(f"rerender-{self.commits}".encode()).hexdigest()
        self.renders[commit] = f"{self.renders[head]}+overlay-{self.commits}"
        self.heads[ref] = (owner, station_name, commit)
        self.rerendered[ref] = model.Rerendered(ref, f"env/{ref.name}", commit, ticket=str(owner),
                                                station=station_name)
        return commit

    def hand_edit(self, ref: model.AppRef, seen: bool = True) -> str:
        """A human pushes a commit onto the app branch (a new render; the plugin refuses it). With
        ``seen`` False the drift watcher has not scanned since (its interval is not over)."""
        self.commits += 1
        commit = hashlib.sha1(f"human-{self.commits}".encode()).hexdigest()
        self.renders[commit] = f"human-{self.commits}"
        head = self.heads[ref][2]
        self.k8sta_heads.setdefault(ref, head)  # a second edit keeps the K8sTA commit under the first
        self.heads[ref] = (None, None, commit)
        self.human[ref] = commit
        if not seen:
            self.unseen.add(ref)
        self.rerendered.pop(ref, None)
        return commit

    def repoint(self, ref: model.AppRef, branch: str) -> None:
        """Someone edits the Application's ``targetRevision`` to ``branch`` (another app branch, with a
        render of its own); Argo CD compares against that branch at once."""
        old = self.argo[ref].status.target_revision or f"env/{ref.name}"
        self.branches[(ref, old)] = self.heads[ref]
        if (ref, branch) not in self.branches:
            self.commits += 1
            commit = hashlib.sha1(f"branch-{self.commits}".encode()).hexdigest()
            self.renders[commit] = f"branch-{branch}"
            self.branches[(ref, branch)] = (None, None, commit)
        self.heads[ref] = self.branches.pop((ref, branch))
        self.human.pop(ref, None)
        self.unseen.discard(ref)
        self.rerendered.pop(ref, None)
        self.k8sta_heads.pop(ref, None)
        self.argo[ref].target = branch  # what automated sync now follows (and accepts a sync of)
        self._report(ref, target_revision=branch)
        self.refresh(ref)

    def corrupt(self, name: str) -> None:
        """Someone writes a spec the decoder rejects: the object stays, decide sees a MalformedTicket."""
        ticket = self.tickets.pop(model.TicketRef(NS, name))
        station = ticket.status.station if not ticket.status.state.terminal else None
        self.malformed[ticket.ref] = (ticket, model.MalformedTicket(
            NS, name, f"Ticket {NS}/{name}: spec.snapshot.images[0].tag: is required", station,
            ticket.status.conditions))

    def uncorrupt(self, name: str) -> None:
        """The spec is fixed; the status is what it was, plus the conditions decide set meanwhile."""
        ticket, broken = self.malformed.pop(model.TicketRef(NS, name))
        self.tickets[ticket.ref] = dataclasses.replace(
            ticket, status=dataclasses.replace(ticket.status, conditions=broken.conditions))

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

    def hold(self, track_name: str, reason: str, ticket: str | None = None) -> None:
        """``k8sta hold`` (``ticket`` None) or the hold ``k8sta rollback`` places, naming its ticket."""
        ref = model.TrackRef(NS, track_name)
        self.tracks[ref] = dataclasses.replace(self.tracks[ref], hold=reason, hold_ticket=ticket)

    def resume(self, track_name: str) -> None:
        self.hold(track_name, None, None)  # type: ignore[arg-type]

    def pushed(self, name: str, app_name: str) -> str | None:
        """The commit pushed for the ticket at its current Station for that Application."""
        status = self.ticket(name).status
        return status.journey[-1].pushed_commit(app(app_name)) if status.journey else None

    # -- the fake Argo CD (see the module docstring) --

    def _report(self, ref: model.AppRef, **changes: object) -> None:
        fake = self.argo[ref]
        fake.status = dataclasses.replace(fake.status, **changes)  # type: ignore[arg-type]

    def refresh(self, ref: model.AppRef) -> None:
        """A comparison against the branch head, then automated sync if it applies."""
        fake = self.argo[ref]
        head = self.heads[ref][2]
        synced = fake.live_render == self.renders[head]
        self._report(ref, sync_status=model.SyncStatus.SYNCED if synced else model.SyncStatus.OUT_OF_SYNC,
                     synced_revision=head, reconciled_at=self.now, conditions=())
        if fake.automated and not synced and not fake.status.operation_running and not fake.window:
            if fake.attempted == head:
                if fake.status.operation_phase is not model.OperationPhase.SUCCEEDED:
                    self._report(ref, conditions=(model.AppCondition(
                        "SyncError", f"Failed last sync attempt to [{head}]: {fake.status.operation_message}"),))
                return
            self.sync(ref, head)

    def request_sync(self, action: actions.RequestSync) -> str | None:
        """A sync request through Argo CD's API (see the module docstring); returns its refusal, if any,
        which the reactor remembers (``sync_refused``) until a request is accepted."""
        fake = self.argo[action.app]
        revision = action.revision if action.pin else None
        refused = None
        if fake.window:
            refused = "HTTP 403: cannot sync: blocked by sync window"
        elif fake.automated and revision not in (None, fake.target):
            refused = f"HTTP 400: Cannot sync to {revision}: auto-sync currently set to {fake.target}"
        elif fake.status.operation_running:
            refused = "HTTP 400: another operation is already in progress"
        if refused is not None:
            self._report(action.app, sync_refused=model.SyncRefusal(action.revision, refused))
            return refused
        self._report(action.app, sync_refused=None)
        self.sync(action.app, revision or self.heads[action.app][2])  # the target, resolved now
        fake.pruned = action.prune
        return None

    def sync_window(self, ref: model.AppRef, active: bool) -> None:
        """A deny sync window (``manualSync: false``) starts or ends: no sync starts while it is active."""
        self.argo[ref].window = active

    def sync(self, ref: model.AppRef, revision: str) -> bool:
        """Start one operation for ``revision``; refused while another one runs."""
        fake = self.argo[ref]
        if fake.status.operation_running:
            return False
        fake.attempted = revision
        self._report(ref, operation_phase=model.OperationPhase.RUNNING, operation_revision=revision,
                     operation_started_at=self.now, operation_finished_at=None, operation_message="")
        return True

    def finish(self, ref: model.AppRef, ok: bool = True) -> None:
        """The running operation ends; a Succeeded one applies its revision's render."""
        fake = self.argo[ref]
        if not fake.status.operation_running:
            return
        if not ok:
            self._report(ref, operation_phase=model.OperationPhase.FAILED, operation_finished_at=self.now,
                         operation_message="one or more objects failed to apply")
            return
        render = self.renders[fake.status.operation_revision or INITIAL]
        if render != fake.live_render:
            fake.live_render = render
            self._report(ref, health=H.PROGRESSING)
        self._report(ref, operation_phase=model.OperationPhase.SUCCEEDED, operation_finished_at=self.now,
                     operation_message="successfully synced (all tasks run)")

    def rollout(self, ref: model.AppRef) -> None:
        """The workloads finish rolling out and reach their outcome (reported without a comparison)."""
        if self.argo[ref].status.health is H.PROGRESSING:
            self._report(ref, health=self.argo[ref].outcome)

    def set_health(self, ref: model.AppRef, health: model.HealthStatus) -> None:
        """The live resources change health (a crash, a paused Rollout, a recovery)."""
        self._report(ref, health=health)

    def comparison_error(self, ref: model.AppRef, message: str) -> None:
        """Argo CD cannot render the head (e.g. the plugin refuses the branch): sync Unknown."""
        self._report(ref, sync_status=model.SyncStatus.UNKNOWN, reconciled_at=self.now,
                     conditions=(model.AppCondition("ComparisonError", message),))

    def argo_converge(self, health: model.HealthStatus = H.HEALTHY) -> None:
        """Argo CD does everything it would do on its own (compare, auto-sync, finish, roll out,
        compare again) and the workloads end up ``health``; manual syncs stay decide's to request."""
        for ref, fake in self.argo.items():
            fake.outcome = health
            self.refresh(ref)
            self.finish(ref)
            self.rollout(ref)
            if not fake.status.operation_running:
                self.set_health(ref, health)
            self.refresh(ref)

    def truly_arrived(self, ref: model.AppRef, commit: str | None) -> bool:
        fake = self.argo.get(ref)
        return (fake is not None and commit is not None and fake.live_render == self.renders.get(commit)
                and not fake.status.operation_running and fake.status.health is H.HEALTHY)

    # -- deciding and applying --

    def step(self) -> list[actions.Action]:
        """One decision: decide, check determinism, apply, check invariants."""
        world = self.world()
        result = decide.decide(world)
        if self.check:
            assert decide.decide(world) == result, "decide is not deterministic"
            shuffled = model.World(now=world.now, tracks=_reversed(world.tracks),
                                   stations=_reversed(world.stations), tickets=_reversed(world.tickets),
                                   apps=_reversed(world.apps), malformed=_reversed(world.malformed),
                                   drift=_reversed(world.drift), rerendered=_reversed(world.rerendered),
                                   frozen=world.frozen)
            assert decide.decide(shuffled) == result, "decide depends on the order of the world's maps"
        if self.check:
            check_order(result)
            check_scope(world, result)
            check_index(self.index, world)
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
            case actions.SpawnTicket(parent=parent, name=name, track=track_name, snapshot=snap):
                ref = model.TicketRef(parent.namespace, name)
                if self.fail_spawns:
                    self.fail_spawns -= 1
                    return
                assert ref not in self.tickets, f"spawned {name} twice"
                self.check_spawn(action)
                self.tickets[ref] = self.served(action)
                assert (self.tickets[ref].track, self.tickets[ref].snapshot) == (track_name, snap)
                self.spawned.append(action)
            case actions.SetTrackCondition(track=ref, condition=condition):
                spec = self.tracks[ref]
                conditions = (*(c for c in spec.conditions if c.type is not condition.type), condition)
                self.tracks[ref] = dataclasses.replace(spec, conditions=conditions)
            case actions.SetTicketCondition(ticket=ref, condition=condition):
                ticket, broken = self.malformed[ref]
                kept = tuple(c for c in broken.conditions if c.type is not condition.type)
                if condition.status is model.ConditionStatus.TRUE:
                    kept = (*kept, condition)
                self.malformed[ref] = (ticket, dataclasses.replace(broken, conditions=kept))
            case actions.RepairDrift():
                self.repair(action)
            case actions.EmitEvent():
                self.events.append(action)
            case actions.RequestSync():
                self.sync_requests.append(action)
                if self.check:
                    fake = self.argo[action.app]
                    assert not (fake.automated and action.pin), (
                        f"{action.ticket} asked for an explicit revision of {action.app} while automated sync "
                        f"is on: Argo CD refuses it ({action})")
                    assert action.prune == fake.status.prune, f"prune is not the Application's policy: {action}"
                self.request_sync(action)  # refused while another runs: decide asks again
            case _:
                raise AssertionError(f"unknown action {action!r}")

    def push(self, action: actions.PushStation) -> None:
        """The git adapter and the push unit: a head that is not K8sTA's is judged by the core's rule
        (``drift.push_base``), and the result is recorded as ``outcomes.follow_up`` says."""
        pushed: list[model.PushedCommit] = []
        edits: list[model.Drift] = []
        for ref in action.applications:
            owner, station_name, commit = self.heads.get(ref, (None, None, "0" * 40))
            if (owner, station_name) != (action.ticket, action.station):
                if ref in self.human:  # a hand edit: what does the core say about building on it?
                    where = self.argo[ref].status.target_revision or f"env/{ref.name}"
                    source = sources.AppSource(ref, REPO, where, where, "main")
                    base = drift.push_base(source, commit, None, None, None, self.k8sta_heads.get(ref, INITIAL))
                    if base.hand_edit is not None:
                        edits.append(base.hand_edit)
                self.human.pop(ref, None)  # a K8sTA push on top ends a drift
                self.unseen.discard(ref)
                self.rerendered.pop(ref, None)  # and makes the head a promotion again
                self.k8sta_heads.pop(ref, None)
                self.commits += 1
                commit = hashlib.sha1(f"commit-{self.commits}".encode()).hexdigest()
                self.heads[ref] = (action.ticket, action.station, commit)
                snap = action.snapshot
                render = self.renders[INITIAL] if ref in self.static else f"{snap.config_commit}/{snap.images}"
                self.renders[commit] = render
            branch = self.argo[ref].status.target_revision if ref in self.argo else None
            pushed.append(model.PushedCommit(ref, REPO, branch or f"env/{ref.name}", commit))
        outcome = outcomes.Pushed(tuple(pushed), hand_edits=tuple(edits))
        for step in outcomes.follow_up(self.tickets[action.ticket], action, outcome):
            self.apply(step)

    def repair(self, action: actions.RepairDrift) -> None:
        """K8sTA's content restored on top of the human commit, only if that is still the head."""
        self.repairs.append(action)
        ref = action.app
        if self.heads[ref][2] != action.head:
            return
        restore = action.restore or self.k8sta_heads.get(ref, INITIAL)
        self.commits += 1
        commit = hashlib.sha1(f"repair-{self.commits}".encode()).hexdigest()
        self.renders[commit] = self.renders[restore]
        owner = action.ticket
        self.heads[ref] = (owner, action.station if owner else None, commit)
        del self.human[ref]
        self.unseen.discard(ref)
        self.rerendered.pop(ref, None)
        self.k8sta_heads.pop(ref, None)
        if owner is None or owner not in self.tickets:
            return
        ticket = self.tickets[owner]
        record = ticket.status.current
        if record is None or record.station != action.station:
            return
        pushed = tuple(dataclasses.replace(p, commit=commit) if p.app == ref else p for p in record.pushed)
        status = dataclasses.replace(ticket.status, journey=(*ticket.status.journey[:-1],
                                                             dataclasses.replace(record, pushed=pushed)))
        self.tickets[owner] = dataclasses.replace(ticket, status=status)

    # -- invariants --

    def served(self, action: actions.SpawnTicket) -> model.Ticket:
        """The child as the API server serves it back: the unit's manifest (``created_at`` in its
        annotation) with the server's 1-second ``creationTimestamp`` of now, read by the codec."""
        body = codec.child_ticket_body(action, None)
        body["metadata"].update(uid=f"uid-{action.name}", creationTimestamp=codec.format_time(math.floor(self.now)))
        return codec.ticket_from_dict(body)

    def check_spawn(self, action: actions.SpawnTicket) -> None:
        parent = self.tickets[action.parent]
        junctions = [r for r in parent.status.journey
                     if r.arrived_at is not None
                     and action.track in self.stations[model.StationRef(NS, r.station)].tracks]
        assert junctions, f"{parent.name} spawned {action.name} without arriving at a junction"

    def check_invariants(self, before: dict[model.TicketRef, model.Ticket]) -> None:
        # never a lost ticket
        assert set(before) <= set(self.tickets), "a ticket disappeared"
        holders: dict[str, str] = {broken.station: ref.name for ref, (_, broken) in self.malformed.items()
                                   if broken.station is not None}
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
        # a junction child's place is no later than its parent's departure from the junction (the next
        # parent gets there only after that), however late the child was created
        for ticket in self.tickets.values():
            parent = self.tickets.get(model.TicketRef(NS, ticket.parent)) if ticket.parent else None
            departures = [r.departed_at for r in parent.status.journey if r.departed_at is not None
                          and (spec := self.stations.get(model.StationRef(NS, r.station))) is not None
                          and ticket.track in spec.tracks] if parent is not None else []
            if departures and ticket.name in parent.status.children:  # type: ignore[union-attr]
                assert ticket.created <= departures[-1], (
                    f"{ticket.name} created at {ticket.created}, after its parent departed at {departures[-1]}")
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
        # on a held Track nothing boards but the hold's own ticket (a rollback's)
        spec = self.tracks.get(new.track_ref)
        if not was.boarded and now.boarded and spec is not None and spec.hold is not None:
            assert new.name == spec.hold_ticket, f"{new.name} boarded track {spec.name} held ({spec.hold})"
        # the journey only grows; earlier visits are history
        assert len(now.journey) >= len(was.journey), f"{new.name}: journey shrank"
        for index, record in enumerate(now.journey):
            previous = was.journey[index] if index < len(was.journey) else None
            if record.healthy_since is None or (previous is not None
                                                and previous.healthy_since == record.healthy_since):
                continue
            # a ticket is never marked arrived unless every app truly runs its pushed commit, Healthy
            spec = self.stations[model.StationRef(NS, record.station)]
            for ref in spec.active_applications:
                commit = record.pushed_commit(ref)
                assert self.truly_arrived(ref, commit), (
                    f"{new.name} marked arrived at {record.station} but {ref} is {self.argo.get(ref)} "
                    f"(pushed {commit}, render {self.renders.get(commit or '')})")


STATUS_CHANGES = (actions.UpdateTicketStatus, actions.SetTicketCondition)
DEFERRABLE = (actions.PushStation, actions.RequestSync, actions.RepairDrift)


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


def _initial_status() -> model.AppStatus:
    return model.AppStatus(exists=True, sync_status=model.SyncStatus.SYNCED, synced_revision=INITIAL,
                           reconciled_at=0.0, health=H.HEALTHY, authorized_namespaces=NS)


def _reversed(mapping: Mapping[K, V]) -> dict[K, V]:
    return dict(reversed(list(mapping.items())))


def track_of(action: actions.Action, world: model.World) -> model.TrackRef:
    """The Track an action is about (its ticket's, its parent's, or its own)."""
    if isinstance(action, actions.SetTrackCondition):
        return action.track
    ref = action.parent if isinstance(action, actions.SpawnTicket) else getattr(action, "ticket", None)
    assert isinstance(ref, model.TicketRef), f"{action} names no ticket"
    return world.tickets[ref].track_ref


def check_scope(world: model.World, result: list[actions.Action]) -> None:
    """Deciding each component of coupled Tracks alone (``core.scope``) gives exactly the whole
    decision's actions about its Tracks, in the same order."""
    if scope_reference.restrict(world, frozenset(world.tracks)) is None:
        return  # malformed tickets or drift: never restricted
    coupling = scope_reference.Coupling.of(world)
    components: dict[object, set[model.TrackRef]] = {}
    for ref in {*world.tracks, *(t.track_ref for t in world.tickets.values())}:
        components.setdefault(coupling.component(ref), set()).add(ref)
    covered = 0
    for members in components.values():
        part = coupling.tracks_with(members)
        assert part == members
        sub = scope_reference.restrict(world, part)
        assert sub is not None
        expected = [a for a in result if track_of(a, world) in part]
        assert decide.decide(sub) == expected, f"deciding {sorted(t.name for t in part)} alone differs"
        covered += len(expected)
    assert covered == len(result), "an action about no Track"


def check_index(index: scope.Index, world: model.World) -> None:
    """The Index updated with only what changed since the previous step (as the controller updates it)
    holds the World, finds the same components as ``Coupling.of`` and cuts the same sub-Worlds."""
    for put, held, now in ((index.put_track, index.tracks, world.tracks),
                           (index.put_station, index.stations, world.stations),
                           (index.put_ticket, index.tickets, world.tickets)):
        for ref in {*held, *now}:
            if held.get(ref) != now.get(ref):
                put(ref, now.get(ref))  # type: ignore[operator]
    assert (index.tracks, index.stations, index.tickets) == (world.tracks, world.stations, world.tickets)
    coupling = scope_reference.Coupling.of(world)
    nodes = {*world.tracks, *world.stations, *(t.track_ref for t in world.tickets.values())}
    for node in nodes:
        assert index.tracks_with([node]) == coupling.tracks_with([node]), f"component of {node} differs"
    if scope_reference.restrict(world, frozenset(world.tracks)) is None:
        return
    for node in nodes:
        part = coupling.tracks_with([node])
        assert index.restrict(part, world.now, world.apps, world.rerendered, world.frozen) == \
            scope_reference.restrict(world, part)
