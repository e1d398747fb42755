"""Property-based tests: random topologies (shared Stations, opposite orders, junctions, cycles,
Applications with and without automated sync, renders a snapshot does not change) and random event
sequences (tickets created, the fake Argo CD comparing, syncing, failing, rolling out, erroring,
health flips, approvals, retries, abandons, toggles, holds, rollbacks and resumes, time passing) are
driven through decide + the simulator; sim.Sim checks the invariants after every applied decision:

- never two tickets at one Station (a malformed Ticket keeps its Station); never a newer ticket
  ahead of an older one on a Track;
- never a lost ticket, and terminal states stay terminal (only Failed leaves, by retry);
- a ticket is never marked arrived unless every Application truly runs its pushed commit's render,
  with no operation running and its workloads Healthy (the simulator's ground truth, not decide's rule);
- per ticket, the actions come in contract order and every Event comes with its status change;
- on a held Track no ticket boards but the hold's own (a rollback's), whoever created it: intake,
  a junction or the CLI;
- decide never asks Argo CD for a sync its rules refuse (a revision named while automated sync is on),
  and a sync prunes exactly as the Application's own policy says;
- junction children are spawned only after the parent arrived at the junction, and every child a
  parent records exists in the end, even when creates fail;
- decide is deterministic and independent of map order, and settles without outside change.

After the random phase a drain (approve everything, enable everything, resume every Track, Argo CD
cooperative, time passing) must bring every ticket on a valid Track to a terminal state: nothing is stuck for good.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from k8sta_daemon.core import graph, model

from .sim import NS, Sim, app, station, track

H = model.HealthStatus
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Topology:
    tracks: tuple[model.TrackSpec, ...]
    stations: tuple[model.StationSpec, ...]
    manual: tuple[str, ...] = ()  # Applications without automated sync (decide requests the syncs)
    static: tuple[str, ...] = ()  # Applications whose render a new snapshot does not change


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    manual: list[str] = []
    static: list[str] = []

    def make_station(name: str) -> model.StationSpec:
        apps = tuple(f"{name}-x{i}" for i in range(draw(st.integers(0, 2))))
        manual.extend(a for a in apps if draw(st.sampled_from([False, False, True])))
        static.extend(a for a in apps if draw(st.sampled_from([False, False, True])))
        return station(
            name, apps,
            approval_required=draw(st.booleans().map(lambda b: b and draw(st.booleans()))),
            soak_seconds=draw(st.sampled_from([0, 0, 30])),
            timeout_seconds=draw(st.sampled_from([None, None, 120])),
            degraded_grace_seconds=draw(st.sampled_from([0, 0, 45])),
            disabled=draw(st.sampled_from([False, False, False, True])),
        )

    a_stations = [make_station(f"a{i}") for i in range(draw(st.integers(1, 4)))]
    b_stations = [make_station(f"b{i}") for i in range(draw(st.integers(1, 2)))]
    shape = draw(st.sampled_from(["alone", "independent", "junction", "cycle", "shared", "opposite",
                                  "junction_shared", "shared_app"]))
    boarding = draw(st.sampled_from(list(model.Boarding)))
    tracks = [track("a", tuple(s.name for s in a_stations), boarding=boarding)]
    stations = list(a_stations)
    if shape != "alone":
        b_names = tuple(s.name for s in b_stations)
        if shape == "shared":
            b_names = (*b_names, a_stations[-1].name)
        elif shape == "opposite":  # a's first and last Stations in reverse order: a deadlock if allowed
            b_names = (a_stations[-1].name, a_stations[0].name) if len(a_stations) > 1 else b_names
        elif shape == "junction_shared":  # a's junction leads to b, which shares a's last Station
            b_names = (*b_names, a_stations[-1].name)
        tracks.append(track("b", b_names, boarding=draw(st.sampled_from(list(model.Boarding)))))
        if shape == "shared_app":  # b's first Station also names a's first Station's Applications: refused
            b_stations[0] = dataclasses.replace(b_stations[0], applications=a_stations[0].applications)
        stations.extend(b_stations)
    if shape in ("junction", "cycle", "junction_shared"):
        index = draw(st.integers(0, len(a_stations) - 1))
        stations[index] = dataclasses.replace(stations[index], tracks=("b",))
    if shape == "cycle":
        stations[-1] = dataclasses.replace(stations[-1], tracks=("a",))
    return Topology(tuple(tracks), tuple(stations), tuple(manual), tuple(static))


ARGO_OPS = ["refresh", "refresh", "finish", "finish", "fail", "rollout", "comparison_error", "hand_edit",
            "hand_edit_unseen", "repoint", "rerender", *(f"health:{h.value}" for h in H)]

_create = st.tuples(st.just("create"), st.integers(0, 1))
_argo_step = st.tuples(st.just("argo"), st.integers(0, 50), st.sampled_from(ARGO_OPS))
_converge = st.tuples(st.just("converge_all"),
                      st.sampled_from([H.HEALTHY, H.HEALTHY, H.DEGRADED, H.SUSPENDED, H.PROGRESSING]))
_retry = st.tuples(st.just("retry"), st.integers(0, 50))
events = st.one_of(
    _create, _create, _argo_step, _argo_step, _argo_step, _argo_step, _converge, _converge, _retry,
    st.tuples(st.just("time"), st.sampled_from([1, 10, 30, 60, 200])),
    st.tuples(st.just("approve"), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("abandon"), st.integers(0, 50), st.sampled_from([True, False, False, False])),
    st.tuples(st.just("toggle_station"), st.integers(0, 50)),
    st.tuples(st.just("toggle_app"), st.integers(0, 50)),
    st.tuples(st.just("spawn_fails"), st.integers(1, 3)),
    st.tuples(st.just("corrupt"), st.integers(0, 50)),
    st.tuples(st.just("uncorrupt"), st.integers(0, 50)),
    st.tuples(st.just("hold"), st.integers(0, 1), st.booleans()),  # True: a rollback (hold, then its ticket)
    st.tuples(st.just("resume"), st.integers(0, 1)),
)


def _apps(sim: Sim) -> list[model.AppRef]:
    """Applications of held Stations first-class: changing those is what matters most."""
    held = {t.status.station for t in sim.tickets.values() if t.status.station and not t.status.state.terminal}
    busy = sorted(a for s in sim.stations.values() if s.name in held for a in s.applications)
    return busy or sorted(sim.apps)


def _pick(items: list[str], preferred: list[str], index: object) -> str:
    """Half of the time choose among the tickets where the event matters."""
    i = int(index)  # type: ignore[call-overload]
    pool = preferred if preferred and i % 2 == 0 else items
    return pool[(i // 2) % len(pool)]


def _argo(sim: Sim, ref: model.AppRef, op: str) -> None:
    """One step of the fake Argo CD for one Application (see sim.py: documented behaviour only)."""
    if op == "refresh":
        sim.refresh(ref)
    elif op == "finish":
        sim.finish(ref)
    elif op == "fail":
        sim.finish(ref, ok=False)
    elif op == "rollout":
        sim.rollout(ref)
    elif op == "hand_edit":  # a human commit on the app branch (repaired: every Station has selfHeal)
        sim.hand_edit(ref)
    elif op == "hand_edit_unseen":  # the same, before the drift watcher's next scan: a push may meet it first
        sim.hand_edit(ref, seen=False)
    elif op == "repoint":  # someone moves the Application to the other of two app branches
        now = sim.argo[ref].status.target_revision
        sim.repoint(ref, f"env/{ref.name}" if now != f"env/{ref.name}" else f"env/{ref.name}-blue")
    elif op == "rerender":  # an overlay-only main commit re-rendered onto a K8sTA head (same pins)
        if sim.heads[ref][0] is not None and ref not in sim.human:
            sim.rerender(ref)
    elif op == "comparison_error":
        sim.comparison_error(ref, "rpc error: plugin k8sta: rendered sha256 does not match recorded")
    elif op.startswith("health:"):
        sim.set_health(ref, H(op.split(":", 1)[1]))


def _apply(sim: Sim, event: tuple[object, ...]) -> None:
    kind = event[0]
    names = sorted(t.name for t in sim.tickets.values())
    station_names = sorted(ref.name for ref in sim.stations)
    apps = _apps(sim)
    if kind == "create":
        sim.create(sorted(ref.name for ref in sim.tracks)[int(event[1]) % len(sim.tracks)])  # type: ignore[call-overload]
    elif kind == "argo" and apps:
        _argo(sim, apps[int(event[1]) % len(apps)], str(event[2]))  # type: ignore[call-overload]
    elif kind == "converge_all":
        sim.argo_converge(event[1])  # type: ignore[arg-type]
    elif kind == "time":
        sim.now += float(event[1])  # type: ignore[arg-type]
    elif kind == "approve" and names:
        awaiting = sorted(t.name for t in sim.tickets.values()
                          if t.status.state is model.TicketState.AWAITING_APPROVAL)
        gated = sorted(s.name for s in sim.stations.values() if s.approval_required)
        sim.approve(_pick(names, awaiting, event[1]), _pick(station_names, gated, event[2]))
    elif kind == "retry" and names:
        failed = sorted(t.name for t in sim.tickets.values() if t.status.state is model.TicketState.FAILED)
        sim.retry(_pick(names, failed, event[1]))
    elif kind == "abandon" and names and event[2]:
        sim.edit(names[int(event[1]) % len(names)], abandon=True)  # type: ignore[call-overload]
    elif kind == "corrupt" and names:
        sim.corrupt(names[int(event[1]) % len(names)])  # type: ignore[call-overload]
    elif kind == "uncorrupt" and sim.malformed:
        broken = sorted(ref.name for ref in sim.malformed)
        sim.uncorrupt(broken[int(event[1]) % len(broken)])  # type: ignore[call-overload]
    elif kind == "hold":
        name = sorted(ref.name for ref in sim.tracks)[int(event[1]) % len(sim.tracks)]  # type: ignore[call-overload]
        if event[2]:  # k8sta rollback: the hold first, naming the ticket it then creates
            rollback = f"rb{sim.counter + 1:03d}"
            sim.hold(name, f"rollback (ticket {rollback})", rollback)
            sim.create(name, name=rollback)
        else:
            sim.hold(name, "by an operator")
    elif kind == "resume":
        sim.resume(sorted(ref.name for ref in sim.tracks)[int(event[1]) % len(sim.tracks)])  # type: ignore[call-overload]
    elif kind == "spawn_fails":
        sim.fail_spawns += int(event[1])  # type: ignore[call-overload]
    elif kind == "toggle_station":
        name = station_names[int(event[1]) % len(station_names)]  # type: ignore[call-overload]
        sim.set_station(name, disabled=not sim.stations[model.StationRef(NS, name)].disabled)
    elif kind == "toggle_app":
        with_apps = [s for s in sim.stations.values() if s.applications]
        if with_apps:
            spec = with_apps[int(event[1]) % len(with_apps)]  # type: ignore[call-overload]
            ref = spec.applications[int(event[1]) % len(spec.applications)]  # type: ignore[call-overload]
            sim.set_station(spec.name, disabled_applications=spec.disabled_applications ^ {ref})


def _drain(sim: Sim, rounds: int = 40) -> None:
    """Fix malformed tickets, approve and enable everything, let Argo CD converge Healthy, time pass."""
    for ref in list(sim.malformed):
        sim.uncorrupt(ref.name)
    sim.unseen.clear()  # the drift watcher scans every --drift-seconds
    for ref in list(sim.stations):
        sim.set_station(ref.name, disabled=False, disabled_applications=frozenset())
    for ref in list(sim.tracks):
        sim.resume(ref.name)
    for _ in range(rounds):
        for ticket in list(sim.tickets.values()):
            sim.edit(ticket.name, approved_stations=frozenset(r.name for r in sim.stations))
        sim.argo_converge()
        sim.settle()
        sim.now += 100
        if all(t.status.state.terminal for t in sim.tickets.values()):
            return


# Always tried: two Tracks sharing Stations in opposite order, one ticket on each (a deadlock if allowed).
OPPOSITE = Topology((track("a", ("a0", "a1")), track("b", ("a1", "a0"))), (station("a0", ("a0-x0",)),
                                                                         station("a1", ("a1-x0",))))


@SETTINGS
@given(topology=topologies(), script=st.lists(events, min_size=10, max_size=60))
@example(topology=OPPOSITE, script=[("create", 0), ("create", 1), ("converge_all", H.HEALTHY)])
def test_invariants_hold_for_random_event_sequences(topology: Topology, script: list[tuple[object, ...]]) -> None:
    sim = Sim.of(list(topology.tracks), list(topology.stations), manual=topology.manual, static=topology.static)
    sim.settle()
    for event in script:
        _apply(sim, event)
        sim.settle()
    _drain(sim)
    for ticket in list(sim.tickets.values()):  # junction children are never lost
        for child in ticket.status.children:
            assert model.TicketRef(NS, child) in sim.tickets, f"{ticket.name}'s child {child} was never created"
    verdicts = graph.check_tracks(sim.tracks, sim.stations)
    for ticket in sim.tickets.values():
        if verdicts[ticket.track_ref].ok:
            assert ticket.status.state.terminal, (
                f"{ticket.name} stuck: {ticket.status.state} at {ticket.status.station}: {ticket.status.message}")
        else:
            # the topology is static, so a refused Track was refused from the start: nobody moved on it
            assert not ticket.status.boarded, (
                f"{ticket.name} moved on track {ticket.track} refused as {verdicts[ticket.track_ref].reason}")


@SETTINGS
@given(boarding=st.sampled_from(list(model.Boarding)), n_stations=st.integers(1, 4),
       gaps=st.lists(st.sampled_from([0, 1, 5, 20, 50]), min_size=1, max_size=8),
       soak=st.sampled_from([0, 10]))
def test_cooperative_argo_every_ticket_finishes(boarding: model.Boarding, n_stations: int, gaps: list[int],
                                               soak: int) -> None:
    """With a healthy Argo CD every ticket completes or is superseded; every-ticket-rides completes all,
    and the completion order is the creation order."""
    names = tuple(f"s{i}" for i in range(n_stations))
    sim = Sim.of([track("line", names, boarding=boarding)],
                 [station(n, (f"{n}-app",), soak_seconds=soak) for n in names])
    created: list[str] = []
    for gap in gaps:
        sim.now += gap
        created.append(sim.create("line").name)
        sim.argo_converge()
        sim.settle()
    completed_order: list[str] = []
    for _ in range(10 * (n_stations + len(gaps))):
        sim.now += 10
        sim.argo_converge()
        sim.settle()
        for ticket in sorted(sim.tickets.values(), key=lambda t: t.order_key):
            if ticket.status.state is model.TicketState.COMPLETED and ticket.name not in completed_order:
                completed_order.append(ticket.name)
        if all(t.status.state.terminal for t in sim.tickets.values()):
            break
    states = {t.name: t.status.state for t in sim.tickets.values()}
    assert set(states.values()) <= {model.TicketState.COMPLETED, model.TicketState.SUPERSEDED}, states
    assert states[created[-1]] is model.TicketState.COMPLETED
    if boarding is model.Boarding.EVERY_TICKET_RIDES:
        assert set(states.values()) == {model.TicketState.COMPLETED}
    assert completed_order == sorted(completed_order, key=lambda n: sim.ticket(n).order_key)
    for name in completed_order:
        journey = sim.ticket(name).status.journey
        assert [r.station for r in journey] == list(names)
        for record in journey:
            assert record.arrived_at is not None and record.departed_at is not None
            assert record.healthy_since is not None and record.departed_at - record.healthy_since >= soak
            (pushed,) = record.pushed
            assert pushed.app == app(f"{record.station}-app")


# -- a shared Station: the longest waiter enters first ------------------------------------------


def _waiting_since(ticket: model.Ticket, tickets: dict[model.TicketRef, model.Ticket], sim: Sim) -> float:
    """decide's definition, restated: a boarded ticket waits from the end of its soak at its Station;
    before boarding, a Track's request waits from its oldest ticket still waiting to board."""
    visits = [r for r in ticket.status.journey if r.state is not model.JourneyState.SKIPPED]
    if not visits:
        return min(t.created for t in tickets.values() if t.track == ticket.track
                   and not t.status.state.terminal and not t.status.boarded)
    record = visits[-1]
    assert record.healthy_since is not None, f"{ticket.name} left {record.station} without arriving"
    return record.healthy_since + sim.stations[model.StationRef(NS, record.station)].soak_seconds


