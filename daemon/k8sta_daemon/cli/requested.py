"""The machine-readable answer of the operator-action commands (approve, retry, abandon)."""

from __future__ import annotations

from typing import Any

from k8sta_daemon.core import model


def requested(ticket: model.Ticket, action: str, changed: bool, **extra: Any) -> dict[str, Any]:
    """``changed`` is False when the request was already there (the commands are idempotent)."""
    return {"namespace": ticket.namespace, "ticket": ticket.name, "action": action, "changed": changed,
            "state": ticket.status.state.value, **extra}
