"""Unit ``SpawnTicket``: create a junction's child Ticket (a deterministic name: a repeat is AlreadyExists)."""

from __future__ import annotations

import logging

from k8sta_daemon.core import actions, codec, outcomes
from k8sta_daemon.reactor.units.context import Context

log = logging.getLogger("k8sta.controller")


def run(action: actions.SpawnTicket, context: Context) -> outcomes.Outcome:
    parent = context.object("Ticket", action.parent.namespace, action.parent.name)
    created = context.kube.create("Ticket", action.parent.namespace, codec.child_ticket_body(action, parent))
    log.info("spawned child %s on track %s%s", action.name, action.track, "" if created else " (existed)",
             extra={"ticket": str(action.parent), "track": action.track})
    return outcomes.Done()
