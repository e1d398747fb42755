"""The web part under a flood of board streams, bounded to loopback: does it still answer its probes?

On the local real stack (kube-apiserver answers every TokenReview and SubjectAccessReview): gunicorn with
the install's config (``k8sta_daemon.web.gunicorn_conf``: one gthread worker) on 127.0.0.1, the public
port and the ops port (``K8STA_OPS_PORT``). ``--identities`` ServiceAccounts with real tokens (audience
``k8sta``), each allowed to list tickets in the bench namespace, open ``--connections`` SSE connections
to ``/board/events`` between them and keep their sockets open. Meanwhile one client asks ``/healthz`` on
the ops port every 50 ms, and another the API (``/api/v1/tracks``, a valid token) on the public port.

Prints: how many streams were admitted (200) and refused (429), how many sockets the clients held open,
and the latency of /healthz and of the API during the burst and while the streams are held (median, p99,
max), against the target: /healthz within 1 s. Not a test: nothing fails.

    flock /tmp/work/stack.lock .venv/bin/python bench/bench_web_sse.py [--connections 500] [--identities 100]
        [--max-streams N --threads N]   (defaults: the install's caps)
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from kubernetes import client as k8s

from k8sta_daemon.web import gunicorn_conf, settings
from k8sta_devstack import kube as devkube
from k8sta_devstack import processes, railway
from k8sta_devstack import stack as devstack

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "bench-sse"
TARGET_HEALTHZ_S = 1.0


def prepare(api: k8s.ApiClient, identities: int) -> list[str]:
    """The namespace, one Track, a Role to list K8sTA's objects bound to every ServiceAccount there, and a
    token (audience k8sta) per ServiceAccount."""
    railway.apply_crds(api, REPO / "kustomize" / "crds")
    core, rbac, custom = k8s.CoreV1Api(api), k8s.RbacAuthorizationV1Api(api), k8s.CustomObjectsApi(api)
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    rbac.create_namespaced_role(NAMESPACE, {"metadata": {"name": "board"}, "rules": [
        {"apiGroups": ["k8sta.io"], "resources": ["tracks", "stations", "tickets"], "verbs": ["get", "list"]}]})
    rbac.create_namespaced_role_binding(NAMESPACE, {
        "metadata": {"name": "board"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                   "name": "board"},
        "subjects": [{"kind": "Group", "name": f"system:serviceaccounts:{NAMESPACE}",
                      "apiGroup": "rbac.authorization.k8s.io"}]})
    custom.create_namespaced_custom_object("k8sta.io", "v1alpha1", NAMESPACE, "stations", {
        "apiVersion": "k8sta.io/v1alpha1", "kind": "Station", "metadata": {"name": "dev"},
        "spec": {"applications": [{"namespace": "argocd", "name": "bench-dev"}]}})
    custom.create_namespaced_custom_object("k8sta.io", "v1alpha1", NAMESPACE, "tracks", {
        "apiVersion": "k8sta.io/v1alpha1", "kind": "Track", "metadata": {"name": "api"},
        "spec": {"stations": ["dev"]}})
    tokens = []
    for i in range(identities):
        name = f"viewer-{i}"
        core.create_namespaced_service_account(NAMESPACE, {"metadata": {"name": name}})
        request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=["k8sta"],
                                                                               expiration_seconds=3600))
        tokens.append(core.create_namespaced_service_account_token(name, NAMESPACE, request).status.token)
    return tokens


@contextmanager
def web(kubeconfig: Path, workdir: Path, max_streams: int | None, threads: int | None) -> Iterator[tuple[int, int]]:
    public, ops = processes.free_port(), processes.free_port()
    env = {**os.environ, "K8STA_KUBECONFIG": str(kubeconfig), "K8STA_OPS_PORT": str(ops),
           "XDG_RUNTIME_DIR": str(workdir), "K8STA_LOG_LEVEL": "WARNING",
           "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{public} --bind 127.0.0.1:{ops} --access-logfile /dev/null"
           + (f" --threads {threads}" if threads else "")}
    if max_streams:
        env["K8STA_BOARD_MAX_STREAMS"] = str(max_streams)
        env["K8STA_BOARD_MAX_STREAMS_PER_IDENTITY"] = str(max_streams)
    log = workdir / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c",
                                 "python:k8sta_daemon.web.gunicorn_conf", "k8sta_daemon.web:create_app()"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{ops}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield public, ops
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


class Sampler(threading.Thread):
    """GET ``url`` every ``interval`` seconds, recording (start time, latency or None for a failure)."""

    def __init__(self, url: str, headers: dict[str, str], interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.interval = url, headers, interval
        self.samples: list[tuple[float, float | None]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                ok = requests.get(self.url, headers=self.headers, timeout=10).status_code == 200
            except requests.RequestException:
                ok = False
            self.samples.append((began, time.monotonic() - began if ok else None))
            self.stop.wait(self.interval)

    def between(self, start: float, end: float) -> list[float | None]:
        return [latency for at, latency in self.samples if start <= at < end]


def open_streams(port: int, tokens: list[str], connections: int) -> tuple[list[socket.socket], dict[int, int]]:
    """``connections`` sockets, each sending one ``/board/events`` request (tokens round-robin); returns the
    sockets (kept open) and the count of each status line received."""
    selector = selectors.DefaultSelector()
    socks = []
    for i in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall((f"GET /board/events?namespace={NAMESPACE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Authorization: Bearer {tokens[i % len(tokens)]}\r\nAccept: text/event-stream\r\n\r\n"
                      ).encode())
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, bytearray())
        socks.append(sock)
    statuses: dict[int, int] = {}
    pending = len(socks)
    deadline = time.monotonic() + 120
    while pending and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1.0):
            buffer: bytearray = key.data
            try:
                chunk = key.fileobj.recv(4096)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            buffer.extend(chunk)
            if b"\r\n" in buffer or not chunk:
                status = int(buffer.split(b" ", 2)[1]) if chunk else 0
                statuses[status] = statuses.get(status, 0) + 1
                selector.unregister(key.fileobj)
                pending -= 1
    statuses[-1] = pending  # no answer at all before the deadline
    return socks, statuses


def still_open(socks: list[socket.socket]) -> int:
    """Sockets the server has not closed: read what is waiting (stream keepalives, a refusal's body) until
    the socket would block (open) or reads b'' (closed by the server)."""
    alive = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            while sock.recv(65536):
                pass
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def figures(name: str, latencies: list[float | None]) -> str:
    good = sorted(x for x in latencies if x is not None)
    failed = len(latencies) - len(good)
    if not good:
        return f"{name}: no answer in {len(latencies)} tries"
    p99 = good[min(len(good) - 1, int(len(good) * 0.99))]
    return (f"{name}: {len(good)} answers, {failed} failed; median {statistics.median(good) * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms, max {good[-1] * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--identities", type=int, default=100)
    parser.add_argument("--hold-seconds", type=float, default=10.0)
    parser.add_argument("--max-streams", type=int, default=None, help="K8STA_BOARD_MAX_STREAMS (and per identity)")
    parser.add_argument("--threads", type=int, default=None, help="gunicorn threads (default: gunicorn_conf's)")
    args = parser.parse_args()
    caps = (args.max_streams or settings.DEFAULTS["BOARD_MAX_STREAMS"],
            args.max_streams or settings.DEFAULTS["BOARD_MAX_STREAMS_PER_IDENTITY"])
    print(f"web part: gunicorn {gunicorn_conf.workers} worker x {args.threads or gunicorn_conf.threads} threads, "
          f"streams capped at {caps[0]} per pod and {caps[1]} per user; {args.connections} SSE connections from "
          f"{args.identities} ServiceAccounts; loopback only; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="k8sta-bench-sse-") as tmp:
        workdir = Path(tmp)
        with devstack.running(workdir / "stack") as stack:
            api = devkube.api_client(stack.kubeconfig)
            tokens = prepare(api, args.identities)
            with web(stack.kubeconfig, workdir, args.max_streams, args.threads) as (public, ops):
                # Warm the board's watch (its first lists) and one identity's reviews, as a running pod has.
                reader = {"Authorization": f"Bearer {tokens[0]}"}
                requests.get(f"http://127.0.0.1:{public}/board/?namespace={NAMESPACE}", headers=reader, timeout=30)
                health = Sampler(f"http://127.0.0.1:{ops}/healthz", {})
                apis = Sampler(f"http://127.0.0.1:{public}/api/v1/tracks?namespace={NAMESPACE}", reader, 0.2)
                health.start()
                apis.start()
                time.sleep(1.0)
                burst = time.monotonic()
                socks, statuses = open_streams(public, tokens, args.connections)
                opened = time.monotonic()
                time.sleep(args.hold_seconds)
                held = still_open(socks)
                end = time.monotonic()
                health.stop.set()
                apis.stop.set()
                health.join()
                apis.join()
                for sock in socks:
                    sock.close()
            api.close()
    refused = statuses.get(429, 0)
    print(f"streams: {statuses.get(200, 0)} admitted (200), {refused} refused (429), "
          f"{sum(v for k, v in statuses.items() if k not in (200, 429, -1))} other, {statuses[-1]} unanswered; "
          f"all {args.connections} answered within {opened - burst:.2f} s")
    print(f"sockets the server still held open after {args.hold_seconds:.0f} s: {held} of {args.connections} "
          f"(the streams; a refused connection is closed after its keep-alive of {gunicorn_conf.keepalive} s)")
    print(figures("/healthz (ops port) during the burst", health.between(burst, opened)))
    print(figures("/healthz (ops port) while held", health.between(opened, end)))
    print(figures("/api/v1/tracks (public port) during the burst and hold", apis.between(burst, end)))
    worst = max((x for x in health.between(burst, end) if x is not None), default=float("inf"))
    failed = sum(1 for x in health.between(burst, end) if x is None)
    verdict = "ok" if worst <= TARGET_HEALTHZ_S and not failed else "MISSED"
    print(f"target: /healthz within {TARGET_HEALTHZ_S:.0f} s: worst {worst * 1000:.1f} ms, {failed} failed: {verdict}")


if __name__ == "__main__":
    main()
