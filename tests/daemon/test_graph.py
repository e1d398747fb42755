"""Track graph checks: cycles through junction Stations and unresolved references are refused."""

from __future__ import annotations

import pytest

from k8sta_daemon.core import graph, model

from .sim import NS, station, track

R = model.ConditionReason


def _t(name: str) -> model.TrackRef:
    return model.TrackRef(NS, name)


@pytest.mark.parametrize("tracks, stations, expected", [
    pytest.param([track("a", ("s1", "s2"))], [station("s1"), station("s2")], {"a": R.VALID}, id="simple"),
    pytest.param([track("a", ("s1",)), track("b", ("s2",))], [station("s1", tracks=("b",)), station("s2")],
                 {"a": R.VALID, "b": R.VALID}, id="junction-tree"),
    pytest.param([track("a", ("s1",)), track("b", ("s2",)), track("c", ("s3",))],
                 [station("s1", tracks=("b", "c")), station("s2", tracks=("c",)), station("s3")],
                 {"a": R.VALID, "b": R.VALID, "c": R.VALID}, id="diamond-is-not-a-cycle"),
    pytest.param([track("a", ("s1",))], [station("s1", tracks=("a",))], {"a": R.CYCLE_DETECTED},
                 id="self-loop"),
    pytest.param([track("a", ("s1",)), track("b", ("s2",))],
                 [station("s1", tracks=("b",)), station("s2", tracks=("a",))],
                 {"a": R.CYCLE_DETECTED, "b": R.CYCLE_DETECTED}, id="two-cycle"),
    pytest.param([track("a", ("s1",)), track("b", ("s2",)), track("c", ("s3",)), track("d", ("s4",))],
                 [station("s1", tracks=("b",)), station("s2", tracks=("c",)), station("s3", tracks=("a",)),
                  station("s4", tracks=("a",))],
                 {"a": R.CYCLE_DETECTED, "b": R.CYCLE_DETECTED, "c": R.CYCLE_DETECTED, "d": R.VALID},
                 id="three-cycle-and-a-feeder"),
    pytest.param([track("a", ("s1",)), track("b", ("s2",))],
                 [station("s1", tracks=("b",), disabled=True), station("s2", tracks=("a",))],
                 {"a": R.CYCLE_DETECTED, "b": R.CYCLE_DETECTED}, id="disabled-station-still-counts"),
    pytest.param([track("a", ("s1", "nope"))], [station("s1")], {"a": R.STATION_NOT_FOUND}, id="missing-station"),
    pytest.param([track("a", ())], [], {"a": R.STATION_NOT_FOUND}, id="no-stations"),
    pytest.param([track("a", ("s1", "s1"))], [station("s1")], {"a": R.DUPLICATE_STATION}, id="duplicate"),
    pytest.param([track("a", ("s1",))], [station("s1", tracks=("ghost",))], {"a": R.JUNCTION_TRACK_NOT_FOUND},
                 id="missing-junction-track"),
    pytest.param([track("a", ("s1",), disabled=True)], [station("s1")], {"a": R.DISABLED}, id="disabled"),
    pytest.param([track("a", ("nope",), disabled=True)], [], {"a": R.STATION_NOT_FOUND},
                 id="structure-reported-before-disabled"),
    pytest.param([track("a", ("x", "y")), track("b", ("y", "x"))], [station("x"), station("y")],
                 {"a": R.STATION_ORDER_CONFLICT, "b": R.STATION_ORDER_CONFLICT}, id="shared-in-opposite-order"),
    pytest.param([track("a", ("x", "m", "y")), track("b", ("y", "x"))],
                 [station("x"), station("m"), station("y")],
                 {"a": R.STATION_ORDER_CONFLICT, "b": R.STATION_ORDER_CONFLICT},
                 id="opposite-order-with-a-station-between"),
    pytest.param([track("a", ("x", "y")), track("b", ("y", "z")), track("c", ("z", "x")), track("d", ("x",))],
                 [station("x"), station("y"), station("z")],
                 {"a": R.STATION_ORDER_CONFLICT, "b": R.STATION_ORDER_CONFLICT, "c": R.STATION_ORDER_CONFLICT,
                  "d": R.VALID}, id="three-tracks-rotating"),
    pytest.param([track("a", ("x", "y", "z")), track("b", ("w", "x", "z"))],
                 [station("w"), station("x"), station("y"), station("z")],
                 {"a": R.VALID, "b": R.VALID}, id="shared-in-the-same-order"),
    pytest.param([track("a", ("x", "j")), track("b", ("x2",))], [station("x"), station("j", tracks=("b",)),
                                                               station("x2")],
                 {"a": R.VALID, "b": R.VALID}, id="junction-to-own-stations"),
    pytest.param([track("a", ("x", "j")), track("b", ("x",))], [station("x"), station("j", tracks=("b",))],
                 {"a": R.JUNCTION_SHARES_STATION, "b": R.VALID}, id="junction-child-shares-parent-station"),
    pytest.param([track("a", ("x", "j")), track("b", ("k",)), track("c", ("x",))],
                 [station("x"), station("j", tracks=("b",)), station("k", tracks=("c",))],
                 {"a": R.JUNCTION_SHARES_STATION, "b": R.VALID, "c": R.VALID},
                 id="grandchild-shares-parent-station"),
])
def test_check_tracks(tracks: list[model.TrackSpec], stations: list[model.StationSpec],
                      expected: dict[str, model.ConditionReason]) -> None:
    verdicts = graph.check_tracks({t.ref: t for t in tracks}, {s.ref: s for s in stations})
    assert {ref.name: v.reason for ref, v in verdicts.items()} == expected
    for verdict in verdicts.values():
        assert verdict.message
        assert verdict.condition().status is (
            model.ConditionStatus.TRUE if verdict.ok else model.ConditionStatus.FALSE)