def _check_fair_entry(sim: Sim, before: dict[model.TicketRef, model.Ticket], into: str) -> None:
    """No ticket that only occupancy keeps out of ``into`` waited longer than the one that entered."""
    entrants = [t for t in sim.tickets.values()
                if t.status.station == into and before[t.ref].status.station != into and t.ref in before]
    for entrant in entrants:
        left = dataclasses.replace(entrant.status, journey=entrant.status.journey[:-1])  # the visit it left
        entered_since = _waiting_since(dataclasses.replace(entrant, status=left), before, sim)
        for waiter in sim.tickets.values():
            spec = sim.tracks[waiter.track_ref]
            if waiter.track == entrant.track or waiter.status.state is not model.TicketState.WAITING \
                    or f"into station {into}: held by ticket {entrant.name}" not in waiter.status.message:
                continue
            here = spec.stations.index(waiter.status.station) if waiter.status.station else -1
            ahead = [t.name for t in sim.tickets.values() if t.track == waiter.track and not t.status.state.terminal
                     and t.status.station in spec.stations[here + 1:spec.stations.index(into) + 1]]
            if ahead:  # it would overtake its own Track's ticket: not a claim on the Station
                continue
            waited = _waiting_since(waiter, sim.tickets if waiter.status.boarded else before, sim)
            assert entered_since <= waited, (
                f"{entrant.name} ({entrant.track}, waiting since {entered_since}) entered {into} ahead of "
                f"{waiter.name} ({waiter.track}, waiting since {waited})")


