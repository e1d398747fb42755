"""core.outcomes.follow_up: what a push's outcome means for the ticket (a pure table)."""

from __future__ import annotations

import dataclasses

import pytest

from k8sta_daemon.core import actions, model, outcomes

NS = "shop"
DEV, STAGING = model.AppRef("argocd", "dev"), model.AppRef("argocd", "staging")
OLD = model.PushedCommit(DEV, "file:///r", "env/dev", "a" * 40)
NEW_DEV = model.PushedCommit(DEV, "file:///r", "env/dev", "b" * 40)
NEW_STAGING = model.PushedCommit(STAGING, "file:///r", "env/staging", "c" * 40)
SNAPSHOT = model.Snapshot(config_commit="d" * 40)
PUSH = actions.PushStation(ticket=model.TicketRef(NS, "shop-1"), track="shop", station="dev",
                           applications=(DEV, STAGING), snapshot=SNAPSHOT)


def ticket(*journey: model.JourneyRecord, station: str | None = "dev") -> model.Ticket:
    status = model.TicketStatus(state=model.TicketState.DEPLOYING, station=station, journey=journey)
    return model.Ticket(namespace=NS, name="shop-1", uid="u", created=1.0, track="shop", snapshot=SNAPSHOT,
                        status=status)


ENTERED = model.JourneyRecord(station="dev", state=model.JourneyState.ENTERED, entered_at=10.0, pushed=(OLD,))


def test_pushed_commits_replace_those_of_the_same_applications_in_the_current_record() -> None:
    earlier = model.JourneyRecord(station="build", state=model.JourneyState.DEPARTED)
    [update] = outcomes.follow_up(ticket(earlier, ENTERED), PUSH, outcomes.Pushed((NEW_DEV, NEW_STAGING)))
    assert isinstance(update, actions.UpdateTicketStatus)
    assert update.ticket == PUSH.ticket
    assert update.status.journey == (earlier, dataclasses.replace(ENTERED, pushed=(NEW_DEV, NEW_STAGING)))
    assert (update.status.state, update.status.station) == (model.TicketState.DEPLOYING, "dev")


def test_pushed_keeps_commits_of_other_applications() -> None:
    [update] = outcomes.follow_up(ticket(ENTERED), PUSH, outcomes.Pushed((NEW_STAGING,)))
    assert update.status.journey[-1].pushed == (OLD, NEW_STAGING)


@pytest.mark.parametrize("journey", [(), (dataclasses.replace(ENTERED, station="staging"),)],
                         ids=["no-record", "moved-on"])
def test_pushed_records_nothing_once_the_ticket_moved_on(journey: tuple[model.JourneyRecord, ...]) -> None:
    assert outcomes.follow_up(ticket(*journey), PUSH, outcomes.Pushed((NEW_DEV,))) == []


def test_a_push_that_cannot_succeed_fails_the_ticket_and_vacates_its_station() -> None:
    update, event = outcomes.follow_up(ticket(ENTERED), PUSH, outcomes.PushFailed("overlay env/dev is missing"))
    assert isinstance(update, actions.UpdateTicketStatus)
    assert update.status.state is model.TicketState.FAILED
    assert update.status.station is None
    assert update.status.message == "push to station dev failed: overlay env/dev is missing"
    assert update.status.journey == (dataclasses.replace(ENTERED, state=model.JourneyState.FAILED,
                                                         message="overlay env/dev is missing"),)
    assert event == actions.EmitEvent(ticket=PUSH.ticket, app=None, type=actions.EventType.WARNING,
                                      reason=actions.EventReason.FAILED, message=update.status.message)


def test_a_failed_push_of_a_ticket_without_a_journey_changes_nothing() -> None:
    assert outcomes.follow_up(ticket(station=None), PUSH, outcomes.PushFailed("x")) == []


@pytest.mark.parametrize("outcome", [outcomes.RetryLater("busy", 10.0), outcomes.Waiting(), outcomes.Stale("409"),
                                     outcomes.Unavailable("503"), outcomes.Done()],
                         ids=["retry-later", "waiting", "stale", "unavailable", "done"])
def test_other_outcomes_change_nothing(outcome: outcomes.Outcome) -> None:
    assert outcomes.follow_up(ticket(ENTERED), PUSH, outcome) == []


@pytest.mark.parametrize(("outcome", "expected"), [
    (outcomes.Done(), True), (outcomes.Pushed(()), True), (outcomes.RetryLater("x", 1.0), False),
    (outcomes.Waiting(), False), (outcomes.PushFailed("x"), False), (outcomes.Stale("x"), False),
    (outcomes.Unavailable("x"), False)],
    ids=["done", "pushed", "retry-later", "waiting", "push-failed", "stale", "unavailable"])
def test_only_effective_outcomes_let_the_batch_go_on(outcome: outcomes.Outcome, expected: bool) -> None:
    assert outcomes.took_effect(outcome) is expected


def test_a_push_that_landed_on_a_hand_edit_records_it_once_with_warning_events() -> None:
    """Issue 19 item 4: the push took the drift repair's place, so the visit says so as a repair would."""
    edit = model.Drift(DEV, "env/dev", "e" * 40)
    pushed = outcomes.Pushed((NEW_DEV,), hand_edits=(edit,))

    update, *events = outcomes.follow_up(ticket(ENTERED), PUSH, pushed)

    assert isinstance(update, actions.UpdateTicketStatus)
    record = update.status.journey[-1]
    assert record.pushed == (NEW_DEV,) and record.drift == (edit,)
    assert {(e.app, e.type, e.reason) for e in events} == {
        (DEV, actions.EventType.WARNING, actions.EventReason.DRIFT),
        (None, actions.EventType.WARNING, actions.EventReason.DRIFT)}
    assert all(isinstance(e, actions.EmitEvent) and "eeeeeeeeeeee" in e.message and "bbbbbbbbbbbb" in e.message
               and "edited by hand" in e.message for e in events)
    # the same hand edit reported again (a repeated push) is not recorded or announced twice
    again = outcomes.follow_up(ticket(record), PUSH, pushed)
    assert len(again) == 1 and again[0].status.journey[-1].drift == (edit,)  # type: ignore[union-attr]
