"""Unit ``RequestSync``: ask Argo CD to sync an Application to the commit pushed for a ticket.

``decide`` re-emits the action on every pass until an operation for that commit exists, and says how
to ask (the commit pinned or the Application's target, prune or not); when to call again is
``reactor.execution``'s backoff. A refusal (including "another operation is already in progress") is
never success: it raises, so the execution layer turns it into ``Refused`` and remembers the answer.
"""

from __future__ import annotations

from k8sta_daemon.core import actions, outcomes
from k8sta_daemon.reactor.units.context import Context


def run(action: actions.RequestSync, context: Context) -> outcomes.Outcome:
    context.argo.sync(action.app, action.revision if action.pin else None, prune=action.prune,
                      source_position=action.source_position)
    return outcomes.Done()
