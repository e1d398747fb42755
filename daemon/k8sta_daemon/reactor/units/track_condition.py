"""Unit ``SetTrackCondition``: write one condition into a Track's status (other condition types kept)."""

from __future__ import annotations

from k8sta_daemon.core import actions, codec, outcomes
from k8sta_daemon.reactor.units.context import Context


def run(action: actions.SetTrackCondition, context: Context) -> outcomes.Outcome:
    obj = context.object("Track", action.track.namespace, action.track.name)
    status = codec.track_status_with_condition(obj, action.condition)
    context.cache.put("Track", context.kube.replace_status("Track", obj, status))
    return outcomes.Done()
