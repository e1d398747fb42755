"""core.failures: what a failed action means for its ticket, and which writes depended on it (pure)."""

from __future__ import annotations

import pytest

from k8sta_daemon.core import actions, failures, model, outcomes

NS = "shop"
SNAPSHOT = model.Snapshot(config_commit="d" * 40)
A, B = model.TicketRef(NS, "a-1"), model.TicketRef(NS, "b-1")
PUSH = actions.PushStation(ticket=A, track="a-line", station="dev", applications=(), snapshot=SNAPSHOT)


def ticket(ref: model.TicketRef, state: model.TicketState, station: str | None) -> model.Ticket:
    return model.Ticket(namespace=NS, name=ref.name, uid="u", created=1.0, track="t", snapshot=SNAPSHOT,
                        status=model.TicketStatus(state=state, station=station))


AT_DEV = ticket(A, model.TicketState.DEPLOYING, "dev")


@pytest.mark.parametrize(("outcome", "reason", "says"), [
    (outcomes.RetryLater("fetching file:///x failed", 10.0), failures.Reason.RETRYING,
     "push to station dev will be retried with backoff: fetching file:///x failed"),
    (outcomes.Unavailable("HTTP 503"), failures.Reason.RETRYING, "push to station dev failed, retrying: HTTP 503"),
    (outcomes.Broken("OSError: disk full"), failures.Reason.UNEXPECTED,
     "push to station dev failed unexpectedly, retrying: OSError: disk full"),
], ids=lambda v: type(v).__name__)
def test_retryable_failures_are_trouble_recorded_on_the_ticket(outcome: outcomes.Outcome, reason: str,
                                                               says: str) -> None:
    assert failures.trouble(AT_DEV, PUSH, outcome) == failures.Trouble("dev", reason, says)


@pytest.mark.parametrize("outcome", [outcomes.Done(), outcomes.Pushed(()), outcomes.Stale("409"), outcomes.Waiting(),
                                     outcomes.PushFailed("refused")], ids=lambda v: type(v).__name__)
def test_other_outcomes_are_no_trouble(outcome: outcomes.Outcome) -> None:
    assert failures.trouble(AT_DEV, PUSH, outcome) is None


def test_the_same_reason_twice_is_the_same_trouble_whatever_the_backoff() -> None:
    first = failures.trouble(AT_DEV, PUSH, outcomes.RetryLater("remote hung up", 10.0))
    later = failures.trouble(AT_DEV, PUSH, outcomes.RetryLater("remote hung up", 80.0))
    assert first == later  # so the condition is written, and the Warning sent, once


def test_trouble_is_kept_only_while_the_ticket_stays_at_its_station() -> None:
    trouble = failures.Trouble("dev", failures.Reason.RETRYING, "x")
    assert failures.kept(trouble, AT_DEV.status) == trouble
    assert failures.kept(trouble, model.TicketStatus(state=model.TicketState.DEPLOYING, station="prod")) is None
    assert failures.kept(trouble, model.TicketStatus(state=model.TicketState.ABANDONED)) is None
    assert failures.kept(None, AT_DEV.status) is None


def test_a_station_released_by_one_write_is_what_another_write_takes() -> None:
    world = model.World.build(0.0, tickets=[AT_DEV, ticket(B, model.TicketState.WAITING, None)])
    leaves = actions.UpdateTicketStatus(A, model.TicketStatus(state=model.TicketState.DEPLOYING, station="prod"))
    enters = actions.UpdateTicketStatus(B, model.TicketStatus(state=model.TicketState.DEPLOYING, station="dev"))
    stays = actions.UpdateTicketStatus(A, model.TicketStatus(state=model.TicketState.SOAKING, station="dev"))
    dev, prod = model.StationRef(NS, "dev"), model.StationRef(NS, "prod")
    assert failures.released(world, leaves) == {dev} and failures.taken(world, leaves) == {prod}
    assert failures.taken(world, enters) == {dev} and failures.released(world, enters) == frozenset()
    assert failures.released(world, stays) == failures.taken(world, stays) == frozenset()
    done = actions.UpdateTicketStatus(A, model.TicketStatus(state=model.TicketState.COMPLETED, station=None))
    assert failures.released(world, done) == {dev}
