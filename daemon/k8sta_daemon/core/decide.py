"""The decision function: ``decide(world) -> list[Action]``, every rule of DESIGN.md section 4.

Caller: the controller loop, on every relevant watch event (level-triggered). Pure: no I/O, no clock
(``world.now`` is the time), no globals; the same World always yields the same actions, in the same
order. Persistent memory lives only in the Ticket statuses it writes (journey records carry the
arrival, soak and degradation clocks), so a restarted daemon continues where it stopped.

State machine of a ticket (``model.TicketState``)::

    Waiting ──board──> Deploying ──all apps Synced@ours+Healthy──> Soaking ──soak over──> (depart)
       │  └─approval needed─> AwaitingApproval      │  ^     │ any app Suspended: Suspended
       │                                           │  └─────┘ health lost: soak restarts
       └─a newer ticket boarded──> Superseded       │ sync failed / Degraded past grace / timeout
    (depart) = next free & approved Station: Deploying there; next needs approval: AwaitingApproval;
               next occupied: Waiting (still holding this Station); no next Station: Completed
    any non-terminal ──spec.abandon──> Abandoned;   Failed ──spec.retry bumped, no overtaking──> Deploying

Rules, in the words of the tests (tests/daemon/test_decide.py):
- Occupancy: a Station (namespace/name, across all Tracks) holds at most one ticket. A ticket moves
  from position i to the next enabled Station j only if no other ticket of its Track is at a position
  in (i, j] and no ticket holds j; it keeps Station i until it enters j. So nobody passes anybody.
- Shared Stations: when tickets of several Tracks would enter one Station in a pass (approved, not
  overtaking their own Track, only occupancy in the way), the one that has waited longest enters,
  whatever the Tracks are called; the others wait ("ticket X of track T has waited longer"), even
  while the Station stays free for the rest of the pass. Waiting counts from the end of the soak at
  the Station a ticket would leave (``healthy_since + soak_seconds``, its entry at a Station disabled
  under it), before boarding from the creation of its Track's oldest ticket still waiting to board
  (a newer ticket superseding it keeps the Track's place), and for a retry from the failure. All of
  these are in the statuses, so a restarted daemon keeps the order. The pass decides Tracks in name
  order; when that let a later waiter in, it is decided again with the Station promised to the
  longest waiter (``_Decision.promises``).
- Boarding: tickets wait before the first enabled Station; when it is free the newest waiting ticket
  boards (``NEWEST_SUPERSEDES``) or the oldest (``EVERY_TICKET_RIDES``). A waiting ticket older than
  any ticket that has boarded the Track is Superseded (so a late, older ticket never rides behind).
- Holds (``TrackSpec.hold``, set by ``k8sta hold`` and ``k8sta rollback``): on a held Track nothing
  boards except the hold's own ticket (``hold_ticket``, a rollback's), whatever created the others:
  intake, a junction, the CLI. They wait before boarding with a message naming the hold; since they do
  not board, a newer one never supersedes the rollback. Tickets already on the Track keep moving.
  Nothing is lost: once the hold is lifted the newest waiting ticket boards (the usual boarding rule).
- Arrival (``arrival.judge_app``): for every enabled Application: it exists, Synced at our pushed commit, no
  operation running, any operation for our commit since the visit began Succeeded and finished,
  reconciled at/after the visit began and after that operation, health Healthy. Whether an
  operation exists at all does not matter (automated sync starts none when the render did not
  change). Health is never judged before that reconciliation. Messages name the commit an operation
  was really for and carry Argo CD's error conditions (ComparisonError, SyncError).
- Sync requests (``arrival.sync_to_request``): ``RequestSync`` on every pass while an Application is not
  Synced at our commit, nothing runs, no operation for our commit started in this visit, and either it
  has no automated sync (our commit, pinned) or automated sync already attempted our commit before this
  visit (it never retries; Argo CD refuses a pinned revision while automated sync is on, so the request
  names none, once Argo CD resolved the target to our commit). Prune as the Application's own policy.
  Argo CD's refusal of such a request is in the ticket's message, with a Warning Event when new.
- Suspended (at our reconciled revision): state Suspended, the ticket waits.
- Failure (ticket Failed, Station vacated): an operation for our commit in this visit Failed/Error;
  an Application Degraded at our revision for ``degraded_grace_seconds`` (0 = at once); not arrived
  within ``timeout_seconds`` of entry, or, after arriving, not arrived again within
  ``timeout_seconds`` of losing it (``arrival_lost_at``; time spent Suspended counts).
- Soak: the ticket departs only while arrived and after ``soak_seconds`` of continuous arrival
  (``healthy_since``). Losing arrival restarts the soak; Degraded fails it after the grace.
- Approval: entering a Station with ``approval_required`` needs its name in ``approved_stations``;
  until then AwaitingApproval (holding the previous Station, or before boarding). An operator retry
  re-enters the failed Station without asking again.
- Disabled Stations are passed (a Skipped journey record); disabled Applications are neither pushed
  nor judged (recorded in ``skipped_applications``). A ticket whose Station is disabled while it is
  there departs without judging and without spawning. If every Station is disabled, nobody boards.
- Junctions: when a ticket is ready to depart a junction Station (arrived and soaked), it records
  one child per junction Track (name: ``child_ticket_name``) in ``status.children``, in the same
  status write that departs; then every recorded child that does not exist is created
  (``SpawnTicket``), on every pass, until it exists, also for a parent that has since completed, with
  the parent's departure as its creation time (a child created late keeps its place on its Track). A
  child seen to exist is added to ``status.spawned``; a spawned child that later disappears was
  deleted by a human on purpose and is not created again. (A child deleted before the parent ever
  saw it, within one pass, is created again once.)
- Opt-in (``authorization``): a Track any of whose enabled Stations names an Application whose
  ``k8sta.io/authorized-namespaces`` annotation does not list the Station's namespace gets
  ``Ready=False`` (``ApplicationNotAuthorized``, naming the Application and the annotation to add) and
  its tickets ``Blocked``: nothing is pushed, synced, repaired or announced on that Application. An
  unheld drifted branch of such an Application is not repaired either.
- Cycles and unknown references: the Track gets ``Ready=False`` and its tickets ``Blocked``; none
  of them moves (abandon still works). A disabled Track likewise. So does every Track listing a
  Station that names an Application another listed Station names (``ApplicationShared``): occupancy
  is per Station, and an Application has one app branch that two tickets would push at once (why
  this is refused rather than counted per Application: ``graph``'s module docstring).
- Retry: a Failed ticket whose ``retry_count`` exceeds ``observed_retry`` re-enters the Station it
  failed at (a new visit: its ``entered_at`` is the retry time, so the operation or verdict that
  failed it is history and only what Argo CD does after the retry is judged), unless a newer
  ticket already entered that Station or a later one (refused: create a new ticket instead); if
  the Station is held it waits.
- Freeze windows and stop-the-line (``core.windows``): entering a Station (boarding, departing, a
  retry) also needs the namespace not frozen (``World.frozen``, ``k8sta freeze``) and the windows of
  the Station and of the Track open at ``world.now``; otherwise the ticket waits where it is, its
  message saying why and until when, with a ``Frozen``/``WindowClosed`` Event once per change. A
  ticket with a window pass (``Ticket.window_pass``) goes through windows (a ``WindowPassed``
  Event), never through a freeze. Tickets at a Station keep being judged; intake keeps creating
  tickets (nothing is lost: once open, boarding follows the Track's rule).
- Track edits mid-journey: a Station is never skipped in silence. When a ticket is ready to depart
  and an enabled Station before its current one on the (edited) Track has no journey record (a
  reorder such as (d1, d2, d3) -> (d1, d3, d2) while at d2, or a Station inserted behind it), the
  ticket fails with a message naming those Stations; a new ticket deploys them. Stations after the
  current one are visited in the new order; a removed current Station blocks (``StationOffTrack``).
- Malformed Tickets (``world.malformed``: objects the decoder rejects) still exist: one whose status
  names a Station keeps it, so nobody enters it ("held by ticket X, which cannot be read (...)").
  It gets a ``Malformed`` condition naming the field and a Warning Event, once per change (only when
  the observed condition differs); once it reads again the condition is removed.
- Drift (``world.drift``, from the git adapter: an app branch head that is not K8sTA's commit): at a
  held Station the visit records it (``JourneyRecord.drift``, Warning Events on the ticket and the
  Application, once per new head), the Application counts as not arrived, and with the Station's
  ``self_heal`` (default on) ``RepairDrift`` restores the visit's commit on top of the human one,
  re-emitted until the drift is gone; the timeout clock runs as usual (a lost arrival restarts it).
  With ``self_heal`` off the ticket waits (message says why) and fails at its timeout. A drifted
  branch of a Station nobody holds is repaired to the commit a ticket's status last recorded for it
  (``Drift.restore``; the newest K8sTA commit when none is recorded; ``ticket`` None).
- Hand edits at push time: a push never fails because the branch head is a hand edit (no K8sTA
  trailers, ``.k8sta/`` deleted or ``metadata.yaml`` rewritten included) over a branch K8sTA wrote:
  ``core.drift.push_base`` (the same rule as the drift watcher's ``judge_head``) lets it land on top
  of the human commit, and ``outcomes.follow_up`` records the hand edit in the visit's ``drift``
  with the same Warning Events a repair gives. Only a branch K8sTA never wrote is refused.
- Re-pointed Applications: when an Application's K8sTA source (``AppStatus.repo_url`` and
  ``target_revision``) no longer names the repository and branch the visit pushed to, the visit
  pushes again (``PushStation``, message names old and new) and is judged against the new commit;
  the soak restarts and the timeout counts from then (an invalid new target fails the push, saying
  why; one never pushed fails at the timeout, naming it).
- Multi-source Applications (``spec.sources``): the one source using the k8sta plugin is K8sTA's
  (``sources.k8sta_source``); its revision is read at its position and ``RequestSync`` names that
  position (``source_position``). Two k8sta sources, or several and none k8sta's, fail the push
  with a message saying which.
- Re-renders (``world.rerendered``: a head that is K8sTA's overlay-only re-render, naming the visit it
  re-rendered): that visit adopts the head as its commit for the Application (a ``ReRendered`` Event)
  and is judged against it, so an overlay edit during a visit is deployed and awaited, never reverted.
- A non-terminal status that contradicts itself (boarded but holding no Station, or holding a
  Station its last journey record is not about) fails the ticket, so a human can look and retry.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from k8sta_daemon.core import actions, authorization, graph, model, windows
from k8sta_daemon.core.arrival import AppVerdict, judge_app, refusal, short, sync_to_request

MAX_NAME_LENGTH = 63


def decide(world: model.World) -> list[actions.Action]:
    """Everything that should happen now, given what is observed. See the module docstring."""
    verdicts = authorization.restrict(graph.check_tracks(world.tracks, world.stations), world)
    result: list[actions.Action] = []
    for ref, verdict in verdicts.items():
        condition = verdict.condition()
        current = _find_condition(world.tracks[ref].conditions, model.ConditionType.READY)
        if current != condition:
            result.append(actions.SetTrackCondition(ref, _stamp(condition, current, world.now)))
    decision = _Decision(world, verdicts).run()
    promised = decision.promises()
    if decision.broke(promised):  # a shared Station went to a later waiter: decide again, keeping it for the first
        decision = _Decision(world, verdicts, promised).run()
    result.extend(decision.actions())
    return result


def child_ticket_name(parent: str, track: str) -> str:
    """Deterministic child name: ``<parent>-<track>``, shortened with a hash beyond 63 chars."""
    name = f"{parent}-{track}"
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256(f"{parent}/{track}".encode()).hexdigest()[:10]
    return f"{name[:MAX_NAME_LENGTH - 11].rstrip('-.')}-{digest}"


# -- the decision pass --------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class _Claim:
    """A ticket that would enter a Station now if nobody held it: it has waited since ``since``.

    Sorted, the first claim is the longest waiter (ties: the older ticket, then the name)."""

    since: float
    created: float
    ticket: model.TicketRef
    track: model.TrackRef


@dataclass
class _Outcome:
    """What one ticket's evaluation produced, kept in the order the actions contract wants."""

    pushes: list[actions.PushStation] = field(default_factory=list)
    syncs: list[actions.RequestSync] = field(default_factory=list)
    repairs: list[actions.RepairDrift] = field(default_factory=list)
    spawns: list[actions.SpawnTicket] = field(default_factory=list)
    events: list[actions.EmitEvent] = field(default_factory=list)


