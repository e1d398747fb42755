"""The delivery figures in the web part, off the stack: the Prometheus families ``/metrics`` shows, the page's
SVG (every user-given name escaped), and the page through Flask's test client with the tickets served from
memory (``tests/browser/test_delivery.py`` reads them from the real stack after real rides)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from k8sta_daemon.core import delivery, model
from k8sta_daemon.core.delivery import DAY, Ride
from k8sta_daemon.web import board, boardwatch, create_app, deliverymetrics, kubeclient
from k8sta_daemon.web.sansio import deliverysvg
from k8sta_daemon.web.sansio.boardstate import KINDS

NS = "shop"
EVIL = '"><script>alert(1)</script>'
J = model.JourneyState


def ticket(name: str, created: float, *, track: str = "api", state: model.TicketState = model.TicketState.COMPLETED,
           failed: bool = False) -> model.Ticket:
    """dev then prod, 10 s each; ``failed``: fails at dev instead."""
    if failed:
        journey = (model.JourneyRecord("dev", J.FAILED, entered_at=created + 10, departed_at=created + 20),)
        state = model.TicketState.FAILED
    else:
        journey = (model.JourneyRecord("dev", J.DEPARTED, created + 10, created + 15, created + 20),
                   model.JourneyRecord("prod", J.DEPARTED, created + 20, created + 25, created + 30))
    return model.Ticket(namespace=NS, name=name, uid=name, created=created, track=track,
                        snapshot=model.Snapshot("1" * 40), status=model.TicketStatus(state=state, journey=journey))


class Tickets:
    """What the delivery views read of ``ops.store.Store``, from memory."""

    def __init__(self, rides: list[Ride], track_name: str = "api") -> None:
        self.rides_ = rides
        self.track_name = track_name
        self.reads = 0

    def rides(self, namespace: str | None) -> list[Ride]:
        self.reads += 1
        return [r for r in self.rides_ if namespace in (None, r.ticket.namespace)]

    def tracks(self, namespace: str | None) -> list[model.TrackSpec]:
        return [model.TrackSpec(namespace=NS, name=self.track_name, stations=("dev", "prod"))]

    def stations(self, namespace: str | None) -> dict[model.StationRef, model.StationSpec]:
        return {s.ref: s for s in (model.StationSpec(NS, "dev"), model.StationSpec(NS, "prod"))}


def figures_now() -> tuple[list[Ride], float]:
    now = time.time()
    return [Ride(ticket("api-1", now - 3 * DAY), changed_at=now - 3 * DAY - 600),
            Ride(ticket("api-2", now - 2 * DAY, failed=True)),
            Ride(ticket("api-3", now - DAY))], now


def scrape(collector: deliverymetrics.DeliveryCollector) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry()
    registry.register(collector)
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


SERIES = (("namespace", NS), ("station", "prod"), ("track", "api"))


def labelled(name: str, value: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((*SERIES, (name, value))))


def test_metrics_show_each_figure_per_track_and_terminal_station() -> None:
    rides, _ = figures_now()
    store = Tickets(rides)
    found = scrape(deliverymetrics.DeliveryCollector(lambda: store, NS, ttl=0))  # type: ignore[arg-type,return-value]
    assert found["k8sta_delivery_up"] == {(): 1.0}
    assert found["k8sta_delivery_deployments_total"] == {SERIES: 2.0}
    assert found["k8sta_delivery_changes_total"] == {SERIES: 3.0}
    assert found["k8sta_delivery_change_failures_total"] == {
        labelled("reason", "abandoned"): 0.0,
        labelled("reason", "failed"): 1.0,
        labelled("reason", "rolled_back"): 0.0}
    lead = found["k8sta_delivery_lead_time_seconds_bucket"]
    # api-1: 600 s before its creation + 25 s; api-3: 25 s
    assert lead[labelled("le", "60.0")] == 1.0
    assert lead[labelled("le", "900.0")] == 2.0
    assert lead[labelled("le", "+Inf")] == 2.0
    assert found["k8sta_delivery_lead_time_seconds_sum"] == {SERIES: 650.0}
    assert found["k8sta_delivery_lead_time_seconds_count"] == {SERIES: 2.0}
    # api-2 failed at its creation + 20 s; api-3 completed a day later at its creation + 30 s
    assert found["k8sta_delivery_time_to_restore_seconds_sum"] == {SERIES: DAY + 10}
    assert found["k8sta_delivery_time_to_restore_seconds_count"] == {SERIES: 1.0}


def test_metrics_are_read_again_only_after_the_cache_expires_and_say_when_the_api_is_down() -> None:
    from k8sta_daemon.ops import errors

    rides, _ = figures_now()
    store = Tickets(rides)
    clock = [0.0]
    collector = deliverymetrics.DeliveryCollector(lambda: store, NS, ttl=10, clock=lambda: clock[0])  # type: ignore[arg-type,return-value]
    scrape(collector)
    scrape(collector)
    assert store.reads == 1
    clock[0] = 11
    scrape(collector)
    assert store.reads == 2

    def down() -> Tickets:
        raise errors.Unavailable("the Kubernetes API did not answer")

    found = scrape(deliverymetrics.DeliveryCollector(down, NS, ttl=0))  # type: ignore[arg-type]
    assert found == {"k8sta_delivery_up": {(): 0.0}}


def test_the_svg_of_a_series_draws_its_days_and_escapes_every_name() -> None:
    rides, now = figures_now()
    found = delivery.figures([Ride(ticket(r.ticket.name, r.ticket.created, track=EVIL,
                                          failed=r.ticket.status.state is model.TicketState.FAILED), r.changed_at)
                              for r in rides], [model.TrackSpec(NS, EVIL, ("dev", "prod"))], [])
    (window,) = delivery.last_days(found, now)
    html = str(deliverysvg.render_window(window))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count('class="deploys"') == 2 and html.count('class="failures"') == 1
    assert html.count('class="lead"') == 2 and html.count('class="restore"') == 1
    assert '<dd data-figure="change failure rate">33% (1 of 3)</dd>' in html
    assert '<dd data-figure="median time to restore">1.0d</dd>' in html


@pytest.mark.parametrize(("seconds", "shown"), [(None, "-"), (5, "5s"), (600, "10m"), (5_400, "1.5h"),
                                                 (3 * DAY, "3.0d")])
def test_durations_read_as_people_read_them(seconds: float | None, shown: str) -> None:
    assert deliverysvg.duration(seconds) == shown


@pytest.fixture
def app(unreachable_kubeconfig: Path) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "KUBECONFIG": str(unreachable_kubeconfig), "BOARD_WATCH": False})
    app.extensions[board.AUTHENTICATE] = lambda: None
    app.extensions[board.NAMESPACE_FILTER] = lambda namespace: namespace == NS
    hub: boardwatch.Hub = app.extensions[boardwatch.EXTENSION]
    for kind in KINDS:
        hub.feed(kind, [])
    yield app
    hub.stop()


def test_the_page_of_a_namespace_plots_its_series(app: Flask) -> None:
    rides, _ = figures_now()
    app.extensions[kubeclient.EXTENSION].store = lambda: Tickets(rides)
    page = app.test_client().get(f"/board/delivery/{NS}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'id="delivery/api/prod"' in body and body.count("<svg") == 1
    assert '<dd data-figure="deployments">2 (0.067 a day)</dd>' in body
    assert "/board/static/delivery.css" in body


def test_the_board_links_to_the_delivery_page(app: Flask) -> None:
    app.extensions[board.NAMESPACE_FILTER] = lambda namespace: True
    body = app.test_client().get(f"/board/?namespace={NS}").get_data(as_text=True)
    assert f'href="/board/delivery/{NS}">delivery figures</a>' in body


def test_a_namespace_without_deliveries_says_so(app: Flask) -> None:
    app.extensions[kubeclient.EXTENSION].store = lambda: Tickets([])
    body = app.test_client().get(f"/board/delivery/{NS}").get_data(as_text=True)
    assert 'id="no-figures"' in body and "no deliveries in the last 30 days in namespace shop" in body


def test_a_namespace_the_caller_may_not_see_is_403_before_anything_is_read(app: Flask) -> None:
    def nothing() -> Tickets:
        raise AssertionError("read the tickets of a namespace the caller may not see")

    app.extensions[kubeclient.EXTENSION].store = nothing
    response = app.test_client().get("/board/delivery/secret")
    assert response.status_code == 403 and "may not list tickets in namespace secret" in response.get_data(as_text=True)


def test_without_the_api_the_page_says_why(app: Flask) -> None:
    response = app.test_client().get(f"/board/delivery/{NS}")
    assert response.status_code == 503 and "Kubernetes" in response.get_data(as_text=True)


def test_the_index_lists_the_namespaces_the_caller_may_see_or_goes_to_the_configured_one(
        app: Flask, unreachable_kubeconfig: Path) -> None:
    tickets = Tickets([])
    app.extensions[kubeclient.EXTENSION].store = lambda: tickets
    tickets.tracks = lambda namespace: [model.TrackSpec(ns, "api", ("dev",)) for ns in (NS, "secret")]  # type: ignore[method-assign]
    body = app.test_client().get("/board/delivery/").get_data(as_text=True)
    assert f'<a href="/board/delivery/{NS}">{NS}</a>' in body and "secret" not in body
    configured = create_app({"TESTING": True, "KUBECONFIG": str(unreachable_kubeconfig), "BOARD_WATCH": False,
                             "NAMESPACE": NS})
    configured.extensions[board.AUTHENTICATE] = lambda: None
    answer = configured.test_client().get("/board/delivery/")
    assert answer.status_code == 302 and answer.headers["Location"] == f"/board/delivery/{NS}"
