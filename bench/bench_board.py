"""The departure board at scale: 1,000 Tracks x 3 Stations with 1,000 tickets, fed in memory exactly as
the board's watch feeds it (``Hub.feed``/``Hub.apply``), served by the real app, loaded in Debian's chromium.

Prints one line per figure against its target:
- server-side render: every Track's picture from the objects (parse + layout + SVG), and GET /board/;
- page loaded and interactive in chromium (Performance API: domInteractive, loadEventEnd);
- one SSE update applied: from the server's publish to the page's DOM updated, measured in the page.
A missed target is followed by a cProfile of that part (where the time goes). Not a test: nothing fails.

    make bench-board            (or: .venv/bin/python bench/bench_board.py --tracks 1000 --tickets 1000)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import threading
import time
from collections.abc import Callable

from werkzeug.serving import make_server

from k8sta_daemon.web import board, boardwatch, create_app
from k8sta_daemon.web.sansio import svg
from k8sta_devstack import boardworld as bw

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TARGET_RENDER_MS, TARGET_PAGE_MS, TARGET_SSE_MS = 300, 2000, 100


def fed_hub(world: bw.World) -> boardwatch.Hub:
    hub = boardwatch.Hub()
    for kind, items in world.lists().items():
        hub.feed(kind, items)
    return hub


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def profile(what: str, fn: Callable[[], object]) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
    print(f"--- cProfile of {what} (cumulative) ---\n{out.getvalue()}")


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--stations", type=int, default=3)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--updates", type=int, default=30)
    args = parser.parse_args()
    world = bw.at_scale(args.tracks, args.stations, args.tickets)
    scale = f"{args.tracks} tracks x {args.stations} stations, {args.tickets} tickets"

    # -- server side --------------------------------------------------------------------------------
    cold = timed(lambda: fed_hub(world), args.runs)
    hub = fed_hub(world)
    refs = hub.state.track_refs()

    def rerender() -> None:
        """What a change of every Track costs: view (``track_json``), layout and SVG of each."""
        for ref in refs:
            view = hub.state.track_view(ref)
            assert view is not None
            svg.render_track(view)

    render = timed(rerender, args.runs)
    app = create_app({"BOARD_WATCH": False, "KUBECONFIG": "/nonexistent"})
    app.extensions[boardwatch.EXTENSION] = hub
    app.extensions[board.AUTHENTICATE] = lambda: None  # the board's own cost (auth's is one cached review)
    app.extensions[board.NAMESPACE_FILTER] = lambda namespace: True
    client = app.test_client()
    page_bytes = len(client.get("/board/").data)
    get = timed(lambda: client.get("/board/"), args.runs)
    print(f"server render, every track's picture ({scale}): median {statistics.median(render):.0f} ms, "
          f"max {max(render):.0f} ms (target <= {TARGET_RENDER_MS} ms: "
          f"{verdict(statistics.median(render), TARGET_RENDER_MS)})")
    print(f"server cold start, parse + render from the watch's lists: median {statistics.median(cold):.0f} ms")
    print(f"server GET /board/ (pictures already rendered by the watch): median {statistics.median(get):.0f} ms, "
          f"{page_bytes / 1e6:.1f} MB HTML (target <= {TARGET_RENDER_MS} ms: "
          f"{verdict(statistics.median(get), TARGET_RENDER_MS)})")
    if statistics.median(render) > TARGET_RENDER_MS:
        profile("rendering every track", rerender)

    # -- in chromium ----------------------------------------------------------------------------------
    from playwright.sync_api import sync_playwright

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/board/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            loads = []
            for _ in range(3):
                page.goto(url, wait_until="load")
                loads.append(page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
                    return {interactive: n.domInteractive, loaded: n.loadEventEnd, ttfb: n.responseStart,
                            content: n.domContentLoadedEventEnd, complete: n.domComplete}; }"""))
            best = min(loads, key=lambda n: n["loaded"])
            print(f"chromium page load ({scale}): responseStart {best['ttfb']:.0f} ms, domInteractive "
                  f"{best['interactive']:.0f} ms, DOMContentLoaded {best['content']:.0f} ms, domComplete "
                  f"{best['complete']:.0f} ms, loadEventEnd {best['loaded']:.0f} ms (best of 3; target <= "
                  f"{TARGET_PAGE_MS} ms: {verdict(best['loaded'], TARGET_PAGE_MS)})")
            page.wait_for_function("window.k8staBoard && window.k8staBoard.connected")
            page.evaluate("window.k8staMarker = 'no reload'")
            for n in range(args.updates):
                ref = refs[(n * 37) % len(refs)]
                before = page.evaluate("window.k8staBoard.updates")
                hub.apply("Ticket", "MODIFIED", bw.ticket(ref.namespace, f"{ref.name}-1", ref.name,
                                                          station_name=f"{ref.name}-s0", state="Deploying",
                                                          message=f"deploying at station {ref.name}-s0 (update {n})",
                                                          journey=[bw.record(f"{ref.name}-s0")]))
                page.wait_for_function(f"window.k8staBoard.updates > {before}")
            lags = page.evaluate("window.k8staBoard.lags")
            assert page.evaluate("window.k8staMarker") == "no reload"
            print(f"one SSE update applied, server publish -> DOM updated ({len(lags)} updates on a "
                  f"{args.tracks}-track page): median {statistics.median(lags):.1f} ms, max {max(lags):.1f} ms "
                  f"(target <= {TARGET_SSE_MS} ms: {verdict(statistics.median(lags), TARGET_SSE_MS)})")
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
