"""Forward TCP connections between the host and the node's network namespace, with no route or rule.

The node (kubelet, containerd, pods) and the API server live in a network namespace the stack creates,
so nothing they do to routes, iptables or sysctls touches the host. The host's clients (tests, the
demo, ``kubectl``) still reach them on 127.0.0.1: this process listens there and, for each connection,
opens the other end *inside* the namespace. A socket belongs to the network namespace of the thread
that created it, so each dial enters the namespace (``setns``, per thread) just for ``socket()``.

    python -m k8sta_devstack.node.portal --netns /run/netns/NAME 127.0.0.1:PORT=ADDR:PORT ...
"""

from __future__ import annotations

import argparse
import ctypes
import os
import selectors
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Route:
    """Listen on ``listen`` (host) and dial ``target`` inside the namespace."""

    listen: tuple[str, int]
    target: tuple[str, int]

    @classmethod
    def parse(cls, text: str) -> Route:
        try:
            left, right = text.split("=", 1)
            return cls(_address(left), _address(right))
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{text!r}: want HOST:PORT=HOST:PORT ({err})") from None


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host:
        raise ValueError(f"no host in {text!r}")
    return host, int(port)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def dial_in(netns_fd: int, home_fd: int, target: tuple[str, int]) -> socket.socket:
    """A TCP connection to ``target`` made from inside the namespace (this thread returns home)."""
    _setns(netns_fd)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    finally:
        _setns(home_fd)
    try:
        sock.settimeout(10)
        sock.connect(target)
        sock.settimeout(None)
    except OSError:
        sock.close()
        raise
    return sock


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes; half-closes are passed on."""
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    open_sides = 2
    try:
        while open_sides:
            for key, _ in sel.select():
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                dst: socket.socket = key.data
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if data:
                    try:
                        dst.sendall(data)
                    except OSError:
                        return
                    continue
                sel.unregister(src)
                open_sides -= 1
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    return
    finally:
        sel.close()
        a.close()
        b.close()


def _serve(route: Route, listener: socket.socket, netns_fd: int, home_fd: int) -> None:
    while True:
        client, _ = listener.accept()

        def handle(client: socket.socket = client) -> None:
            try:
                upstream = dial_in(netns_fd, home_fd, route.target)
            except OSError as err:
                print(f"portal: {route.listen[0]}:{route.listen[1]} -> {route.target[0]}:{route.target[1]}: "
                      f"{err}", file=sys.stderr, flush=True)
                client.close()
                return
            _pump(client, upstream)

        threading.Thread(target=handle, daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--netns", required=True, help="path of the namespace, e.g. /run/netns/NAME")
    parser.add_argument("routes", nargs="+", type=Route.parse, metavar="LISTEN=TARGET")
    args = parser.parse_args(argv)
    netns_fd = os.open(args.netns, os.O_RDONLY | os.O_CLOEXEC)
    home_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threads = []
    for route in args.routes:
        listener = socket.create_server(route.listen, reuse_port=False)
        threads.append(threading.Thread(target=_serve, args=(route, listener, netns_fd, home_fd), daemon=True))
    for thread in threads:
        thread.start()
    print("portal: ready", flush=True)
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())


def http_status_in(netns: str, host: str, port: int, path: str) -> int:
    """GET ``path`` from ``host:port`` inside the namespace (plain HTTP); the status code. For readiness
    checks of endpoints that only listen in there (kubelet's and kube-proxy's healthz)."""
    import http.client

    netns_fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    home_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        conn = http.client.HTTPConnection(host, port, timeout=2)
        conn.sock = dial_in(netns_fd, home_fd, (host, port))
        try:
            conn.request("GET", path)
            return conn.getresponse().status
        finally:
            conn.close()
    finally:
        os.close(netns_fd)
        os.close(home_fd)
