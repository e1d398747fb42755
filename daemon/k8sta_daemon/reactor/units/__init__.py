"""The "do" side: one small unit per action, each ``run(action, context) -> outcomes.Outcome``.

Kargo's promotion-step registry in miniature: ``UNITS`` maps an action type to its unit. A unit does
one thing through the adapters and reports what happened; it never decides what a failure means for a
ticket (``core.outcomes`` does) and never catches an adapter's error (``reactor.execution`` turns
every exception into an outcome, in one place).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from k8sta_daemon.core import actions, outcomes
from k8sta_daemon.reactor.units import (
    emit_event,
    push_station,
    repair_drift,
    request_sync,
    spawn,
    station_status,
    ticket_condition,
    track_condition,
    write_status,
)
from k8sta_daemon.reactor.units.context import Context, GitSettings

Unit = Callable[[Any, Context], outcomes.Outcome]

UNITS: dict[type, Unit] = {
    actions.UpdateTicketStatus: write_status.run,
    actions.PushStation: push_station.run,
    actions.EmitEvent: emit_event.run,
    actions.SpawnTicket: spawn.run,
    actions.SetTrackCondition: track_condition.run,
    actions.RequestSync: request_sync.run,
    actions.SetTicketCondition: ticket_condition.run,
    actions.RepairDrift: repair_drift.run,
    actions.UpdateStationStatus: station_status.run,
}

__all__ = ["UNITS", "Context", "GitSettings", "Unit"]