class _Decision:
    """One pass over all tickets with a working copy of statuses and Station holders, so that two
    tickets never take the same Station within one decision."""

    def __init__(self, world: model.World, verdicts: dict[model.TrackRef, graph.TrackVerdict],
                 promised: Mapping[model.StationRef, _Claim] | None = None) -> None:
        self.world = world
        self.now = world.now
        self.verdicts = verdicts
        self.promised: Mapping[model.StationRef, _Claim] = promised or {}
        self.claims: dict[model.StationRef, list[_Claim]] = {}  # who wants to enter a Station in this pass
        self.entered: dict[model.StationRef, model.TicketRef] = {}  # who entered a Station in this pass
        self.statuses: dict[model.TicketRef, model.TicketStatus] = {
            ref: t.status for ref, t in world.tickets.items()}
        self.outcomes: dict[model.TicketRef, _Outcome] = {}
        self.order: list[model.TicketRef] = []
        self.holders: dict[model.StationRef, model.TicketRef] = {}
        self.by_track: dict[model.TrackRef, list[model.Ticket]] = {}
        for ref in sorted(world.tickets):
            ticket = world.tickets[ref]
            self.by_track.setdefault(ticket.track_ref, []).append(ticket)
            if not ticket.status.state.terminal and ticket.status.station is not None:
                self.holders.setdefault(model.StationRef(ticket.namespace, ticket.status.station), ref)
        for ref in sorted(world.malformed):
            broken = world.malformed[ref]
            if broken.station is not None and ref not in world.tickets:
                self.holders.setdefault(model.StationRef(ref.namespace, broken.station), ref)
        for tickets in self.by_track.values():
            tickets.sort(key=lambda t: t.order_key)
        self.names = {(t.namespace, t.name) for t in world.tickets.values()} | {
            (ref.namespace, ref.name) for ref in world.malformed}
        self.extra: list[actions.Action] = []  # for objects that are not readable Tickets
        self.passed: dict[model.TicketRef, str] = {}  # went through a closed window by an operator's pass
        self.window_memo: windows.Memo = {}  # each set of windows evaluated once per moment in this pass

    def run(self) -> _Decision:
        """The pass, in its order: each Track (alphabetically; see ``promises`` for why the order
        does not matter at a shared Station), then junction children, malformed tickets, and drift
        of branches nobody deploys."""
        for track_ref in sorted({t.track_ref for t in self.world.tickets.values()}):
            self.run_track(track_ref)
        for ref in sorted(self.world.tickets):
            self.ensure_children(self.world.tickets[ref])
        self.report_malformed()
        self.repair_unheld_drift()
        return self

    # -- a shared Station: the longest waiter enters first --

    def promises(self) -> dict[model.StationRef, _Claim]:
        """For each Station tickets of several Tracks wanted to enter in this pass, the longest waiter.

        Tracks are decided one after the other, so without this the Track decided first would take
        a Station freed in the pass (or already free) ahead of an older waiter of a Track decided
        later, and a busy Track could starve another."""
        return {ref: min(claims) for ref, claims in sorted(self.claims.items())
                if len({c.track for c in claims}) > 1}

    def broke(self, promised: Mapping[model.StationRef, _Claim]) -> bool:
        """Someone other than the longest waiter entered a contested Station in this pass."""
        return any(self.entered.get(ref, claim.ticket) != claim.ticket for ref, claim in promised.items())

    def claim(self, ticket: model.Ticket, station: model.StationSpec, since: float) -> None:
        self.claims.setdefault(station.ref, []).append(_Claim(since, ticket.created, ticket.ref, ticket.track_ref))

    # -- bookkeeping --

    def outcome(self, ticket: model.Ticket) -> _Outcome:
        if ticket.ref not in self.outcomes:
            self.outcomes[ticket.ref] = _Outcome()
            self.order.append(ticket.ref)
        return self.outcomes[ticket.ref]

    def event(self, ticket: model.Ticket, reason: actions.EventReason, message: str,
              app: model.AppRef | None = None, warning: bool = False) -> None:
        kind = actions.EventType.WARNING if warning else actions.EventType.NORMAL
        self.outcome(ticket).events.append(actions.EmitEvent(ticket.ref, app, kind, reason, message))

    def set(self, ticket: model.Ticket, status: model.TicketStatus) -> None:
        """Record a new status and keep the Station holders in step with it."""
        old = self.statuses[ticket.ref]
        if old.station is not None and not old.state.terminal:
            held = model.StationRef(ticket.namespace, old.station)
            if self.holders.get(held) == ticket.ref:
                del self.holders[held]
        if status.station is not None and not status.state.terminal:
            self.holders[model.StationRef(ticket.namespace, status.station)] = ticket.ref
        self.statuses[ticket.ref] = status
        self.outcome(ticket)

    def report_malformed(self) -> None:
        """A Ticket the decoder rejects keeps its Station (see ``__init__``) and says why, once per
        change: a Malformed condition naming the field, and a Warning Event with it."""
        for ref in sorted(self.world.malformed):
            broken = self.world.malformed[ref]
            if ref in self.world.tickets:
                continue
            holds = f"; it keeps station {broken.station} until fixed or deleted" if broken.station else ""
            condition = model.Condition(model.ConditionType.MALFORMED, model.ConditionStatus.TRUE,
                                        model.ConditionReason.INVALID_SPEC, broken.error)
            current = _find_condition(broken.conditions, model.ConditionType.MALFORMED)
            if current == condition:
                continue
            self.extra.append(actions.SetTicketCondition(ref, _stamp(condition, current, self.now)))
            self.extra.append(actions.EmitEvent(ref, None, actions.EventType.WARNING, actions.EventReason.MALFORMED,
                                                f"ticket cannot be read: {broken.error}{holds}"))

    def clear_malformed(self, ticket: model.Ticket) -> None:
        """A Ticket that reads again loses its Malformed condition."""
        status = self.statuses[ticket.ref]
        if _find_condition(status.conditions, model.ConditionType.MALFORMED) is not None:
            conditions = tuple(c for c in status.conditions if c.type is not model.ConditionType.MALFORMED)
            self.set(ticket, dataclasses.replace(status, conditions=conditions))

    def actions(self) -> list[actions.Action]:
        result: list[actions.Action] = list(self.extra)
        for ref in self.order:
            outcome = self.outcomes[ref]
            status = self.statuses[ref]
            if status != self.world.tickets[ref].status:
                result.append(actions.UpdateTicketStatus(ref, status))
            result.extend(outcome.events)  # before anything deferrable: see the actions contract
            result.extend(outcome.spawns)
            result.extend(outcome.pushes)
            result.extend(outcome.repairs)
            result.extend(outcome.syncs)
        return result

    # -- per Track --

    def run_track(self, track_ref: model.TrackRef) -> None:
        tickets = self.by_track[track_ref]
        for ticket in tickets:
            self.clear_malformed(ticket)
        for ticket in tickets:
            if ticket.abandon and not self.statuses[ticket.ref].state.terminal:
                self.abandon(ticket)
        live = [t for t in tickets if not self.statuses[t.ref].state.terminal]
        track = self.world.tracks.get(track_ref)
        reason = model.ConditionReason
        if track is None:
            self.block(live, reason.TRACK_NOT_FOUND, f"track {track_ref.name} not found")
            return
        verdict = self.verdicts[track_ref]
        if not verdict.ok:
            kind = {reason.DISABLED: reason.TRACK_DISABLED, reason.APPLICATION_NOT_AUTHORIZED:
                    reason.APPLICATION_NOT_AUTHORIZED}.get(verdict.reason, reason.TRACK_NOT_READY)
            self.block(live, kind, f"track {track.name}: {verdict.message}")
            return
        stations = tuple(self.world.stations[model.StationRef(track.namespace, s)] for s in track.stations)
        off_track = [t for t in live if self.statuses[t.ref].station not in (None, *track.stations)]
        if off_track:
            names = ", ".join(f"{t.name} at {self.statuses[t.ref].station}" for t in off_track)
            self.block(live, reason.STATION_OFF_TRACK,
                       f"ticket(s) hold a station no longer on track {track.name}: {names}; "
                       "fix the track or abandon them")
            return
        for ticket in live:
            self.unblock(ticket)
        line = _Line(track, stations)
        self.check_consistency(live)
        travelling = [t for t in live if self.statuses[t.ref].station is not None
                      and not self.statuses[t.ref].state.terminal]
        travelling.sort(key=lambda t: (-line.index[self.statuses[t.ref].station or ""], t.order_key))
        for ticket in travelling:
            self.at_station(ticket, line)
        for ticket in tickets:
            status = self.statuses[ticket.ref]
            if ticket.retry_count > status.observed_retry:
                self.retry(ticket, line, tickets)
        self.board(line, tickets)

    def block(self, tickets: Iterable[model.Ticket], reason: model.ConditionReason, message: str) -> None:
        """Something outside the ticket stops it: say so in a condition; nothing moves."""
        for ticket in tickets:
            status = self.statuses[ticket.ref]
            condition = model.Condition(model.ConditionType.BLOCKED, model.ConditionStatus.TRUE,
                                        reason, message)
            current = _find_condition(status.conditions, model.ConditionType.BLOCKED)
            if current == condition:
                continue
            conditions = _replace_condition(status.conditions, _stamp(condition, current, self.now))
            self.set(ticket, dataclasses.replace(status, conditions=conditions, message=message))
            self.event(ticket, actions.EventReason.BLOCKED, message, warning=True)

    def unblock(self, ticket: model.Ticket) -> None:
        status = self.statuses[ticket.ref]
        if _find_condition(status.conditions, model.ConditionType.BLOCKED) is not None:
            conditions = tuple(c for c in status.conditions if c.type is not model.ConditionType.BLOCKED)
            self.set(ticket, dataclasses.replace(status, conditions=conditions))

    def check_consistency(self, live: list[model.Ticket]) -> None:
        for ticket in live:
            status = self.statuses[ticket.ref]
            current = status.current
            inconsistent = (status.station is None and status.boarded) or (status.station is not None and (
                current is None or current.state not in (model.JourneyState.ENTERED, model.JourneyState.ARRIVED)))
            if inconsistent:
                self.fail(ticket, status, "status is inconsistent (boarded, but its station and journey "
                                          "disagree); retry re-enters the last journey station")

    # -- terminal transitions --

    def abandon(self, ticket: model.Ticket) -> None:
        status = self.statuses[ticket.ref]
        journey = status.journey
        current = status.current
        if current is not None:
            journey = (*journey[:-1], dataclasses.replace(
                current, state=model.JourneyState.ABANDONED, departed_at=self.now,
                message="abandoned by an operator"))
        self.set(ticket, dataclasses.replace(status, state=model.TicketState.ABANDONED, station=None,
                                             journey=journey, message="abandoned by an operator"))
        self.event(ticket, actions.EventReason.ABANDONED, "ticket abandoned by an operator")

    def fail(self, ticket: model.Ticket, status: model.TicketStatus, message: str,
             apps: Iterable[model.AppRef] = ()) -> None:
        """Failed vacates the Station so a newer ticket can fix forward."""
        journey = status.journey
        current = status.current
        if current is not None:
            journey = (*journey[:-1], dataclasses.replace(
                current, state=model.JourneyState.FAILED, departed_at=self.now, message=message))
        where = f" at station {status.station}" if status.station else ""
        self.set(ticket, dataclasses.replace(status, state=model.TicketState.FAILED, station=None,
                                             journey=journey, message=f"failed{where}: {message}"))
        self.event(ticket, actions.EventReason.FAILED, f"ticket failed{where}: {message}", warning=True)
        for app in apps:
            self.event(ticket, actions.EventReason.FAILED,
                       f"failed{where}: {message}", app=app, warning=True)

    # -- at a Station --

    def at_station(self, ticket: model.Ticket, line: _Line) -> None:
        status = self.statuses[ticket.ref]
        if status.state.terminal or status.current is None:
            return
        record = status.current
        index = line.index[record.station]
        station = line.stations[index]
        if station.disabled:
            record = dataclasses.replace(record, message="station disabled while the ticket was here; "
                                                         "passed without judging")
            self.depart(ticket, dataclasses.replace(status, journey=(*status.journey[:-1], record)),
                        line, index)
            return
        active = station.active_applications
        skipped = tuple(sorted(set(record.skipped_applications) | set(station.skipped_applications)))
        record = dataclasses.replace(record, skipped_applications=skipped)
        # the timeout counts from entry until the first arrival, and again from a lost arrival
        clock = record.entered_at if record.arrived_at is None else record.arrival_lost_at
        timed_out = (station.timeout_seconds is not None and clock is not None
                     and self.now - clock >= station.timeout_seconds)
        unpushed = [a for a in active if record.pushed_commit(a) is None]
        repointed = [(a, where) for a in active if a not in unpushed
                     and (where := _repointed(record, a, self.world.apps.get(a))) is not None]
        if unpushed or repointed:
            if timed_out:
                self.fail(ticket, _with_record(status, record),
                          f"branches not pushed within the {station.timeout_seconds:g}s timeout"
                          + "".join(f"; {a} {where}" for a, where in repointed), active)
                return
            message = f"pushing app branches at station {station.name} ({len(unpushed) + len(repointed)} pending"
            message += "".join(f"; {a} {where}" for a, where in repointed) + ")"
            if repointed and record.arrived_at is not None and record.arrival_lost_at is None:
                record = dataclasses.replace(record, arrival_lost_at=self.now)  # the timeout counts again
            record = dataclasses.replace(record, healthy_since=None)  # an added Application restarts the soak
            self.set(ticket, dataclasses.replace(_with_record(status, record),
                                                 state=model.TicketState.DEPLOYING, message=message))
            self.outcome(ticket).pushes.append(actions.PushStation(
                ticket.ref, line.track.name, station.name, active, ticket.snapshot))
            return
        record = self.adopt_rerenders(ticket, record, station)
        record = self.note_drift(ticket, record, station)
        judged = [(app, *judge_app(self.world.apps.get(app), record.pushed_commit(app) or "", record.entered_at))
                  for app in active]
        judged = [self.drifted(station, record, judgement) for judgement in judged]
        failed = [(a, why) for a, v, why in judged if v is AppVerdict.SYNC_FAILED]
        if failed:
            self.fail(ticket, _with_record(status, record), _explain(failed), [a for a, _ in failed])
            return
        degraded = [(a, why) for a, v, why in judged if v is AppVerdict.DEGRADED]
        if degraded:
            since = record.degraded_since if record.degraded_since is not None else self.now
            record = dataclasses.replace(record, degraded_since=since, healthy_since=None)
            if self.now - since >= station.degraded_grace_seconds:
                self.fail(ticket, _with_record(status, record), _explain(degraded), [a for a, _ in degraded])
                return
        else:
            record = dataclasses.replace(record, degraded_since=None)
        not_ready = [(a, v, why) for a, v, why in judged if v is not AppVerdict.HEALTHY]
        if not_ready:
            syncs, not_ready, refused = self.sync_requests(ticket, station, record, not_ready)
            if timed_out:
                within = "arrived" if record.arrived_at is None else "recovered"
                self.fail(ticket, _with_record(status, record),
                          f"not {within} within the {station.timeout_seconds:g}s timeout: "
                          + _explain([(a, why) for a, _, why in not_ready]), [a for a, _, _ in not_ready])
                return
            self.outcome(ticket).syncs.extend(syncs)
            for app, words in refused:  # warned about once: the observed message is where decide said it last
                if words not in ticket.status.message:
                    self.event(ticket, actions.EventReason.SYNC_REFUSED, f"station {station.name}: {app}: {words}",
                               warning=True)
                    self.event(ticket, actions.EventReason.SYNC_REFUSED, words, app=app, warning=True)
            suspended = any(v is AppVerdict.SUSPENDED for _, v, _ in not_ready)
            state = model.TicketState.SUSPENDED if suspended else model.TicketState.DEPLOYING
            if degraded:
                grace_end = _iso((record.degraded_since or self.now) + station.degraded_grace_seconds)
                message = f"{_explain(degraded)}; fails at {grace_end} unless it recovers"
            else:
                message = f"waiting at station {station.name}: " + _explain(
                    [(a, why) for a, _, why in not_ready])
            if record.healthy_since is not None:
                message += " (arrival lost; soak restarts)"
            lost = record.arrival_lost_at
            if record.arrived_at is not None and lost is None:
                lost = self.now
            if lost is not None and station.timeout_seconds is not None:
                message += f"; fails at {_iso(lost + station.timeout_seconds)} unless it recovers"
            record = dataclasses.replace(record, healthy_since=None, arrival_lost_at=lost)
            new = dataclasses.replace(_with_record(status, record), state=state, message=message)
            if state is model.TicketState.SUSPENDED and status.state is not model.TicketState.SUSPENDED:
                self.event(ticket, actions.EventReason.SUSPENDED, message)
            self.set(ticket, new)
            return
        if record.healthy_since is None:
            first = record.arrived_at is None
            record = dataclasses.replace(record, healthy_since=self.now, arrival_lost_at=None,
                                         arrived_at=record.arrived_at if not first else self.now,
                                         state=model.JourneyState.ARRIVED)
            if first:
                self.event(ticket, actions.EventReason.ARRIVED, f"arrived at station {station.name}")
                for app in active:
                    self.event(ticket, actions.EventReason.ARRIVED,
                               f"arrived at station {station.name}: "
                               f"Synced at {short(record.pushed_commit(app))} and Healthy", app=app)
        status = _with_record(status, record)
        healthy_since = record.healthy_since if record.healthy_since is not None else self.now
        soak_end = healthy_since + station.soak_seconds
        if self.now < soak_end:
            message = f"soaking at station {station.name} until {_iso(soak_end)}"
            self.set(ticket, dataclasses.replace(status, state=model.TicketState.SOAKING, message=message))
            return
        if station.tracks:
            status = self.spawn_children(ticket, status, station)
        self.depart(ticket, status, line, index)

    def sync_requests(self, ticket: model.Ticket, station: model.StationSpec, record: model.JourneyRecord,
                      not_ready: list[tuple[model.AppRef, AppVerdict, str]],
                      ) -> tuple[list[actions.RequestSync], list[tuple[model.AppRef, AppVerdict, str]],
                                 list[tuple[model.AppRef, str]]]:
        """The syncs to ask Argo CD for (``arrival.sync_to_request``; never for a branch edited by
        hand), the not-ready verdicts with Argo CD's refusal of such a request in the reason, and those
        refusals in the words the reasons use."""
        drifted = {d.app for d in self.current_drift(station, record)}
        syncs: list[actions.RequestSync] = []
        explained: list[tuple[model.AppRef, AppVerdict, str]] = []
        refused: list[tuple[model.AppRef, str]] = []
        for app, verdict, why in not_ready:
            commit = record.pushed_commit(app) or ""
            status = self.world.apps.get(app)
            sync = None if app in drifted else sync_to_request(status, commit, record.entered_at)
            if sync is not None:
                position = status.source_position if status is not None else None
                syncs.append(actions.RequestSync(ticket.ref, station.name, app, commit, sync.pin, sync.prune,
                                                 position))
                if words := refusal(status, commit):
                    why = f"{why}; {words}"
                    refused.append((app, words))
            explained.append((app, verdict, why))
        return syncs, explained, refused

    def adopt_rerenders(self, ticket: model.Ticket, record: model.JourneyRecord,
                        station: model.StationSpec) -> model.JourneyRecord:
        """An overlay-only re-render of this visit's commit becomes the commit the visit is judged against.

        The re-render keeps the visit's trailers (same ticket, same Station, same pins), so Argo CD
        syncing it is this visit arriving, not a hand edit; without adopting it the visit would wait
        for a commit the branch no longer points at. One Event on the ticket per adopted commit (the
        intake already put one on the Application)."""
        for app in station.active_applications:
            found = self.world.rerendered.get(app)
            old = record.pushed_commit(app)
            if (found is None or old is None or old == found.head or found.ticket != str(ticket.ref)
                    or found.station != station.name):
                continue
            record = dataclasses.replace(record, pushed=tuple(
                dataclasses.replace(p, commit=found.head) if p.app == app else p for p in record.pushed))
            what = (f"{found.branch} re-rendered for an overlay-only change at {short(found.head)} (was "
                    f"{short(old)}, same pins); the visit now waits for that commit")
            self.event(ticket, actions.EventReason.RERENDERED, f"station {station.name}: {app}: {what}")
        return record

    def current_drift(self, station: model.StationSpec, record: model.JourneyRecord) -> list[model.Drift]:
        """Hand edits of this Station's app branches over the commits this visit pushed."""
        return [d for a in station.active_applications if (d := self.world.drift.get(a)) is not None
                and record.pushed_commit(a) not in (None, d.head)]

    def note_drift(self, ticket: model.Ticket, record: model.JourneyRecord,
                   station: model.StationSpec) -> model.JourneyRecord:
        """Record each new hand edit in the visit (with Warning Events) and ask for the repair."""
        drifts = self.current_drift(station, record)
        known = {(d.app, d.head) for d in record.drift}
        for drift in drifts:
            if (drift.app, drift.head) not in known:
                record = dataclasses.replace(record, drift=(*record.drift, drift))
                what = (f"branch {drift.branch} was edited by hand (head {short(drift.head)} is not K8sTA's "
                        f"commit {short(record.pushed_commit(drift.app))})")
                then = ("restoring K8sTA's content on top of it" if station.self_heal
                        else "selfHeal is off for this station: revert the branch or abandon the ticket")
                self.event(ticket, actions.EventReason.DRIFT, f"{what}; {then}", app=drift.app, warning=True)
                self.event(ticket, actions.EventReason.DRIFT, f"station {station.name}: {drift.app}: {what}; {then}",
                           warning=True)
            if station.self_heal:
                self.outcome(ticket).repairs.append(actions.RepairDrift(
                    ticket.ref, station.name, drift.app, drift.branch, drift.head, record.pushed_commit(drift.app)))
        return record

    def drifted(self, station: model.StationSpec, record: model.JourneyRecord,
                judgement: tuple[model.AppRef, AppVerdict, str]) -> tuple[model.AppRef, AppVerdict, str]:
        """An Application whose branch was edited by hand has not arrived, whatever Argo CD says."""
        app, verdict, why = judgement
        drift = self.world.drift.get(app)
        if drift is None or record.pushed_commit(app) in (None, drift.head) \
                or verdict in (AppVerdict.SYNC_FAILED, AppVerdict.DEGRADED):
            return judgement
        then = "repairing" if station.self_heal else "selfHeal is off"
        return app, AppVerdict.PENDING, f"{drift.branch} edited by hand (head {short(drift.head)}; {then}); {why}"

    def repair_unheld_drift(self) -> None:
        """A hand edit of a branch no ticket is deploying: restore the newest K8sTA commit on top."""
        done: set[model.AppRef] = set()
        for ref in sorted(self.world.stations):
            spec = self.world.stations[ref]
            if not spec.self_heal or ref in self.holders:
                continue
            for app in spec.active_applications:
                drift = self.world.drift.get(app)
                if (drift is not None and app not in done and not self.held_elsewhere(app)
                        and authorization.authorized(spec, app, self.world.apps)):
                    done.add(app)
                    self.extra.append(actions.RepairDrift(None, spec.name, app, drift.branch, drift.head,
                                                          drift.restore, namespace=ref.namespace))

    def held_elsewhere(self, app: model.AppRef) -> bool:
        return any(app in self.world.stations[held].active_applications
                   for held in self.holders if held in self.world.stations)

    def spawn_children(self, ticket: model.Ticket, status: model.TicketStatus,
                       station: model.StationSpec) -> model.TicketStatus:
        """Junction: record one child per junction Track (deterministic names) in the status that
        departs; ``ensure_children`` then creates every recorded child that does not exist."""
        children = list(status.children)
        for track in station.tracks:
            name = child_ticket_name(ticket.name, track)
            if name not in children:
                children.append(name)
                self.event(ticket, actions.EventReason.SPAWNED,
                           f"junction {station.name}: spawned ticket {name} onto track {track}")
        return dataclasses.replace(status, children=tuple(children))

    def ensure_children(self, ticket: model.Ticket) -> None:
        """Every recorded child exists: created again until it does, unless it was seen once (then a
        human deleted it on purpose). Runs for terminal parents too (a Completed parent's create may
        have failed)."""
        status = self.statuses[ticket.ref]
        seen = [name for name in status.children
                if (ticket.namespace, name) in self.names and name not in status.spawned]
        if seen:
            self.set(ticket, dataclasses.replace(status, spawned=(*status.spawned, *seen)))
        for name in status.children:
            if (ticket.namespace, name) in self.names or name in status.spawned:
                continue
            track, created = self.child_origin(ticket, status, name)
            if track is not None:
                self.outcome(ticket).spawns.append(actions.SpawnTicket(
                    ticket.ref, name, track, ticket.snapshot, created))

    def child_origin(self, ticket: model.Ticket, status: model.TicketStatus,
                     name: str) -> tuple[str | None, float]:
        """The Track a recorded child goes onto and its creation time (when the parent departed the
        junction, so a re-created child keeps its place on its Track). None: no such Track any more."""
        track = next((ref.name for ref in sorted(self.world.tracks) if ref.namespace == ticket.namespace
                      and child_ticket_name(ticket.name, ref.name) == name), None)
        created = self.now
        for record in status.journey:
            spec = self.world.stations.get(model.StationRef(ticket.namespace, record.station))
            if spec is not None and track in spec.tracks and record.departed_at is not None:
                created = record.departed_at
        return track, created

    def depart(self, ticket: model.Ticket, status: model.TicketStatus, line: _Line, index: int) -> None:
        """Ready to leave Station ``index``: complete, or enter the next enabled Station if allowed."""
        here = line.stations[index].name
        visited = {record.station for record in status.journey}
        missed = [s.name for s in line.stations[:index] if not s.disabled and s.name not in visited]
        if missed:
            names = ", ".join(missed)
            self.fail(ticket, status, f"track {line.track.name} was edited while this ticket was on it: "
                                      f"station(s) {names} now come before {here} and were never visited; "
                                      "failing instead of skipping them in silence (create a new ticket "
                                      "to deploy them)")
            return
        target, skipped = line.next_enabled(index)
        if target is None:
            journey = _depart_record(status.journey, self.now) + tuple(
                _skipped_record(name, self.now) for name in skipped)
            self.set(ticket, dataclasses.replace(status, state=model.TicketState.COMPLETED, station=None,
                                                 journey=journey, message=f"completed track {line.track.name}"))
            self.event(ticket, actions.EventReason.COMPLETED, f"completed track {line.track.name}")
            return
        if not self.may_enter(ticket, status, line, index, target, "to depart", _ready_since(status, line, index)):
            return
        self.enter(ticket, status, line, target, skipped, f"departed {here}")

    def may_enter(self, ticket: model.Ticket, status: model.TicketStatus, line: _Line, index: int,
                  target: int, doing: str, since: float) -> bool:
        """Approval and occupancy for moving from position ``index`` (-1: before boarding) to ``target``,
        for a ticket waiting since ``since``; when refused, the ticket's status says why (it keeps
        whatever Station it holds)."""
        station = line.stations[target]
        if station.approval_required and station.name not in ticket.approved_stations:
            message = f"waiting for approval {doing} into station {station.name}"
            if status.state is not model.TicketState.AWAITING_APPROVAL:
                self.event(ticket, actions.EventReason.AWAITING_APPROVAL, message)
            self.set(ticket, dataclasses.replace(status, state=model.TicketState.AWAITING_APPROVAL,
                                                 message=message))
            return False
        if self.gated(ticket, status, line, target, f"waiting {doing} into station {station.name}: "):
            return False
        blocker = self.blocker(ticket, line, index, target, since)
        if blocker is not None:
            self.passed.pop(ticket.ref, None)
            self.set(ticket, dataclasses.replace(
                status, state=model.TicketState.WAITING,
                message=f"waiting {doing} into station {station.name}: {blocker}"))
            return False
        return True

    def gated(self, ticket: model.Ticket, status: model.TicketStatus, line: _Line, target: int,
              prefix: str, state: model.TicketState = model.TicketState.WAITING) -> bool:
        """Stop-the-line and freeze windows (``core.windows``) for entering ``target``: when closed, the
        ticket waits (keeping what it holds) with a message saying why and until when, and an Event
        once per change. Checked before occupancy, so a frozen ticket never claims a shared Station."""
        namespace = line.track.namespace
        station = line.stations[target]
        frozen = self.world.frozen.get(namespace)
        if frozen is not None:
            why, reason = (f"namespace {namespace} is frozen: {frozen}; k8sta unfreeze lets every track "
                           "move again"), actions.EventReason.FROZEN
        elif not station.windows and not line.track.windows:
            return False
        else:
            shut = windows.closed((windows.Scope(f"station {station.name}", station.windows),
                                   windows.Scope(f"track {line.track.name}", line.track.windows)), self.now,
                                  self.window_memo)
            if shut is None:
                return False
            if ticket.window_pass is not None:
                self.passed[ticket.ref] = f"let through {shut.why} by an operator: {ticket.window_pass}"
                return False
            why, reason = (f"{shut.message()}; k8sta ticket pass-window {ticket.name} --reason ... lets "
                           "this ticket through"), actions.EventReason.WINDOW_CLOSED
        message = prefix + why
        if status.message != message:
            self.event(ticket, reason, message)
        self.set(ticket, dataclasses.replace(status, state=state, message=message))
        return True

    def blocker(self, ticket: model.Ticket, line: _Line, index: int, target: int, since: float) -> str | None:
        """Who stops a move from ``index`` to ``target`` for a ticket waiting since ``since``: a
        holder of ``target`` (any Track), a longer waiter of another Track it is kept for
        (``promises``), or a ticket of this Track between them (passing it would be overtaking).
        A move only occupancy stops is a claim on ``target``."""
        station = line.stations[target]
        passing = self.overtaking(ticket, line, index, target)
        if passing is None:
            self.claim(ticket, station, since)
        holder = self.holders.get(station.ref)
        if holder is not None and holder != ticket.ref:
            if holder in self.world.malformed and holder not in self.world.tickets:
                return f"held by ticket {holder.name}, which cannot be read ({self.world.malformed[holder].error})"
            return f"held by ticket {holder.name}"
        promise = self.promised.get(station.ref)
        if promise is not None and promise.ticket != ticket.ref:
            return (f"ticket {promise.ticket.name} of track {promise.track.name} has waited longer "
                    f"(since {_iso(promise.since)}; this ticket since {_iso(since)}) and enters first")
        return passing

    def overtaking(self, ticket: model.Ticket, line: _Line, index: int, target: int) -> str | None:
        """A ticket of this Track (or a malformed one) between ``index`` and ``target``: never passed."""
        for other in self.by_track[line.track.ref]:
            other_status = self.statuses[other.ref]
            if other.ref == ticket.ref or other_status.state.terminal or other_status.station is None:
                continue
            position = line.index.get(other_status.station)
            if position is not None and index < position <= target:
                return f"ticket {other.name} is at station {other_status.station}"
        for ref in sorted(self.world.malformed):  # its Track is unknown: never pass it either
            broken = self.world.malformed[ref]
            position = line.index.get(broken.station or "")
            if ref.namespace == line.track.namespace and ref not in self.world.tickets \
                    and position is not None and index < position <= target:
                return f"ticket {ref.name}, which cannot be read, is at station {broken.station}"
        return None

    def enter(self, ticket: model.Ticket, status: model.TicketStatus, line: _Line, target: int,
              skipped: tuple[str, ...], why: str, note: str = "") -> None:
        station = line.stations[target]
        self.entered.setdefault(station.ref, ticket.ref)
        passed = self.passed.pop(ticket.ref, None)
        if passed is not None:
            note = f"{note}; {passed}" if note else passed
            self.event(ticket, actions.EventReason.WINDOW_PASSED, passed)
        journey = _depart_record(status.journey, self.now) + tuple(
            _skipped_record(name, self.now) for name in skipped)
        journey += (model.JourneyRecord(
            station=station.name, state=model.JourneyState.ENTERED, entered_at=self.now,
            skipped_applications=station.skipped_applications, message=note),)
        active = station.active_applications
        message = f"deploying at station {station.name}"
        self.set(ticket, dataclasses.replace(status, state=model.TicketState.DEPLOYING, station=station.name,
                                             journey=journey, message=message))
        for name in skipped:
            self.event(ticket, actions.EventReason.SKIPPED, f"skipped disabled station {name}")
        self.event(ticket, actions.EventReason.ENTERED, f"{why}; entered station {station.name}")
        if active:
            self.outcome(ticket).pushes.append(actions.PushStation(
                ticket.ref, line.track.name, station.name, active, ticket.snapshot))
            for app in active:
                self.event(ticket, actions.EventReason.ENTERED,
                           f"entered station {station.name}: pushing this Application's branch", app=app)

    # -- boarding, superseding, retry --

    def board(self, line: _Line, tickets: list[model.Ticket]) -> None:
        self.supersede(line, tickets)
        waiting = [t for t in tickets
                   if not self.statuses[t.ref].state.terminal and not self.statuses[t.ref].boarded]
        waiting = self.held_back(line, waiting)
        if not waiting:
            return
        target, skipped = line.next_enabled(-1)
        if target is None:
            for ticket in waiting:
                self.set(ticket, dataclasses.replace(
                    self.statuses[ticket.ref], state=model.TicketState.WAITING,
                    message=f"every station of track {line.track.name} is disabled"))
            return
        candidate = waiting[-1] if line.track.boarding is model.Boarding.NEWEST_SUPERSEDES else waiting[0]
        for ticket in waiting:
            if ticket is not candidate:
                self.set(ticket, dataclasses.replace(
                    self.statuses[ticket.ref], state=model.TicketState.WAITING,
                    message=f"waiting to board track {line.track.name} after ticket {candidate.name}"))
        status = self.statuses[candidate.ref]
        # the Track's request to board counts from its oldest waiting ticket: a newer one that
        # supersedes it takes its place in the queue (else a busy Track would go to the back each time)
        since = min(t.created for t in waiting)
        if not self.may_enter(candidate, status, line, -1, target, "to board", since):
            return
        self.event(candidate, actions.EventReason.BOARDED, f"boarded track {line.track.name}")
        self.enter(candidate, status, line, target, skipped, f"boarded track {line.track.name}")
        self.supersede(line, tickets)

    def held_back(self, line: _Line, waiting: list[model.Ticket]) -> list[model.Ticket]:
        """On a held Track nothing boards but the hold's own ticket (a rollback's), whoever created the
        others (intake, a junction, the CLI): they wait, their message naming the hold, and lift-off is
        ``k8sta resume``. Returns the tickets that may still board."""
        track = line.track
        if track.hold is None:
            return waiting
        message = (f"waiting to board: track {track.name} is held ({track.hold})"
                   + (f", only ticket {track.hold_ticket} boards" if track.hold_ticket else "")
                   + f"; k8sta resume {track.name} lets the newest waiting ticket board")
        for ticket in waiting:
            status = self.statuses[ticket.ref]
            if ticket.name != track.hold_ticket and (status.state, status.message) != (
                    model.TicketState.WAITING, message):
                self.set(ticket, dataclasses.replace(status, state=model.TicketState.WAITING, message=message))
        return [t for t in waiting if t.name == track.hold_ticket]

    def supersede(self, line: _Line, tickets: list[model.Ticket]) -> None:
        """A waiting ticket older than one that boarded never rides (its snapshot is outdated)."""
        newest_boarded: model.Ticket | None = None
        for ticket in reversed(tickets):
            if self.statuses[ticket.ref].boarded:
                newest_boarded = ticket
                break
        if newest_boarded is None:
            return
        for ticket in tickets:
            status = self.statuses[ticket.ref]
            if ticket.order_key >= newest_boarded.order_key:
                break
            if status.state.terminal or status.boarded:
                continue
            message = f"superseded by newer ticket {newest_boarded.name} (snapshots are complete)"
            self.set(ticket, dataclasses.replace(status, state=model.TicketState.SUPERSEDED, station=None,
                                                 message=message))
            self.event(ticket, actions.EventReason.SUPERSEDED, message)

    def retry(self, ticket: model.Ticket, line: _Line, tickets: list[model.Ticket]) -> None:
        status = self.statuses[ticket.ref]
        acknowledged = dataclasses.replace(status, observed_retry=ticket.retry_count)
        # Judged on the observed state: a retry asked for before this pass failed the ticket is stale.
        if status.state is not model.TicketState.FAILED or ticket.status.state is not model.TicketState.FAILED:
            self.set(ticket, acknowledged)
            self.event(ticket, actions.EventReason.RETRY_REFUSED,
                       f"retry ignored: ticket is {ticket.status.state.value}, not Failed", warning=True)
            return
        refusal = self.retry_refusal(ticket, status, line, tickets)
        if refusal is not None:
            message = f"retry refused: {refusal}"
            self.set(ticket, dataclasses.replace(acknowledged, message=message))
            self.event(ticket, actions.EventReason.RETRY_REFUSED, message, warning=True)
            return
        target = line.index[status.journey[-1].station]
        failed_at = status.journey[-1].departed_at
        if self.gated(ticket, status, line, target, f"retry pending: station {line.stations[target].name}: ",
                      state=status.state):
            return
        blocker = self.blocker(ticket, line, target - 1, target, self.now if failed_at is None else failed_at)
        if blocker is not None:
            self.passed.pop(ticket.ref, None)
            message = f"retry pending: station {line.stations[target].name} {blocker}"
            if status.message != message:
                self.set(ticket, dataclasses.replace(status, message=message))
            return
        self.enter(ticket, acknowledged, line, target, (), f"retry #{ticket.retry_count}",
                   note=f"retry #{ticket.retry_count}: only what Argo CD does from enteredAt on is judged")
        self.event(ticket, actions.EventReason.RETRIED, f"retry #{ticket.retry_count}: re-entered "
                                                        f"station {line.stations[target].name}")

    def retry_refusal(self, ticket: model.Ticket, status: model.TicketStatus, line: _Line,
                      tickets: list[model.Ticket]) -> str | None:
        if not status.journey:
            return "the ticket never boarded"
        station_name = status.journey[-1].station
        target = line.index.get(station_name)
        if target is None:
            return f"station {station_name} is no longer on track {line.track.name}"
        if line.stations[target].disabled:
            return f"station {station_name} is disabled"
        for other in tickets:
            if other.order_key <= ticket.order_key:
                continue
            for record in self.statuses[other.ref].journey:
                position = line.index.get(record.station)
                if record.state is not model.JourneyState.SKIPPED and position is not None \
                        and position >= target:
                    return (f"newer ticket {other.name} already reached station {record.station}; "
                            "retrying would overtake it (create a new ticket to roll back instead)")
        return None


