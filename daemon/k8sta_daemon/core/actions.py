"""What ``decide.decide`` asks the reactor to do: plain data, no behaviour.

Callers: the reactor hands each action to its unit (``reactor/units/``, one per action). Actions are
level-triggered: the same world yields the same actions again, so every unit must be idempotent
(the git adapter recognises an already-pushed ticket by its commit trailers, ticket creation treats
AlreadyExists as success) and may drop a duplicate of an action already in flight.

Ordering contract: for one ticket, ``UpdateTicketStatus`` comes first, then ``PushStation`` /
``SpawnTicket``, then ``EmitEvent``. Apply the status update first; if it fails (conflict), drop the
rest of that ticket's actions and decide again from the fresh object.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from k8sta_daemon.core import model


@dataclass(frozen=True)
class PushStation:
    """Render and push the app branches of ``applications`` for this ticket at this Station.

    The git adapter pushes one atomic push per repository, then the controller writes the reported
    ``model.PushedCommit`` values into the ticket's current journey record (``status.journey[-1]``,
    whose ``station`` equals ``station``). After the push it hard-refreshes each Application and syncs
    those without automated sync. While a pushed commit is missing for an Application, ``decide``
    emits this action again (so a crash between push and status write loses nothing).
    """

    ticket: model.TicketRef
    track: str
    station: str
    applications: tuple[model.AppRef, ...]
    snapshot: model.Snapshot


@dataclass(frozen=True)
class UpdateTicketStatus:
    """Replace the ticket's status subresource; emitted only when it differs from the observed one."""

    ticket: model.TicketRef
    status: model.TicketStatus


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
    SPAWNED = "Spawned"
    BLOCKED = "Blocked"


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


Action = PushStation | UpdateTicketStatus | EmitEvent | SpawnTicket | SetTrackCondition
