"""Unit ``EmitEvent``: a Kubernetes Event on the Ticket, or on the Argo CD Application (shown in its UI)."""

from __future__ import annotations

from k8sta_daemon.adapters import kube
from k8sta_daemon.core import actions, outcomes
from k8sta_daemon.reactor.units.context import Context

ARGOCD_API_VERSION = "argoproj.io/v1alpha1"


def run(action: actions.EmitEvent, context: Context) -> outcomes.Outcome:
    if action.app is None:
        obj = context.object("Ticket", action.ticket.namespace, action.ticket.name)
        involved = {"apiVersion": kube.API_VERSION, "kind": "Ticket", "namespace": action.ticket.namespace,
                    "name": action.ticket.name, "uid": obj["metadata"].get("uid", "")}
        message = action.message
    else:
        app = context.cache.application(action.app)
        if app is None:
            return outcomes.Done()  # the Application is gone: nobody would see the Event
        involved = {"apiVersion": ARGOCD_API_VERSION, "kind": "Application", "namespace": action.app.namespace,
                    "name": action.app.name, "uid": app["metadata"].get("uid", "")}
        message = f"ticket {action.ticket}: {action.message}"
    context.kube.emit_event(involved, action.type.value, action.reason.value, message)
    return outcomes.Done()