@st.composite
def contended(draw: st.DrawFn) -> tuple[Sim, list[tuple[str, int]]]:
    names = draw(st.lists(st.sampled_from(["alpha", "mid", "zulu"]), min_size=2, max_size=3, unique=True))
    shapes = [draw(st.sampled_from(["before", "after", "between"])) for _ in names]
    paths = [{"before": (f"{n}-1", "shared"), "after": ("shared", f"{n}-2"),
              "between": (f"{n}-1", "shared", f"{n}-2")}[shape] for n, shape in zip(names, shapes, strict=True)]
    tracks = [track(n, path, boarding=draw(st.sampled_from(list(model.Boarding))))
              for n, path in zip(names, paths, strict=True)]
    stations = [station(s, (f"{s}-app",), soak_seconds=draw(st.sampled_from([0, 10, 30])))
                for s in sorted({s for t in tracks for s in t.stations})]
    script = draw(st.lists(st.tuples(st.sampled_from(["create", "time", "converge"]), st.integers(0, 5)),
                           min_size=5, max_size=20))
    return Sim.of(tracks, stations), script


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=contended())
def test_the_longest_waiter_enters_a_shared_station_first(case: tuple[Sim, list[tuple[str, int]]]) -> None:
    """Whatever the Tracks are called and however busy each is, no ticket that occupancy alone keeps
    out of a shared Station waited longer than the one that enters it; and everyone gets through."""
    sim, script = case
    names = sorted(ref.name for ref in sim.tracks)

    def settle() -> None:
        for _ in range(40):
            before = dict(sim.tickets)
            if not sim.step():
                return
            _check_fair_entry(sim, before, "shared")
        raise AssertionError("decide did not settle")

    for kind, n in script:
        if kind == "create":
            sim.create(names[n % len(names)])
        elif kind == "time":
            sim.now += (1, 5, 10, 30, 60, 200)[n]
        else:
            sim.argo_converge()
        settle()
    for _ in range(60):
        sim.argo_converge()
        settle()
        sim.now += 10
        if all(t.status.state.terminal for t in sim.tickets.values()):
            break
    assert all(t.status.state in (model.TicketState.COMPLETED, model.TicketState.SUPERSEDED)
               for t in sim.tickets.values()), {t.name: t.status.message for t in sim.tickets.values()}


