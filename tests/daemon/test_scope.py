"""``core.scope``: which Tracks a change concerns, and the sub-World that decides them.

That deciding a part gives exactly the whole decision's actions about it, and that the Index agrees with
the whole-World definition (``scope_reference``), is checked on every step of the property tests
(``sim.check_scope``, ``sim.check_index``); these are the couplings by name.
"""

from __future__ import annotations

import dataclasses

from k8sta_daemon.core import decide, model, scope

from . import scope_reference
from .sim import NS, app, snapshot, station, track

NOW = 1_000_000.0


def ticket(name: str, on: str, **status: object) -> model.Ticket:
    return model.Ticket(NS, name, f"uid-{name}", NOW, on, snapshot(1),
                        status=model.TicketStatus(**status))  # type: ignore[arg-type]


def world(tracks: list[model.TrackSpec], stations: list[model.StationSpec],
          tickets: list[model.Ticket] = ()) -> model.World:  # type: ignore[assignment]
    return model.World.build(NOW, tracks, stations, tickets)


def affected(w: model.World, **changed: object) -> set[str] | None:
    found = scope.Index.of(w).affected(scope.Changed(**changed))  # type: ignore[arg-type]
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


def test_stations_naming_one_application_couple_their_tracks() -> None:
    """The graph check refuses both Tracks (``ApplicationShared``): a change to either decides both."""
    stops = [*STOPS[:3], station("c1", ("a1-app",))]
    w = world(LINES, stops)
    assert affected(w, tracks=frozenset({(NS, "c")})) == {"a", "b", "c"}
    assert affected(w, stations=frozenset({(NS, "c1")})) == {"a", "b", "c"}
    reference = scope_reference.Coupling.of(w)
    assert {t.name for t in reference.tracks_with([model.TrackRef(NS, "c")])} == {"a", "b", "c"}


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


def test_the_part_holds_its_tracks_their_stations_tickets_and_statuses_only() -> None:
    status = model.AppStatus(exists=True, authorized_namespaces=NS)
    w = dataclasses.replace(world(LINES, STOPS, [ticket("a-1", "a"), ticket("c-1", "c")]),
                            apps={app(f"{n}-app"): status for n in ("a1", "shared", "b1", "c1")})
    part = scope.Index.of(w).restrict(frozenset({model.TrackRef(NS, "c")}), w.now, w.apps)
    assert ({r.name for r in part.tracks}, {r.name for r in part.stations}, {r.name for r in part.tickets},
            {r.name for r in part.apps}) == ({"c"}, {"c1"}, {"c-1"}, {"c1-app"})


# -- Index: the same components, walked from the changes, kept across passes --

def components(w: model.World, *seeds: model.TrackRef | model.StationRef) -> tuple[set[str], set[str]]:
    """The Tracks coupled to ``seeds`` by the Index and by ``Coupling.of``."""
    by_index = scope.Index.of(w).tracks_with(seeds)
    by_coupling = scope_reference.Coupling.of(w).tracks_with(seeds)
    return {r.name for r in by_index}, {r.name for r in by_coupling}


def test_the_index_couples_a_parent_with_its_children_without_a_junction() -> None:
    """A junction removed after its children were spawned: only the tickets still link the Tracks,
    from either side (the parent's record, the child's parent, a child not created yet)."""
    a, c, d = model.TrackRef(NS, "a"), model.TrackRef(NS, "c"), model.TrackRef(NS, "d")
    lines = [*LINES, track("d", ("d1",))]
    stops = [*STOPS, station("d1", ("d1-app",))]
    child = dataclasses.replace(ticket("a-1-c", "c"), parent="a-1")
    recorded_only = ticket("a-1", "a", children=("a-1-c",))  # its child exists, on c
    assert components(world(lines, stops, [recorded_only, child]), c) == ({"a", "b", "c"},) * 2
    assert components(world(lines, stops, [recorded_only, child]), a) == ({"a", "b", "c"},) * 2
    parent_only = ticket("a-1", "a")  # the child names its parent; the parent records nothing
    assert components(world(lines, stops, [parent_only, child]), c) == ({"a", "b", "c"},) * 2
    assert components(world(lines, stops, [parent_only, child]), a) == ({"a", "b", "c"},) * 2
    not_created = ticket("a-1", "a", children=(decide.child_ticket_name("a-1", "d"),))  # onto d, by name
    assert components(world(lines, stops, [not_created]), d) == ({"a", "b", "d"},) * 2
    assert components(world(lines, stops, [not_created]), a) == ({"a", "b", "d"},) * 2
    elsewhere = ticket("x", "d")  # a recorded child that went onto another Track
    recorder = ticket("a-1", "a", children=("x",))
    assert components(world(lines, stops, [recorder, elsewhere]), d) == ({"a", "b", "d"},) * 2
    assert components(world(lines, stops, [recorder, elsewhere]), a) == ({"a", "b", "d"},) * 2


def test_the_index_follows_puts_and_removals() -> None:
    index = scope.Index.of(world(LINES, STOPS))
    c = model.TrackRef(NS, "c")
    assert {r.name for r in index.tracks_with([c])} == {"c"}
    holder = ticket("c-1", "c", state=model.TicketState.DEPLOYING, station="b1")
    index.put_ticket(holder.ref, holder)
    assert {r.name for r in index.tracks_with([c])} == {"a", "b", "c"}
    index.put_ticket(holder.ref, dataclasses.replace(holder, status=model.TicketStatus(station="c1")))
    assert {r.name for r in index.tracks_with([c])} == {"c"}
    index.put_track(model.TrackRef(NS, "c"), track("c", ("c1", "shared")))
    assert {r.name for r in index.tracks_with([c])} == {"a", "b", "c"}
    index.put_track(model.TrackRef(NS, "c"), None)
    assert model.TrackRef(NS, "c") not in index.tracks
    assert {r.name for r in index.tracks_with([c])} == {"c"}  # its ticket still names it
    assert index.affected(scope.Changed(tickets=frozenset({(NS, "gone")}))) is None
    assert {r.name for r in index.affected(scope.Changed(apps=frozenset({app("a1-app")}))) or ()} == {"a", "b"}