@dataclass(frozen=True)
class _Line:
    """A valid Track with its resolved Stations and their positions."""

    track: model.TrackSpec
    stations: tuple[model.StationSpec, ...]

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {s.name: i for i, s in enumerate(self.stations)}

    def next_enabled(self, after: int) -> tuple[int | None, tuple[str, ...]]:
        """The next enabled position after ``after`` and the disabled Station names passed on the way."""
        skipped: list[str] = []
        for position in range(after + 1, len(self.stations)):
            if not self.stations[position].disabled:
                return position, tuple(skipped)
            skipped.append(self.stations[position].name)
        return None, tuple(skipped)


# -- helpers ------------------------------------------------------------------------------------


def _ready_since(status: model.TicketStatus, line: _Line, index: int) -> float:
    """Since when a ticket departing Station ``index`` has been ready to: the end of its soak there
    (durable: the soak clock is in the journey record), or its entry if it never judged there (a
    Station disabled while it was there)."""
    record = status.journey[-1]
    if record.healthy_since is not None:
        return record.healthy_since + line.stations[index].soak_seconds
    return record.entered_at if record.entered_at is not None else 0.0


def _with_record(status: model.TicketStatus, record: model.JourneyRecord) -> model.TicketStatus:
    return dataclasses.replace(status, journey=(*status.journey[:-1], record))