def test_opposite_order_names_the_tracks_and_stations() -> None:
    tracks = [track("a", ("x", "y")), track("b", ("y", "x")), track("c", ("q",))]
    verdicts = graph.check_tracks({t.ref: t for t in tracks}, {s.ref: s for s in (station("x"), station("y"),
                                                                                  station("q"))})
    message = verdicts[_t("a")].message
    assert verdicts[_t("b")].message == message
    assert "tracks a, b" in message and "stations x, y" in message
    assert "a: x -> y" in message and "b: y -> x" in message and "deadlock" in message
    assert verdicts[_t("c")].ok


def test_junction_sharing_names_the_child_track_and_station() -> None:
    tracks = [track("a", ("x", "j")), track("b", ("x",))]
    verdicts = graph.check_tracks({t.ref: t for t in tracks},
                                  {s.ref: s for s in (station("x"), station("j", tracks=("b",)))})
    assert "track b" in verdicts[_t("a")].message and "station(s) x" in verdicts[_t("a")].message


def test_cycle_path_names_the_tracks_in_order() -> None:
    edges = {_t("a"): (_t("b"),), _t("b"): (_t("c"),), _t("c"): (_t("a"),), _t("d"): (_t("a"),)}
    cycles = graph.find_cycles(edges)
    assert set(cycles) == {_t("a"), _t("b"), _t("c")}
    assert [t.name for t in cycles[_t("b")]] == ["a", "b", "c", "a"]


def test_long_chain_does_not_recurse() -> None:
    n = 5000
    edges = {_t(f"t{i:05d}"): (_t(f"t{i + 1:05d}"),) for i in range(n)}
    edges[_t(f"t{n:05d}")] = (_t("t00000"),)
    assert len(graph.find_cycles(edges)) == n + 1
    edges[_t(f"t{n:05d}")] = ()
    assert graph.find_cycles(edges) == {}


@pytest.mark.parametrize("tracks, stations, expected", [
    pytest.param([track("a", ("x",)), track("b", ("y",))], [station("x", ("app",)), station("y", ("app",))],
                 {"a": R.APPLICATION_SHARED, "b": R.APPLICATION_SHARED}, id="two-tracks"),
    pytest.param([track("a", ("x", "y"))], [station("x", ("app", "x-only")), station("y", ("app",))],
                 {"a": R.APPLICATION_SHARED}, id="one-track"),
    pytest.param([track("a", ("x",)), track("b", ("y",)), track("c", ("z",))],
                 [station("x", ("app",)), station("y", ("app",)), station("z", ("other",))],
                 {"a": R.APPLICATION_SHARED, "b": R.APPLICATION_SHARED, "c": R.VALID}, id="a-third-track-is-fine"),
    pytest.param([track("a", ("x",)), track("b", ("y",), disabled=True)],
                 [station("x", ("app",)), station("y", ("app",), disabled=True)],
                 {"a": R.APPLICATION_SHARED, "b": R.APPLICATION_SHARED}, id="disabled-still-counts"),
    pytest.param([track("a", ("x",))], [station("x", ("app",)), station("spare", ("app",))],
                 {"a": R.VALID}, id="a-station-on-no-track-takes-no-tickets"),
    pytest.param([track("a", ("x", "y")), track("b", ("y",))], [station("x", ("app",)), station("y", ("other",))],
                 {"a": R.VALID, "b": R.VALID}, id="a-shared-station-is-not-a-shared-application"),
])
def test_two_stations_naming_one_application_are_refused(tracks: list[model.TrackSpec],
                                                         stations: list[model.StationSpec],
                                                         expected: dict[str, model.ConditionReason]) -> None:
    verdicts = graph.check_tracks({t.ref: t for t in tracks}, {s.ref: s for s in stations})
    assert {ref.name: v.reason for ref, v in verdicts.items()} == expected
    for ref, verdict in verdicts.items():
        if verdict.reason is R.APPLICATION_SHARED:
            assert "application argocd/app is named by stations x, y" in verdict.message, ref
