"""Unit ``UpdateTicketStatus``: replace a Ticket's status subresource (compare-and-swap on resourceVersion).

The basis is the object the decision was made from (``Context.object``: the pass's view), so the write
carries that resourceVersion: an operator's change that landed mid-pass makes it conflict. The reactor's
own ``ActionFailed`` condition is kept while ``core.failures.kept`` says so (``decide`` does not know it).
"""

from __future__ import annotations

import logging

from k8sta_daemon.core import actions, codec, failures, outcomes
from k8sta_daemon.reactor.units.context import Context

log = logging.getLogger("k8sta.controller")


def run(action: actions.UpdateTicketStatus, context: Context) -> outcomes.Outcome:
    ref = action.ticket
    obj = context.object("Ticket", ref.namespace, ref.name)
    body = codec.ticket_status_to_dict(action.status)
    trouble = failures.kept(codec.trouble_of(obj), action.status)
    if trouble is not None:
        previous = next(c for c in obj["status"]["conditions"] if c.get("type") == failures.CONDITION_TYPE)
        body["conditions"] = [*body.get("conditions", []), previous]
    updated = context.kube.replace_status("Ticket", obj, body)
    context.wrote("Ticket", updated)
    log.info("status %s at %s", action.status.state.value, action.status.station or "-",
             extra={"action": type(action).__name__, "ticket": str(ref)})
    return outcomes.Done()
