"""Unit ``UpdateTicketStatus``: replace a Ticket's status subresource (compare-and-swap on resourceVersion)."""

from __future__ import annotations

import logging

from k8sta_daemon.core import actions, codec, outcomes
from k8sta_daemon.reactor.units.context import Context

log = logging.getLogger("k8sta.controller")


def run(action: actions.UpdateTicketStatus, context: Context) -> outcomes.Outcome:
    ref = action.ticket
    obj = context.object("Ticket", ref.namespace, ref.name)
    updated = context.kube.replace_status("Ticket", obj, codec.ticket_status_to_dict(action.status))
    context.cache.put("Ticket", updated)
    log.info("status %s at %s", action.status.state.value, action.status.station or "-",
             extra={"action": type(action).__name__, "ticket": str(ref)})
    return outcomes.Done()
