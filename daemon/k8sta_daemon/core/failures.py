"""What a failed action means beyond its own ticket's next step (pure): trouble and dependencies.

Callers: ``reactor/execution.py``, after a unit reported an outcome that did not take effect. Two rules
live here, next to ``outcomes.follow_up``, so the reactor only does what they say:

- **Trouble is recorded on its ticket.** A push (or any action of a ticket) that keeps failing for a
  reason retrying may cure (a remote that does not answer, an API error, an unexpected error such as
  an ``OSError`` or an object that does not parse) delays only that ticket: the reactor backs off and
  the ticket carries an ``ActionFailed`` condition naming the reason, with a Warning Event when it
  first appears or its reason changes. Every other ticket and Track keeps moving. The condition is
  the reactor's (``decide`` never writes it): it is kept while the ticket stays at the same Station
  and not terminal, and cleared by the next push of that ticket that succeeds.
- **A write that failed holds back the writes that depended on it.** One decision may move ticket A
  out of Station s and ticket B into s. If A's status write did not take effect, B must not enter s
  (two tickets would hold it): ``released`` and ``taken`` name the Stations, and the reactor drops
  B's actions for this pass (the next pass decides both again from what was written).
"""

from __future__ import annotations

from dataclasses import dataclass

from k8sta_daemon.core import actions, model, outcomes

CONDITION_TYPE = "ActionFailed"  # a Ticket condition the reactor owns; ``decide`` keeps its hands off it


class Reason:
    """The ``ActionFailed`` condition's reasons (and the Warning Event's)."""

    RETRYING = "Retrying"  # the remote or an API did not answer; backing off
    UNEXPECTED = "UnexpectedError"  # an error nobody named (a bug, the disk, a malformed object)


@dataclass(frozen=True)
class Trouble:
    """Why a ticket's actions at ``station`` keep failing; ``None`` station: before boarding."""

    station: str | None
    reason: str
    message: str


def trouble(ticket: model.Ticket, action: actions.Action, outcome: outcomes.Outcome) -> Trouble | None:
    """The trouble ``outcome`` of ``action`` means for ``ticket``; None when nothing is to be recorded.

    Stale and Waiting are not trouble (decide again; backoff still running); Done and Pushed took
    effect; PushFailed is final and ``outcomes.follow_up`` fails the ticket instead.
    """
    station = ticket.status.station
    what = _what(action)
    if isinstance(outcome, outcomes.RetryLater):
        # No delay in the words: the same reason again is the same trouble (written, and warned about, once).
        return Trouble(station, Reason.RETRYING, f"{what} will be retried with backoff: {outcome.reason}")
    if isinstance(outcome, outcomes.Unavailable):
        return Trouble(station, Reason.RETRYING, f"{what} failed, retrying: {outcome.reason}")
    if isinstance(outcome, outcomes.Broken):
        return Trouble(station, Reason.UNEXPECTED, f"{what} failed unexpectedly, retrying: {outcome.reason}")
    return None


def kept(current: Trouble | None, status: model.TicketStatus) -> Trouble | None:
    """The trouble a new status keeps: only while the ticket is still at that Station and travelling."""
    if current is None or status.state.terminal or status.station != current.station:
        return None
    return current


def released(world: model.World, action: actions.UpdateTicketStatus) -> frozenset[model.StationRef]:
    """The Stations this status write gives up (held before, not after)."""
    before = _held(world.tickets.get(action.ticket), action.ticket.namespace)
    return before - _holds(action.status, action.ticket.namespace)


def taken(world: model.World, action: actions.UpdateTicketStatus) -> frozenset[model.StationRef]:
    """The Stations this status write takes (held after, not before)."""
    before = _held(world.tickets.get(action.ticket), action.ticket.namespace)
    return _holds(action.status, action.ticket.namespace) - before


def _held(ticket: model.Ticket | None, namespace: str) -> frozenset[model.StationRef]:
    return frozenset() if ticket is None else _holds(ticket.status, namespace)


def _holds(status: model.TicketStatus, namespace: str) -> frozenset[model.StationRef]:
    if status.station is None or status.state.terminal:
        return frozenset()
    return frozenset({model.StationRef(namespace, status.station)})


def _what(action: actions.Action) -> str:
    if isinstance(action, actions.PushStation):
        return f"push to station {action.station}"
    if isinstance(action, actions.SpawnTicket):
        return f"creating child ticket {action.name}"
    if isinstance(action, actions.EmitEvent):
        return "an Event"
    return "the status write"