@SETTINGS
@given(n_stations=st.integers(1, 3), failing=st.integers(0, 2), manual=st.lists(st.booleans(), min_size=3, max_size=3),
       waited=st.sampled_from([0, 5, 60, 600]))
def test_a_retry_after_a_failed_sync_completes_once_the_cause_is_fixed(n_stations: int, failing: int,
                                                                      manual: list[bool], waited: int) -> None:
    """Issue 19: at any Station, with or without automated sync, a ticket whose sync failed completes
    after a retry once the cause is gone, and Argo CD accepts every sync K8sTA asks for."""
    names = tuple(f"s{i}" for i in range(n_stations))
    at = names[failing % n_stations]
    ref = app(f"{at}-app")
    sim = Sim.of([track("line", names)], [station(n, (f"{n}-app",)) for n in names],
                 manual=tuple(f"{n}-app" for n, m in zip(names, manual, strict=False) if m))
    sim.create("line", name="t")
    for _ in range(10 * n_stations):  # a cooperative Argo CD up to the failing Station's push
        sim.settle()
        if sim.ticket("t").status.station == at and sim.pushed("t", ref.name):
            break
        sim.now += 10
        sim.argo_converge()
    if not sim.argo[ref].status.operation_running:
        sim.refresh(ref)  # automated sync starts the operation (without it, decide has requested it)
    assert sim.argo[ref].status.operation_revision == sim.pushed("t", ref.name)
    sim.now += 5
    sim.finish(ref, ok=False)  # the cause: e.g. a missing namespace, an admission policy
    sim.refresh(ref)
    sim.settle()
    assert sim.ticket("t").status.state is model.TicketState.FAILED
    sim.now += waited  # the cause is fixed on the cluster
    sim.retry("t")
    for _ in range(10 * n_stations):
        sim.settle()
        if sim.ticket("t").status.state is model.TicketState.COMPLETED:
            break
        sim.now += 10
        sim.argo_converge()
    status = sim.ticket("t").status
    assert status.state is model.TicketState.COMPLETED, status.message
    assert all(fake.status.sync_refused is None for fake in sim.argo.values())
