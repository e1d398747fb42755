"""``ops.operations.rollback`` step by step, against an in-memory store that can interleave other writers
(an intake poll, a junction, a second operator) between the rollback's own writes, and ``decide`` on the
outcome: on a held Track only the rollback's ticket boards, however the writes interleave; an interrupted
rollback is finished by running it again; a repeated one changes nothing. No cluster: the stack tests of the
same commands are in test_holds.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from k8sta_daemon.core import actions, codec, decide, model
from k8sta_daemon.ops import errors, operations

NS = "shop"
C1, C2 = "a" * 40, "b" * 40
V1 = model.Snapshot(C1, (model.ImagePin("registry.example/api", "1.0.0"),))
V3 = model.Snapshot(C2, (model.ImagePin("registry.example/api", "3.0.0"),))


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch, as the API server applies ``patch_track_spec``."""
    result = dict(base)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = value
    return result


class MemoryStore:
    """The part of ``ops.store.Store`` that ticket creation and holds use. ``between`` runs before each
    write (its argument names the write), so a test can put another writer exactly there."""

    def __init__(self, tickets: list[model.Ticket]) -> None:
        self.track_obj: dict[str, Any] = {"apiVersion": codec.API_VERSION, "kind": "Track",
                                          "metadata": {"name": "region", "namespace": NS},
                                          "spec": {"stations": ["r1"]}}
        self.items: dict[str, model.Ticket] = {t.name: t for t in tickets}
        self.clock = 100.0
        self.writes: list[str] = []
        self.between: Callable[[str], None] = lambda _write: None
        self.fail_next_create = False

    def _write(self, what: str) -> None:
        self.between(what)
        self.writes.append(what)

    # -- reads --
    def track(self, namespace: str, name: str) -> model.TrackSpec:
        if name != "region":
            raise errors.NotFound(f"track {name} not found in namespace {namespace}")
        return codec.track_from_dict(self.track_obj)

    def ticket(self, namespace: str, name: str) -> model.Ticket:
        if name not in self.items:
            raise errors.NotFound(f"ticket {name} not found in namespace {namespace}")
        return self.items[name]

    def tickets(self, namespace: str | None, track: str | None = None) -> list[model.Ticket]:
        return sorted((t for t in self.items.values() if track is None or t.track == track), key=lambda t: t.order_key)

    def subscriptions(self, namespace: str) -> list[dict[str, Any]]:
        return []

    def uid_of(self, namespace: str, name: str) -> str | None:
        return f"uid-{name}"

    # -- writes --
    def patch_track_spec(self, namespace: str, name: str, spec: dict[str, Any]) -> None:
        self._write(f"hold {spec['hold'].get('ticket') if spec.get('hold') else None}")
        self.track_obj["spec"] = _merge(self.track_obj["spec"], spec)

    def add(self, name: str, snapshot: model.Snapshot, parent: str | None = None) -> bool:
        """Another writer's ticket (intake, a junction, the CLI); False when the name is taken."""
        if name in self.items:
            return False
        self.clock += 1
        self.items[name] = model.Ticket(NS, name, f"uid-{name}", self.clock, "region", snapshot, parent=parent)
        return True

    def create_named_ticket(self, namespace: str, name: str, track: str,
                            snapshot_for: Callable[[list[model.Ticket]], model.Snapshot],
                            annotations: dict[str, str]) -> tuple[model.Snapshot, bool]:
        self._write(f"create {name}")
        if self.fail_next_create:
            self.fail_next_create = False
            raise errors.Unavailable("the API server went away")
        snapshot = snapshot_for(self.tickets(namespace))
        return snapshot, self.add(name, snapshot)

    def create_ticket(self, namespace: str, track: str, snapshot_for: Callable[[list[model.Ticket]], model.Snapshot],
                      annotations: dict[str, str], reserved: tuple[str, ...] = ()) -> tuple[str, model.Snapshot]:
        numbers = [int(n.rsplit("-", 1)[1]) for n in (*self.items, *reserved) if n.rsplit("-", 1)[-1].isdigit()]
        name = f"{track}-{max(numbers, default=0) + 1}"
        self._write(f"create {name}")
        snapshot = snapshot_for(self.tickets(namespace))
        self.add(name, snapshot)
        return name, snapshot

    def record(self, namespace: str, name: str, uid: str | None, reason: str, message: str) -> None:
        self._write(f"event {reason} {name}")

    # -- what the controller then decides --
    def boarding(self) -> dict[str, model.TicketState]:
        """One decision on this store's world (r1 free): the state each waiting ticket ends in."""
        world = model.World.build(self.clock + 10, [self.track(NS, "region")],
                                  [model.StationSpec(NS, "r1", (model.AppRef("argocd", "r1"),))],
                                  self.tickets(NS))
        result = decide.decide(world)
        statuses = {a.ticket.name: a.status for a in result if isinstance(a, actions.UpdateTicketStatus)}
        return {t.name: statuses.get(t.name, t.status).state for t in self.tickets(NS)}


def _store() -> MemoryStore:
    done = model.TicketStatus(model.TicketState.COMPLETED, None, (
        model.JourneyRecord("r1", model.JourneyState.DEPARTED, entered_at=1, departed_at=2),))
    return MemoryStore([model.Ticket(NS, "region-1", "uid-1", 1, "region", V1, status=done),
                        model.Ticket(NS, "region-2", "uid-2", 2, "region", V3, status=done)])


