"""What ``decide.decide`` asks the reactor to do: plain data, no behaviour.

Callers: the reactor hands each action to its unit (``reactor/units/``, one per action). Actions are
level-triggered: the same world yields the same actions again, so every unit must be idempotent
(the git adapter recognises an already-pushed ticket by its commit trailers, ticket creation treats
AlreadyExists as success) and may drop a duplicate of an action already in flight.

Ordering contract. ``decide`` emits the Track conditions first, then each ticket's actions together
(grouped by ``ticket``, or ``parent`` for ``SpawnTicket``), in this order:

1. the status change: ``UpdateTicketStatus`` or ``SetTicketCondition``;
2. ``EmitEvent``: the Events that describe that change;
3. ``SpawnTicket``;
4. the deferrable actions: ``PushStation``, ``RequestSync``, ``RepairDrift``.

Every ``EmitEvent`` of a decision comes with a status change of the same ticket in (1), so an Event
is sent once per change, never on every pass. The executor must:

- apply (1) first; if it fails (conflict, API error), drop the rest of that ticket's actions (the
  change did not happen, so neither may its Events) and decide again from the fresh object;
- once (1) is written, send every Event of (2), whatever happens to (3) and (4): an Event is never
  lost because a push is deferred (backoff) or fails; a failed Event is logged and does not stop the
  rest;
- treat (3) and (4) as retryable: ``decide`` emits them again on every pass until the World shows
  their effect (child exists, pushed commit recorded, operation for our commit exists, drift gone).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from k8sta_daemon.core import model

if TYPE_CHECKING:
    from k8sta_daemon.core import station_status


@dataclass(frozen=True)
class PushStation:
    """Render and push the app branches of ``applications`` for this ticket at this Station.

    The git adapter pushes one atomic push per repository, then the controller writes the reported
    ``model.PushedCommit`` values into the ticket's current journey record (``status.journey[-1]``,
    whose ``station`` equals ``station``). After the push it hard-refreshes each Application (Argo CD
    then compares at once instead of at its next poll); starting syncs is ``RequestSync``'s job. While
    a pushed commit is missing for an Application, ``decide`` emits this action again (so a crash
    between push and status write loses nothing).
    """

    ticket: model.TicketRef
    track: str
    station: str
    applications: tuple[model.AppRef, ...]
    snapshot: model.Snapshot


@dataclass(frozen=True)
class RequestSync:
    """Ask Argo CD to sync ``app`` to ``revision`` (the commit pushed for this ticket at this Station).

    Emitted on every pass while the Application is not Synced at ``revision``, no operation is running
    and no operation for ``revision`` started during the current visit, and either the Application has
    no automated sync (or it is unknown), or Argo CD already attempted ``revision`` before this visit
    (its automated sync never retries a revision it attempted: the retry case). How to ask is
    ``arrival.sync_to_request``'s decision, so that Argo CD accepts the request:

    - ``pin``: the request names ``revision``. Without automated sync that is what K8sTA asks for.
      With automated sync Argo CD refuses any revision but the Application's ``targetRevision``
      ("Cannot sync to ...: auto-sync currently set to ..."), so ``pin`` is False: the request names
      no revision and Argo CD syncs its target, emitted only once Argo CD resolved that to ``revision``.
    - ``prune``: the Application's own choice, never more: ``syncPolicy.automated.prune`` (what its
      automated sync would do; also kept when ``enabled: false`` switched automated sync off), and
      otherwise False, as Argo CD's UI and ``argocd app sync`` default. Sync options and the retry
      strategy are not sent: Argo CD takes the Application's own.

    The executor:

    - POSTs the sync (``/api/v1/applications/<name>/sync``, with ``revision`` only when ``pin``; for a
      multi-source Application ``revisions: [revision]`` and ``sourcePositions: [source_position]``,
      the K8sTA source's 1-based place in ``spec.sources``: Argo CD ignores ``revision`` there);
    - keeps its own backoff per (``app``, ``revision``), exponential with jitter, reset when the
      revision changes: ``decide`` re-emits on every pass and the backoff decides when to call again;
    - treats any refusal, "another operation is already in progress" included, as retry later (never as
      success) and remembers Argo CD's answer (``AppStatus.sync_refused``, until a request for the
      Application is accepted): ``decide`` names it in the ticket's message, with a Warning Event
      when it is new. It never fails the ticket itself (the Station's timeout does, with the
      Application's conditions in the message).
    Once an operation for ``revision`` exists, ``decide`` stops emitting this action.
    """

    ticket: model.TicketRef
    station: str
    app: model.AppRef
    revision: str
    pin: bool
    prune: bool
    source_position: int | None = None


@dataclass(frozen=True)
class RepairDrift:
    """Restore K8sTA's content of ``app``'s branch on top of the human commit ``head`` (history keeps it).

    ``restore`` is the K8sTA commit whose tree to restore: the one pushed for ``ticket`` at ``station``,
    or, with ``ticket`` None (no ticket holds the Station), the newest K8sTA commit on the branch.
    Emitted on every pass while ``World.drift`` reports the branch and the Station has ``self_heal``.
    The executor must:

    - push only if the branch head is still ``head`` (compare-and-swap: a newer edit is a new drift);
      the commit carries the usual trailers, so the drift adapter stops reporting it;
    - with a ticket: write the new commit as ``app``'s ``model.PushedCommit`` in the ticket's current
      journey record (replacing the earlier one; only if that record is still about ``station``),
      then hard-refresh the Application (``decide`` then judges the new commit);
    - without a ticket: also emit the Warning Event on the Application itself (decide has no ticket
      to attach it to);
    - treat failures as retry later with backoff (``decide`` re-emits while the drift is reported).
    """

    ticket: model.TicketRef | None
    station: str
    app: model.AppRef
    branch: str
    head: str
    restore: str | None
    namespace: str = ""  # the Station's namespace (what the executor fences on when ``ticket`` is None)


@dataclass(frozen=True)
class UpdateTicketStatus:
    """Replace the ticket's status subresource; emitted only when it differs from the observed one."""

    ticket: model.TicketRef
    status: model.TicketStatus


@dataclass(frozen=True)
class SetTicketCondition:
    """Set (``condition.status`` TRUE) or remove (FALSE) one condition in a Ticket's status without
    reading its spec: used for a Ticket the decoder rejects (``model.MalformedTicket``), whose status
    ``UpdateTicketStatus`` cannot rebuild. Emitted only when the observed condition differs, so it
    (and its Warning Event) happens once per change, not on every pass. The executor merges it into
    ``status.conditions`` by type (``resources.ticket_status_with_condition``), compare-and-swap on
    the resourceVersion the World was built from."""

    ticket: model.TicketRef
    condition: model.Condition


class EventType(enum.Enum):
    """A Kubernetes Event's type.

    Warning for failures and refusals (the ticket needs a human), Normal for every other step.
    """

    NORMAL = "Normal"
    WARNING = "Warning"


class EventReason(enum.Enum):
    """The Event's reason: what happened to the ticket (shown in the Ticket's and Argo CD's Events)."""

    BOARDED = "Boarded"
    ENTERED = "Entered"
    ARRIVED = "Arrived"
    DEPARTED = "Departed"
    SKIPPED = "Skipped"
    SUSPENDED = "Suspended"
    AWAITING_APPROVAL = "AwaitingApproval"
    COMPLETED = "Completed"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"
    ABANDONED = "Abandoned"
    RETRIED = "Retried"
    RETRY_REFUSED = "RetryRefused"
    SYNC_REFUSED = "SyncRefused"
    SPAWNED = "Spawned"
    BLOCKED = "Blocked"
    DRIFT = "Drift"
    RERENDERED = "ReRendered"
    MALFORMED = "Malformed"
    FROZEN = "Frozen"  # the namespace is stopped (k8sta freeze)
    WINDOW_CLOSED = "WindowClosed"  # a freeze window keeps the ticket out of its next Station
    WINDOW_PASSED = "WindowPassed"  # an operator let it through a closed window


@dataclass(frozen=True)
class EmitEvent:
    """A Kubernetes Event on the Ticket, or (``app`` set) on that Argo CD Application, which the
    adapter resolves to the Application's UID so Argo CD's UI shows it. The message never names the
    ticket: on an Application the adapter prefixes ``ticket <namespace>/<name>:``."""

    ticket: model.TicketRef
    app: model.AppRef | None
    type: EventType
    reason: EventReason
    message: str


@dataclass(frozen=True)
class SpawnTicket:
    """Create a child Ticket (junction). ``name`` is deterministic, so a repeat is AlreadyExists.

    ``created_at`` is the decision time; the adapter records it in the ``k8sta.io/created-at``
    annotation so the child's order on its Track does not depend on a 1-second creationTimestamp.
    """

    parent: model.TicketRef
    name: str
    track: str
    snapshot: model.Snapshot
    created_at: float


@dataclass(frozen=True)
class SetTrackCondition:
    """Set one condition in a Track's status (emitted only when it differs from the observed one)."""

    track: model.TrackRef
    condition: model.Condition


@dataclass(frozen=True)
class UpdateStationStatus:
    """Replace a Station's status subresource with what runs there (``core.station_status`` decides it,
    apart from ``decide``); emitted only when it differs from the written one, compare-and-swap."""

    station: model.StationRef
    status: station_status.StationStatus

    @property
    def namespace(self) -> str:  # what the executor fences on
        return self.station.namespace


Action = (PushStation | RequestSync | RepairDrift | UpdateTicketStatus | SetTicketCondition | EmitEvent | SpawnTicket
          | SetTrackCondition | UpdateStationStatus)
