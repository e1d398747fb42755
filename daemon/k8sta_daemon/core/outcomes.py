"""What an action unit reports back, and what that result means for the ticket (pure).

Callers: the reactor's units return these values (``reactor/execution.py`` is the one place that turns
an adapter's exception into one); the reactor asks ``follow_up`` what a push's result means and carries
out the actions it returns like any other. So the rules "a push that cannot succeed fails the ticket
and vacates its Station" and "pushed commits are recorded in the current journey record" live here, in
the core, next to ``decide``; the reactor only does what they say.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from k8sta_daemon.core import actions, model


@dataclass(frozen=True)
class Done:
    """The action took effect."""


@dataclass(frozen=True)
class Pushed:
    """A Station's app branches point at these commits (new, or already there: pushes are idempotent).

    ``hand_edits``: heads that were not K8sTA's commits (``core.drift.push_base``) and that the push
    landed on top of."""

    commits: tuple[model.PushedCommit, ...]
    hand_edits: tuple[model.Drift, ...] = ()


@dataclass(frozen=True)
class Failure:
    """Why an action did not take effect (every such outcome but ``Waiting``): ``reason`` is said in the
    logs and, through ``core.failures``, on the ticket; the subclass says what happens next."""

    reason: str


@dataclass(frozen=True)
class RetryLater(Failure):
    """Not now: the same action may work after ``delay`` seconds (a busy remote, an unknown Application)."""

    delay: float


@dataclass(frozen=True)
class Waiting:
    """Not attempted: an earlier ``RetryLater`` for this ticket has not expired."""


class PushFailed(Failure):
    """Retrying the same push cannot help (inputs that do not render, a refused push)."""


class Stale(Failure):
    """The object changed under us (a resourceVersion conflict): decide again from the fresh one."""


class Refused(Failure):
    """The remote answered and said no (Argo CD refused a sync request: a sync window, a policy, its
    RBAC): asking again may work once someone changes something, so it is asked again with backoff,
    and ``reason`` (its answer) is shown where the request matters (``AppStatus.sync_refused``)."""


class Unavailable(Failure):
    """An API call failed (Kubernetes, Argo CD, an object not in the cache); the next pass retries."""


class Broken(Failure):
    """An error nobody named (an ``OSError``, an object that does not parse, a bug): this ticket's
    actions back off and the reason is recorded on it (``core.failures``); other tickets go on."""


class Fenced(Failure):
    """Not attempted: this replica can no longer be sure it holds the Lease; the whole pass stops."""


Outcome = Done | Pushed | RetryLater | Waiting | PushFailed | Stale | Refused | Unavailable | Broken | Fenced


def took_effect(outcome: Outcome) -> bool:
    """Whether the batch goes on to the ticket's next action (otherwise the rest waits for a new decision)."""
    return isinstance(outcome, Done | Pushed)


def follow_up(ticket: model.Ticket, action: actions.PushStation, outcome: Outcome) -> list[actions.Action]:
    """What a push's outcome means for ``ticket`` (as last observed): the actions that record it.

    - ``Pushed``: the commits go into the current journey record, replacing earlier ones of the same
      Applications, unless the ticket has moved on meanwhile (then the trailers make the next push a
      no-op and nothing is recorded). A hand edit the push landed on top of is recorded in the visit's
      ``drift`` (once per head) with a Warning Event on the Ticket and one on the Application, as the
      drift repair does: the push took the place of the repair.
    - ``PushFailed``: the ticket is Failed and vacates its Station, the journey record says why, and a
      Warning Event on the Ticket repeats it.
    - anything else: nothing; ``decide`` emits the push again on a later pass.
    """
    current = ticket.status.current
    if isinstance(outcome, Pushed):
        if current is None or current.station != action.station:
            return []
        known = {p.app for p in outcome.commits}
        merged = tuple(p for p in current.pushed if p.app not in known) + outcome.commits
        seen = {(d.app, d.head) for d in current.drift}
        new = tuple(d for d in outcome.hand_edits if (d.app, d.head) not in seen)
        record = dataclasses.replace(current, pushed=merged, drift=current.drift + new)
        journey = (*ticket.status.journey[:-1], record)
        events: list[actions.Action] = []
        for edit in new:
            what = (f"branch {edit.branch} was edited by hand (head {edit.head[:12]} is not K8sTA's commit); "
                    f"the push landed on top of it as {(record.pushed_commit(edit.app) or '')[:12]} "
                    "(history keeps the edit)")
            events += [actions.EmitEvent(ticket=action.ticket, app=app, type=actions.EventType.WARNING,
                                         reason=actions.EventReason.DRIFT, message=message)
                       for app, message in ((edit.app, what), (None, f"station {action.station}: {edit.app}: {what}"))]
        return [actions.UpdateTicketStatus(action.ticket, dataclasses.replace(ticket.status, journey=journey)),
                *events]
    if isinstance(outcome, PushFailed):
        if current is None:
            return []
        failed = dataclasses.replace(current, state=model.JourneyState.FAILED, message=outcome.reason)
        message = f"push to station {action.station} failed: {outcome.reason}"
        status = dataclasses.replace(ticket.status, state=model.TicketState.FAILED, station=None,
                                     journey=(*ticket.status.journey[:-1], failed), message=message)
        return [actions.UpdateTicketStatus(action.ticket, status),
                actions.EmitEvent(ticket=action.ticket, app=None, type=actions.EventType.WARNING,
                                  reason=actions.EventReason.FAILED, message=message)]
    return []
