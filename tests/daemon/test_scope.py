"""``core.scope``: which Tracks a change concerns, and the sub-World that decides them.

That deciding a part gives exactly the whole decision's actions about it is checked on every step of
the property tests (``sim.check_scope``); these are the couplings by name.
"""

from __future__ import annotations

import dataclasses

from k8sta_daemon.core import model, scope

from .sim import NS, app, snapshot, station, track

NOW = 1_000_000.0


def ticket(name: str, on: str, **status: object) -> model.Ticket:
    return model.Ticket(NS, name, f"uid-{name}", NOW, on, snapshot(1),
                        status=model.TicketStatus(**status))  # type: ignore[arg-type]


def world(tracks: list[model.TrackSpec], stations: list[model.StationSpec],
          tickets: list[model.Ticket] = ()) -> model.World:  # type: ignore[assignment]
    return model.World.build(NOW, tracks, stations, tickets)


def affected(w: model.World, **changed: object) -> set[str] | None:
    found = scope.affected(w, scope.Changed(**changed))  # type: ignore[arg-type]
    return None if found is None else {ref.name for ref in found}


LINES = [track("a", ("a1", "shared")), track("b", ("shared", "b1")), track("c", ("c1",))]
STOPS = [station(n, (f"{n}-app",)) for n in ("a1", "shared", "b1", "c1")]


def test_a_change_concerns_its_track_and_the_tracks_sharing_a_station_with_it() -> None:
    w = world(LINES, STOPS, [ticket("c-1", "c"), ticket("a-1", "a")])
    assert affected(w, tracks=frozenset({(NS, "c")})) == {"c"}
    assert affected(w, tickets=frozenset({(NS, "a-1")})) == {"a", "b"}
    assert affected(w, stations=frozenset({(NS, "b1")})) == {"a", "b"}
    assert affected(w, apps=frozenset({app("c1-app")})) == {"c"}
    assert affected(w, apps=frozenset({app("nobody-names-it")})) == set()


def test_a_junction_couples_its_track_with_the_child_track() -> None:
    stops = [dataclasses.replace(s, tracks=("c",)) if s.name == "a1" else s for s in STOPS]
    w = world(LINES, stops)
    assert affected(w, tracks=frozenset({(NS, "c")})) == {"a", "b", "c"}


def test_a_ticket_holding_a_station_off_its_track_couples_the_tracks() -> None:
    """After a Track edit a ticket may hold a Station its Track no longer lists: that Station's Tracks
    must see it as the holder."""
    holder = ticket("c-1", "c", state=model.TicketState.DEPLOYING, station="b1")
    w = world(LINES, STOPS, [holder])
    assert affected(w, tracks=frozenset({(NS, "c")})) == {"a", "b", "c"}


def test_a_parent_and_its_children_decide_together() -> None:
    parent = ticket("a-1", "a", children=("c-child",))
    child = dataclasses.replace(ticket("c-child", "c"), parent="a-1")
    w = world(LINES, STOPS, [parent, child])
    assert affected(w, tickets=frozenset({(NS, "c-child")})) == {"a", "b", "c"}


def test_a_change_it_cannot_place_decides_everything() -> None:
    w = world(LINES, STOPS)
    assert affected(w, tickets=frozenset({(NS, "gone")})) is None
    assert affected(w, everything=True) is None


def test_a_world_with_malformed_tickets_or_drift_is_never_restricted() -> None:
    w = world(LINES, STOPS)
    everything = frozenset(w.tracks)
    assert scope.restrict(w, everything) is not None
    broken = model.MalformedTicket(NS, "x", "bad", None)
    assert scope.restrict(dataclasses.replace(w, malformed={broken.ref: broken}), everything) is None
    drift = model.Drift(app("a1-app"), "env/a1-app", "f" * 40)
    assert scope.restrict(dataclasses.replace(w, drift={drift.app: drift}), everything) is None


def test_the_part_holds_its_tracks_their_stations_tickets_and_statuses_only() -> None:
    status = model.AppStatus(exists=True)
    w = dataclasses.replace(world(LINES, STOPS, [ticket("a-1", "a"), ticket("c-1", "c")]),
                            apps={app(f"{n}-app"): status for n in ("a1", "shared", "b1", "c1")})
    part = scope.restrict(w, frozenset({model.TrackRef(NS, "c")}))
    assert part is not None
    assert ({r.name for r in part.tracks}, {r.name for r in part.stations}, {r.name for r in part.tickets},
            {r.name for r in part.apps}) == ({"c"}, {"c1"}, {"c-1"}, {"c1-app"})