def _rollback(store: MemoryStore) -> operations.Created:
    return operations.rollback(store, NS, "region", "region-1", actor="ops", via="test")  # type: ignore[arg-type]


def test_the_hold_comes_first_and_names_the_ticket_created_next() -> None:
    store = _store()
    created = _rollback(store)
    assert created.created and created.name == "region-3" and created.snapshot == V1
    assert store.writes[:2] == ["hold region-3", "create region-3"]
    spec = store.track(NS, "region")
    assert (spec.hold, spec.hold_ticket) == ("rollback to region-1 (ticket region-3)", "region-3")


@pytest.mark.parametrize("write", ["hold region-3", "create region-3", "event RolledBack region-3"])
@pytest.mark.parametrize("who", ["intake", "junction-child"])
def test_whatever_is_created_around_the_rollback_only_the_rollback_boards(write: str, who: str) -> None:
    """An intake poll (which read the Track before the hold) or a junction child created just before
    any of the rollback's writes: the rollback's ticket boards, the other never does while held."""
    store = _store()

    def between(what: str) -> None:
        if what == write:
            store.add(f"region-{who}", V3, parent="main-9" if who == "junction-child" else None)

    store.between = between
    _rollback(store)
    states = store.boarding()
    assert states["region-3"] is model.TicketState.DEPLOYING, states
    assert states[f"region-{who}"] in (model.TicketState.WAITING, model.TicketState.SUPERSEDED), states


def test_an_interrupted_rollback_is_finished_by_running_it_again() -> None:
    store = _store()
    store.fail_next_create = True
    with pytest.raises(errors.Unavailable):
        _rollback(store)
    assert store.track(NS, "region").hold_ticket == "region-3" and "region-3" not in store.items
    store.add("region-intake", V3)  # an intake poll while interrupted: it never boards
    assert store.boarding()["region-intake"] is model.TicketState.WAITING
    created = _rollback(store)
    assert created.created and created.name == "region-3" and store.items["region-3"].snapshot == V1
    states = store.boarding()  # the rollback boards; the older intake ticket is superseded by it
    assert (states["region-3"], states["region-intake"]) == (model.TicketState.DEPLOYING,
                                                             model.TicketState.SUPERSEDED)


def test_a_rollback_run_twice_changes_nothing_the_second_time() -> None:
    store = _store()
    first = _rollback(store)
    writes = list(store.writes)
    again = _rollback(store)
    assert (again.name, again.created) == (first.name, False) and store.writes == writes


def test_a_new_rollback_after_the_last_one_completed_is_a_new_ticket() -> None:
    store = _store()
    _rollback(store)
    store.items["region-3"] = dataclasses.replace(store.items["region-3"], status=model.TicketStatus(
        model.TicketState.COMPLETED))
    again = _rollback(store)
    assert again.created and again.name == "region-4" and store.track(NS, "region").hold_ticket == "region-4"


def test_a_name_taken_between_the_hold_and_the_create_moves_the_hold_to_a_new_name() -> None:
    store = _store()

    def between(what: str) -> None:
        if what == "create region-3":
            store.add("region-3", V3)  # k8sta ticket create --despite-hold, at that very moment

    store.between = between
    created = _rollback(store)
    assert created.name == "region-4" and store.items["region-4"].snapshot == V1
    assert store.track(NS, "region").hold_ticket == "region-4"
    assert store.boarding()["region-4"] is model.TicketState.DEPLOYING


def test_manual_ticket_on_a_held_track_is_refused_unless_asked_for() -> None:
    store = _store()
    operations.hold(store, NS, "region", "freeze for the launch", actor="ops")  # type: ignore[arg-type]
    with pytest.raises(errors.Refused, match=r"track region is held \(freeze for the launch\).*--despite-hold"):
        operations.create_ticket(store, NS, "region", config_commit=C2, actor="ops", via="test",  # type: ignore[arg-type]
                                 refuse_held=True)
    assert set(store.items) == {"region-1", "region-2"}
    created = operations.create_ticket(store, NS, "region", config_commit=C2, actor="ops", via="test",  # type: ignore[arg-type]
                                       refuse_held=False)
    assert created.held == "freeze for the launch"
    assert store.boarding()[created.name] is model.TicketState.WAITING


def test_a_plain_hold_on_a_rolled_back_track_keeps_the_rollback_riding() -> None:
    store = _store()
    created = _rollback(store)
    operations.hold(store, NS, "region", "incident 42", actor="ops")  # type: ignore[arg-type]
    assert store.track(NS, "region").hold_ticket == created.name
    assert store.boarding()[created.name] is model.TicketState.DEPLOYING


def test_a_manual_ticket_never_takes_the_name_a_rollback_reserved() -> None:
    store = _store()
    store.fail_next_create = True
    with pytest.raises(errors.Unavailable):
        _rollback(store)
    created = operations.create_ticket(store, NS, "region", config_commit=C2, actor="ops", via="test",  # type: ignore[arg-type]
                                       refuse_held=False)
    assert created.name == "region-4"
