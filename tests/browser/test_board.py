"""The departure board in a real browser (Debian's chromium through Playwright) against the real stack:
the web part under gunicorn watches the API, a k8sta-daemon moves tickets along a sample railway, and the
open page follows them over Server-Sent Events without reloading."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from kubernetes import client as k8s
from playwright.sync_api import Browser, Page, expect
from web.identities import account_token, bearer, grant  # tests/ is the rootdir of the test packages

from k8sta_devstack.railway import Railway, base, overlay

from .conftest import RIDE_SECONDS, Daemon, Web

pytestmark = pytest.mark.stack

TICKET = 'li.ticket[data-ticket="{name}"]'


def gated_line(rail: Railway) -> str:
    """dev -> staging (approval required) -> prod, one Application each; returns the config commit."""
    config = rail.commit({**base(), **overlay("dev"), **overlay("staging"), **overlay("prod")})
    for env in ("dev", "staging", "prod"):
        rail.application(env)
    rail.station("dev", ["dev"])
    rail.station("staging", ["staging"], approvalRequired=True)
    rail.station("prod", ["prod"])
    rail.track("main-line", ["dev", "staging", "prod"])
    return config


def reason_of(page: Page, name: str) -> str:
    return page.locator(TICKET.format(name=name) + " .reason").inner_text()


def test_the_open_board_follows_tickets_live_and_says_why_each_waits(
        railway: Railway, daemon: Daemon, web: Web, browser: Browser, kube_api: k8s.ApiClient,
        tmp_path: Path) -> None:
    config = gated_line(railway)
    # callers are Kubernetes users: no token, no board; a token of someone who may not list here, no tickets
    assert requests.get(web.board(railway.namespace), timeout=30).status_code == 401
    stranger = bearer(account_token(kube_api, railway.namespace, "board-stranger"))
    refused = requests.get(f"{web.url}/board/tickets/{railway.namespace}/api-1", headers=stranger, timeout=30)
    assert refused.status_code == 403
    grant(kube_api, railway.namespace, railway.namespace, "board-viewer")
    viewer = bearer(account_token(kube_api, railway.namespace, "board-viewer"))
    context = browser.new_context(viewport={"width": 1280, "height": 800}, extra_http_headers=viewer)
    page = context.new_page()
    page.set_default_timeout(RIDE_SECONDS * 1000)
    page.goto(web.board(railway.namespace))
    track = page.locator(f'section[id="track/{railway.namespace}/main-line"]')
    expect(track.locator(".empty")).to_have_text("no tickets on this track")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.k8staMarker = 'the page that was loaded first'")

    # api-1 rides to dev and stops before the gate; api-2 queues behind it: both say why, live.
    railway.ticket("api-1", "main-line", config, "2.0.1")
    expect(page.locator(TICKET.format(name="api-1"))).to_have_attribute("data-state", "AwaitingApproval")
    assert reason_of(page, "api-1") == "waiting for approval to depart into station staging"
    expect(page.locator(TICKET.format(name="api-1") + " .where")).to_have_text("at dev")
    expect(track.locator('svg a.train[data-ticket="api-1"]')).to_have_attribute("data-state", "AwaitingApproval")
    expect(track.locator("svg .gate-label")).to_have_text("approval pending: api-1")
    railway.ticket("api-2", "main-line", config, "2.0.2", approvedStations=["staging"])
    expect(page.locator(TICKET.format(name="api-2") + " .reason")).to_have_text(
        "waiting to board into station dev: held by ticket api-1")
    expect(page.locator(TICKET.format(name="api-2") + " .where")).to_have_text("before the first station")
    page.screenshot(path=tmp_path / "board-waiting.png", full_page=True)

    # the same board without JavaScript: a plain page that says the same
    plain = browser.new_context(java_script_enabled=False, extra_http_headers=viewer)
    try:
        static = plain.new_page()
        static.goto(web.board(railway.namespace))
        expect(static.locator(TICKET.format(name="api-2") + " .reason")).to_have_text(
            "waiting to board into station dev: held by ticket api-1")
        expect(static.locator("#live")).to_have_text("live updates need JavaScript")
    finally:
        plain.close()

    # approved, both ride to the end; the page that was loaded first shows it (no reload happened)
    railway.patch_ticket("api-1", {"approvedStations": ["staging"]})
    for name in ("api-1", "api-2"):
        expect(page.locator(TICKET.format(name=name))).to_have_attribute("data-state", "Completed")
    assert page.evaluate("window.k8staMarker") == "the page that was loaded first"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert page.evaluate("window.k8staBoard.updates") >= 6  # every move arrived as an SSE event
    expect(track.locator(".empty")).to_have_text("no tickets on this track")
    page.screenshot(path=tmp_path / "board-completed.png", full_page=True)

    # the ticket page: its journey (times, pushed commits) and its Events
    track.locator("details.recent summary").click()
    page.locator(TICKET.format(name="api-1") + " > a").click()
    expect(page).to_have_title(f"Ticket {railway.namespace}/api-1: K8sTA")
    expect(page.locator("#state")).to_have_text("Completed")
    rows = page.locator("#journey tbody tr")
    expect(rows).to_have_count(3)
    for index, env in enumerate(("dev", "staging", "prod")):
        row = rows.nth(index)
        expect(row).to_have_attribute("data-station", env)
        expect(row).to_have_attribute("data-state", "Departed")
        commit = row.locator(".pushed").get_attribute("data-commit")
        assert commit is not None and commit in railway.repo.git(["log", "--format=%H", f"env/{env}"]).split()
        message = railway.repo.git(["log", "-1", "--format=%B", commit])  # api-2 pushed after it: not the head
        assert f"K8sTA-Ticket: {railway.namespace}/api-1" in message and f"K8sTA-Station: {env}" in message
        expect(row.locator("time")).to_have_count(3)  # entered, arrived, departed
    events = page.locator("#events").inner_text()
    for reason in ("Boarded", "AwaitingApproval", "Entered", "Completed"):
        assert reason in events
    page.screenshot(path=tmp_path / "ticket.png", full_page=True)
    context.close()
