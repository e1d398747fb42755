"""Unit "record trouble": set or clear a Ticket's ``ActionFailed`` condition, with a Warning Event when set.

What the trouble is, and when it is recorded, is ``core.failures``'s decision; this unit writes it
(compare-and-swap on the resourceVersion of the pass's view, like every status write).
"""

from __future__ import annotations

from k8sta_daemon.adapters import kube
from k8sta_daemon.core import codec, failures, model, outcomes
from k8sta_daemon.reactor.units.context import Context


def run(ticket: model.TicketRef, trouble: failures.Trouble | None, now: float, context: Context) -> outcomes.Outcome:
    obj = context.object("Ticket", ticket.namespace, ticket.name)
    status = codec.with_trouble(dict(obj.get("status") or {}), trouble, now)
    context.wrote("Ticket", context.kube.replace_status("Ticket", obj, status))
    if trouble is not None:
        involved = {"apiVersion": kube.API_VERSION, "kind": "Ticket", "namespace": ticket.namespace,
                    "name": ticket.name, "uid": obj["metadata"].get("uid", "")}
        where = f" at station {trouble.station}" if trouble.station else ""
        context.kube.emit_event(involved, "Warning", failures.CONDITION_TYPE, f"{trouble.message}{where}")
    return outcomes.Done()
