"""A local HTTP server on 127.0.0.1 that records every request: the observable of "kustomize never
started" (Go's HTTP client sends loopback requests past any proxy setting, so kustomize's sandbox
does not stop them; only not starting kustomize does)."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator


class Recorder(http.server.ThreadingHTTPServer):
    """Answers every GET with a ConfigMap and records the path."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fetched}\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def recording() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