def _depart_record(journey: tuple[model.JourneyRecord, ...], now: float) -> tuple[model.JourneyRecord, ...]:
    if not journey or journey[-1].state not in (model.JourneyState.ENTERED, model.JourneyState.ARRIVED):
        return journey
    return (*journey[:-1], dataclasses.replace(journey[-1], state=model.JourneyState.DEPARTED, departed_at=now))


def _skipped_record(name: str, now: float) -> model.JourneyRecord:
    return model.JourneyRecord(station=name, state=model.JourneyState.SKIPPED, entered_at=now, departed_at=now,
                               message="station disabled; skipped")


def _find_condition(conditions: tuple[model.Condition, ...],
                    kind: model.ConditionType) -> model.Condition | None:
    return next((c for c in conditions if c.type is kind), None)


def _replace_condition(conditions: tuple[model.Condition, ...],
                       condition: model.Condition) -> tuple[model.Condition, ...]:
    return (*(c for c in conditions if c.type is not condition.type), condition)


def _stamp(condition: model.Condition, previous: model.Condition | None, now: float) -> model.Condition:
    """Keep the transition time while the status stays the same (Kubernetes convention)."""
    if previous is not None and previous.status is condition.status \
            and previous.last_transition_time is not None:
        return dataclasses.replace(condition, last_transition_time=previous.last_transition_time)
    return dataclasses.replace(condition, last_transition_time=now)


def _repointed(record: model.JourneyRecord, app: model.AppRef, seen: model.AppStatus | None) -> str | None:
    """Why ``app`` must be pushed again: its K8sTA source points elsewhere than the visit's push went
    (another branch or repository, edited mid-visit); None when it does not, or where it points is unknown."""
    pushed = next((p for p in record.pushed if p.app == app), None)
    if pushed is None or seen is None or seen.repo_url is None or seen.target_revision is None:
        return None
    if (seen.repo_url, seen.target_revision) == (pushed.repo_url, pushed.branch):
        return None
    return (f"was re-pointed to {seen.target_revision} in {seen.repo_url} (pushed to {pushed.branch} in "
            f"{pushed.repo_url}): pushing there")


def _explain(items: list[tuple[model.AppRef, str]]) -> str:
    return "; ".join(f"{app}: {why}" for app, why in items)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
