"""Board actions in a real browser (Debian's chromium through Playwright) against the real stack: a user
without the verb presses Approve and gets 403 with nothing changed; an operator bound to the install's
k8sta-operator rules presses it and the ticket rides on, with an Event naming them."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client as k8s
from playwright.sync_api import Browser, BrowserContext, Page, expect
from web.identities import account_token, acting, bearer, grant, operator_rules  # tests/ is the rootdir

from k8sta_devstack.railway import Railway

from .conftest import RIDE_SECONDS, Daemon, Web
from .test_board import TICKET, gated_line

pytestmark = pytest.mark.stack


def signed_in(browser: Browser, headers: dict[str, str]) -> tuple[BrowserContext, Page]:
    """A browser whose every request carries the user's bearer token, as an authenticating proxy adds it."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, extra_http_headers=headers)
    page = context.new_page()
    page.set_default_timeout(RIDE_SECONDS * 1000)
    return context, page


def press_approve(page: Page, web: Web, namespace: str) -> int:
    """Open api-1's page, check the form offers the gate, press Approve; the status of the answer."""
    page.goto(f"{web.url}/board/tickets/{namespace}/api-1")
    expect(page.locator("#approve-station")).to_have_value("staging")
    with page.expect_response(lambda r: "/board/actions/" in r.url) as answer:
        page.locator("#approve").click()
    return answer.value.status


def test_an_operator_approves_in_chromium_while_a_viewer_gets_403(
        railway: Railway, daemon: Daemon, web: Web, browser: Browser, kube_api: k8s.ApiClient,
        tmp_path: Path) -> None:
    config = gated_line(railway)
    namespace = railway.namespace
    grant(kube_api, namespace, namespace, "board-viewer")
    viewer = bearer(account_token(kube_api, namespace, "board-viewer", audiences=acting(kube_api)))
    grant(kube_api, namespace, namespace, "board-operator", operator_rules())
    operator = bearer(account_token(kube_api, namespace, "board-operator", audiences=acting(kube_api)))
    railway.ticket("api-1", "main-line", config, "2.0.1")

    context, page = signed_in(browser, viewer)
    try:
        page.goto(web.board(namespace))
        expect(page.locator(TICKET.format(name="api-1"))).to_have_attribute("data-state", "AwaitingApproval")
        assert press_approve(page, web, namespace) == 403
        expect(page.locator(".error")).to_contain_text(
            f"forbidden: user system:serviceaccount:{namespace}:board-viewer may not patch tickets.k8sta.io")
        page.screenshot(path=tmp_path / "approve-403.png", full_page=True)
    finally:
        context.close()
    assert "approvedStations" not in railway.get("tickets", "api-1")["spec"]
    assert railway.state("api-1") == "AwaitingApproval"

    context, page = signed_in(browser, operator)
    try:
        assert press_approve(page, web, namespace) == 200
        expect(page.locator("#result")).to_have_text(
            f"ticket api-1: station staging approved by system:serviceaccount:{namespace}:board-operator")
        page.locator("#back").click()
        expect(page).to_have_title(f"Ticket {namespace}/api-1: K8sTA")
        expect(page.locator("#events")).to_contain_text(
            f"station staging approved by system:serviceaccount:{namespace}:board-operator via the k8sta board")
        page.goto(web.board(namespace))
        expect(page.locator(TICKET.format(name="api-1"))).to_have_attribute("data-state", "Completed")
        page.screenshot(path=tmp_path / "approved.png", full_page=True)
    finally:
        context.close()
    assert railway.get("tickets", "api-1")["spec"]["approvedStations"] == ["staging"]
