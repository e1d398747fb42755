"""The board's page in chromium without a cluster: the app is fed in memory (``K8STA_BOARD_WATCH=false``)
with the objects a watch delivers and served by werkzeug's threaded server inside the test, so the test
can publish changes itself. What a browser alone can tell: hostile text stays text, also when it arrives
over SSE into a live page, and a Track that appears or goes away is added or removed in place."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from k8sta_daemon.web import board, boardwatch, create_app
from k8sta_devstack import boardworld as bw

NS = "shop"
EVIL = '"><img src=x onerror="window.pwned=1"><script>window.pwned=2</script><svg onload="window.pwned=3">'


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, boardwatch.Hub]]:
    app = create_app({"KUBECONFIG": str(tmp_path / "none"), "BOARD_WATCH": False, "BOARD_KEEPALIVE_SECONDS": 1})
    app.extensions[board.AUTHENTICATE] = lambda: None  # no caller to authenticate: a fed, in-memory board
    app.extensions[board.NAMESPACE_FILTER] = lambda namespace: True
    hub: boardwatch.Hub = app.extensions[boardwatch.EXTENSION]
    world = bw.World(stations=[bw.station(NS, "dev", ["dev-api"]), bw.station(NS, "prod", ["prod-api"])],
                     tracks=[bw.track(NS, "main-line", ["dev", "prod"])],
                     tickets=[bw.ticket(NS, "api-1", "main-line", state="Suspended", station_name="dev",
                                        message=f"waiting at station dev: argocd/dev-api: Suspended ({EVIL})",
                                        journey=[bw.record("dev")])])
    for kind, items in world.lists().items():
        hub.feed(kind, items)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/board/", hub
    finally:
        hub.stop()
        server.shutdown()
        thread.join()


def test_hostile_text_stays_text_in_the_page_and_in_live_updates(served: tuple[str, boardwatch.Hub],
                                                                  page: Page, tmp_path: Path) -> None:
    url, hub = served
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    expect(page.locator("#live")).to_have_text("live")
    reason = page.locator('li.ticket[data-ticket="api-1"] .reason')
    expect(reason).to_have_text(f"waiting at station dev: argocd/dev-api: Suspended ({EVIL})")
    hub.apply("Ticket", "MODIFIED", bw.ticket(NS, "api-1", "main-line", state="Failed", message=f"failed: {EVIL}",
                                              journey=[bw.record("dev", "Failed")]))
    expect(page.locator('li.ticket[data-ticket="api-1"]')).to_have_attribute("data-state", "Failed")
    expect(reason).to_have_text(f"failed: {EVIL}")
    assert page.evaluate("window.pwned") is None and dialogs == []
    assert page.locator("section.track img, section.track script").count() == 0
    assert page.evaluate("document.querySelectorAll('section.track svg svg').length") == 0
    page.screenshot(path=tmp_path / "board-hostile.png", full_page=True)


def test_tracks_that_appear_or_vanish_are_added_and_removed_in_place(served: tuple[str, boardwatch.Hub],
                                                                      page: Page) -> None:
    url, hub = served
    page.goto(url)
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.k8staMarker = 1")
    hub.apply("Station", "ADDED", bw.station(NS, "eu-1", []))
    hub.apply("Track", "ADDED", bw.track(NS, "eu", ["eu-1"]))
    expect(page.locator('section[id="track/shop/eu"] g.station')).to_have_attribute("data-station", "eu-1")
    hub.apply("Track", "DELETED", bw.track(NS, "main-line", ["dev", "prod"]))
    expect(page.locator('section[id="track/shop/main-line"]')).to_have_count(0)
    assert page.evaluate("window.k8staMarker") == 1
