"""Unit ``SetTicketCondition``: merge one condition into a Ticket's status without reading its spec.

Used for Tickets the decoder rejects (``model.MalformedTicket``); compare-and-swap on the
resourceVersion of the cached object, so a concurrent edit (the fix) wins and is decided again.
"""

from __future__ import annotations

import logging

from k8sta_daemon.core import actions, codec, outcomes
from k8sta_daemon.reactor.units.context import Context

log = logging.getLogger("k8sta.controller")


def run(action: actions.SetTicketCondition, context: Context) -> outcomes.Outcome:
    ref = action.ticket
    obj = context.object("Ticket", ref.namespace, ref.name)
    status = codec.ticket_status_with_condition(obj, action.condition)
    context.cache.put("Ticket", context.kube.replace_status("Ticket", obj, status))
    log.warning("condition %s=%s: %s", action.condition.type.value, action.condition.status.value,
                action.condition.message, extra={"action": type(action).__name__, "ticket": str(ref)})
    return outcomes.Done()
