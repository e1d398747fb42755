"""The delivery figures (DORA) on the real stack: tickets ride a junction railway (a hand-made ticket, one
intake makes from a shared-config commit, abandoned at the approval gate, then another that completes),
and the web part under gunicorn shows them on ``/metrics`` and on the namespace's delivery page, which
chromium renders; a web part built afresh shows the same figures (they come from the tickets, not from
memory)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from kubernetes import client as k8s
from playwright.sync_api import Browser, expect
from prometheus_client.parser import text_string_to_metric_families
from web.identities import account_token, bearer, grant  # tests/ is the rootdir of the test packages

from k8sta_daemon.core import codec, delivery
from k8sta_daemon.web import create_app
from k8sta_devstack.railway import Railway, base, overlay
from k8sta_devstack.stack import Stack

from .conftest import RIDE_SECONDS, Daemon, Web

pytestmark = pytest.mark.stack

GROUP, VERSION = "k8sta.io", "v1alpha1"


def junction_line(rail: Railway) -> str:
    """main-line: dev -> prod (approval required; a junction to eu-line: eu); returns the config commit."""
    config = rail.commit({**base(), **overlay("dev"), **overlay("prod"), **overlay("eu")})
    for env in ("dev", "prod", "eu"):
        rail.application(env)
    rail.station("dev", ["dev"])
    rail.station("prod", ["prod"], tracks=["eu-line"], approvalRequired=True)
    rail.station("eu", ["eu"])
    rail.track("main-line", ["dev", "prod"])
    rail.track("eu-line", ["eu"])
    return config


def delivered(rail: Railway, name: str) -> bool:
    """The ticket Completed, and so did its child on eu-line (listed: a child is named before it exists)."""
    states = {t["metadata"]["name"]: (t.get("status") or {}) for t in rail.tickets()}
    children = states[name].get("children") or []
    return (states[name].get("state") == "Completed" and len(children) == 1
            and (states.get(children[0]) or {}).get("state") == "Completed")


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str, namespace: str) -> Samples:
    return {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "namespace"))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.labels.get("namespace") == namespace}


def series(track: str, station: str, **more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"track": track, "station": station, **more}.items()))


def test_delivery_figures_after_rides_on_metrics_and_on_the_page(
        railway: Railway, daemon: Daemon, web: Web, browser: Browser, kube_api: k8s.ApiClient, stack: Stack,
        tmp_path: Path) -> None:
    config = junction_line(railway)
    railway.ticket("api-1", "main-line", config, "1.0.0", approvedStations=["prod"])
    railway.wait("api-1 delivered to eu", lambda: delivered(railway, "api-1"))

    # a shared-config commit: intake makes the ticket and records the commit's time on it
    railway.custom.create_namespaced_custom_object(GROUP, VERSION, railway.namespace, "subscriptions", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
        "metadata": {"name": "config", "namespace": railway.namespace},
        "spec": {"tracks": ["main-line"], "intervalSeconds": 1, "config": {"repoURL": railway.repo.url,
                                                                           "branch": "main"}}})
    railway.wait("the baseline", lambda: ((railway.get("subscriptions", "config").get("status") or {})
                                          .get("found") or {}).get("change") == "baseline")
    shared = railway.commit(base("2"), "shared: version 2")
    made = railway.wait("intake's ticket", lambda: [t for t in railway.tickets()
                                                    if t["spec"]["snapshot"].get("configCommit") == shared])
    (made,) = made
    name = made["metadata"]["name"]
    committed = float(railway.repo.git(["log", "-1", "--format=%ct", shared]).strip())
    assert made["metadata"]["annotations"][delivery.CHANGED_AT_ANNOTATION] == codec.format_time(committed)
    # it waits at the gate into prod; an operator abandons it there: a change failure
    railway.wait(f"{name} at the gate", lambda: railway.state(name) == "AwaitingApproval")
    railway.patch_ticket(name, {"abandon": True})
    railway.wait(f"{name} abandoned", lambda: railway.state(name) == "Abandoned")
    railway.custom.delete_namespaced_custom_object(GROUP, VERSION, railway.namespace, "subscriptions", "config")

    railway.ticket("api-3", "main-line", shared, "1.0.0", approvedStations=["prod"])
    railway.wait("api-3 delivered to eu", lambda: delivered(railway, "api-3"))

    # /metrics of the web part under gunicorn (its cache is at most 10 s old)
    expected = {
        ("k8sta_delivery_deployments_total", series("main-line", "prod")): 2.0,
        ("k8sta_delivery_deployments_total", series("main-line", "eu")): 2.0,
        ("k8sta_delivery_deployments_total", series("eu-line", "eu")): 2.0,
        ("k8sta_delivery_changes_total", series("main-line", "prod")): 3.0,
        ("k8sta_delivery_change_failures_total", series("main-line", "prod", reason="abandoned")): 1.0,
        ("k8sta_delivery_change_failures_total", series("main-line", "eu", reason="abandoned")): 1.0,
        ("k8sta_delivery_change_failures_total", series("eu-line", "eu", reason="abandoned")): 0.0,
        ("k8sta_delivery_lead_time_seconds_count", series("main-line", "eu")): 2.0,
        ("k8sta_delivery_time_to_restore_seconds_count", series("main-line", "prod")): 1.0,
        ("k8sta_delivery_time_to_restore_seconds_count", series("main-line", "eu")): 1.0,
    }

    def scraped() -> Samples:
        return samples(requests.get(f"{web.url}/metrics", timeout=30).text, railway.namespace)

    def shown() -> bool:
        found = scraped()
        return all(found.get(k) == v for k, v in expected.items())

    railway.wait("the delivery figures on /metrics", shown, timeout=30)
    found = scraped()
    tickets = {t["metadata"]["name"]: t for t in railway.tickets()}
    # the lead time of api-3's delivery to eu runs from its creation (a hand-made ticket) to the child's arrival
    def lead_to_eu(parent: str) -> float:
        (record,) = tickets[tickets[parent]["status"]["children"][0]]["status"]["journey"]
        created = tickets[parent]["metadata"]["creationTimestamp"]
        return codec.parse_time(record["arrivedAt"]) - codec.parse_time(created)

    lead_sum = found[("k8sta_delivery_lead_time_seconds_sum", series("main-line", "eu"))]
    assert lead_sum == pytest.approx(lead_to_eu("api-1") + lead_to_eu("api-3"), abs=1.0)

    # a web part built afresh (a restart) reads the same figures: nothing was kept in memory
    fresh = create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig), "NAMESPACE": railway.namespace})
    assert {k: v for k, v in samples(fresh.test_client().get("/metrics").get_data(as_text=True),
                                     railway.namespace).items() if k[0].startswith("k8sta_delivery")} == {
        k: v for k, v in found.items() if k[0].startswith("k8sta_delivery")}

    # the page: only for callers who may list tickets there; chromium draws one picture per series
    stranger = bearer(account_token(kube_api, railway.namespace, "delivery-stranger"))
    page_url = f"{web.url}/board/delivery/{railway.namespace}"
    assert requests.get(page_url, headers=stranger, timeout=30).status_code == 403
    grant(kube_api, railway.namespace, railway.namespace, "delivery-viewer")
    viewer = bearer(account_token(kube_api, railway.namespace, "delivery-viewer"))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=viewer)
    page = context.new_page()
    page.set_default_timeout(RIDE_SECONDS * 1000)
    page.goto(web.board(railway.namespace))
    page.click("#delivery-link")
    expect(page).to_have_url(page_url)
    for track, station in (("main-line", "prod"), ("main-line", "eu"), ("eu-line", "eu")):
        section = page.locator(f'section[id="delivery/{track}/{station}"]')
        expect(section.locator("svg.delivery")).to_be_visible()
    prod = page.locator('section[id="delivery/main-line/prod"]')
    expect(prod.locator('[data-figure="change failure rate"]')).to_have_text("33% (1 of 3)")
    expect(prod.locator('[data-figure="deployments"]')).to_contain_text("2 (")
    expect(prod.locator("svg .restore")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "delivery.png"), full_page=True)  # for a human; kept out of git
    context.close()
