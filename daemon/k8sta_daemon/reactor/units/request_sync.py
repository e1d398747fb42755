"""Unit ``RequestSync``: ask Argo CD to sync an Application to the commit pushed for a ticket.

``decide`` re-emits the action on every pass until an operation for that commit exists; when to call
again is ``reactor.execution``'s backoff. A refusal (including "another operation is already in
progress") is never success: it raises, so the execution layer turns it into a retry.
"""

from __future__ import annotations

from k8sta_daemon.core import actions, outcomes
from k8sta_daemon.reactor.units.context import Context


def run(action: actions.RequestSync, context: Context) -> outcomes.Outcome:
    context.argo.sync(action.app, action.revision, action.source_position)
    return outcomes.Done()
