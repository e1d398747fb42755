"""``make demo``: the main job. On the local real stack, a change rides dev -> staging -> prod, where
prod is a junction to two regional Tracks (eu, us); then a shared-config change rides behind it.

Everything is real: Argo CD renders each app branch through our plugin in its cmp-server, the
``k8sta-daemon`` process (recorded with the stack, so ``make demo-down`` stops it) decides and pushes,
and the board below is the ``k8sta tracks`` command; the web part (gunicorn, recorded the same way)
serves the same board live in a browser at the URL printed first. Re-runnable: each run gets its own namespace.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import requests
from kubernetes import client as k8s

from k8sta_cmp.kustomize import Kustomize
from k8sta_devstack import binaries, processes, railway, stack
from k8sta_devstack import kube as devkube
from k8sta_devstack.gitrepo import ConfigRepo

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ("eu", "us")
DEADLINE_SECONDS = 900


def start_daemon(running: stack.Stack, workdir: Path) -> stack.Stack:
    """The controller as its own process, recorded in the stack's state so ``down`` stops it too."""
    sup = processes.Supervisor(running.log_dir)
    environ = {**os.environ, "K8STA_KUSTOMIZE": str(Kustomize.locate(dict(os.environ)).path),
               "K8STA_LOG_LEVEL": "INFO"}
    proc = sup.start(
        f"k8sta-daemon-{workdir.name}",
        [Path(sys.executable).parent / "k8sta-daemon", "--kubeconfig", running.kubeconfig,
         "--argocd-url", running.argocd_url, "--argocd-token-file", running.token_file,
         "--cache-dir", workdir / "cache", "--resync-seconds", "2", "--lease-namespace", "default"],
        env=environ, cwd=workdir, ready=lambda: True)
    updated = dataclasses.replace(running, processes=(*running.processes, proc))
    updated.write_state()
    return updated


def start_web(running: stack.Stack, workdir: Path, namespace: str) -> tuple[stack.Stack, str]:
    """The web part under gunicorn, as the install runs it, recorded like the daemon; returns the board's URL."""
    sup = processes.Supervisor(running.log_dir)
    port = processes.free_port()
    environ = {**os.environ, "K8STA_KUBECONFIG": str(running.kubeconfig), "K8STA_NAMESPACE": namespace,
               "K8STA_LOG_LEVEL": "INFO"}
    url = f"http://127.0.0.1:{port}"
    proc = sup.start(
        f"k8sta-web-{workdir.name}",
        [Path(sys.executable).parent / "gunicorn", "-c", "python:k8sta_daemon.web.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "k8sta_daemon.web:create_app()"],
        env=environ, cwd=workdir, ready=lambda: requests.get(f"{url}/healthz", timeout=1).status_code == 200)
    updated = dataclasses.replace(running, processes=(*running.processes, proc))
    updated.write_state()
    return updated, f"{url}/board/?namespace={namespace}"


def viewer_token(api: k8s.ApiClient, namespace: str, workdir: Path) -> Path:
    """A ServiceAccount ``board-viewer`` that may read the demo's Tracks, Stations and Tickets, and a token
    for it in a file: the board (like ``/api/v1``) shows each caller what its Kubernetes RBAC allows."""
    core, rbac = k8s.CoreV1Api(api), k8s.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "board-viewer"}})
    rules = [{"apiGroups": ["k8sta.io"], "resources": ["tracks", "stations", "tickets"], "verbs": ["get", "list"]}]
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "board-viewer"}, "rules": rules})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "board-viewer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "board-viewer"},
        "subjects": [{"kind": "ServiceAccount", "name": "board-viewer", "namespace": namespace}]})
    request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=86400))
    token = core.create_namespaced_service_account_token("board-viewer", namespace, request).status.token
    path = workdir / "board-token"
    path.write_text(token)
    path.chmod(0o600)
    return path


def build_world(api: k8s.ApiClient, workdir: Path) -> tuple[railway.Railway, str]:
    suffix = secrets.token_hex(2)
    namespace = f"demo-{suffix}"
    k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    world = railway.Railway(api, namespace, ConfigRepo.create(workdir / "config.git"), suffix)
    envs = ("dev", "staging", "prod", *REGIONS)
    files = railway.base("1")
    for env in envs:
        files.update(railway.overlay(env))
    config = world.commit(files, "sample config: base/ plus env/<name>/ overlays")
    for env in envs:
        world.application(env)
    world.station("dev", ["dev"])
    world.station("staging", ["staging"])
    world.station("prod", ["prod"], tracks=[f"{r}-line" for r in REGIONS])
    for region in REGIONS:
        world.station(f"prod-{region}", [region])
        world.track(f"{region}-line", [f"prod-{region}"])
    world.track("main-line", ["dev", "staging", "prod"])
    return world, config


class Board:
    """Redraws ``k8sta tracks`` whenever a ticket moves (clears the screen on a terminal).

    It runs the installed ``k8sta`` command, exactly as an operator would, never the CLI's internals.
    """

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        self.argv = [str(Path(sys.executable).parent / "k8sta"), "--kubeconfig", str(kubeconfig), "-n", namespace,
                     "tracks"]
        self.last: object = None
        self.tty = sys.stdout.isatty()

    def show(self, world: railway.Railway, note: str) -> None:
        seen = sorted(((t["metadata"]["name"], (t.get("status") or {}).get("state"),
                        (t.get("status") or {}).get("station")) for t in world.tickets()), key=str)
        if seen == self.last:
            return
        self.last = seen
        if self.tty:
            print("\033[2J\033[H", end="")
        print(f"--- {time.strftime('%H:%M:%S')} {note}", flush=True)
        sys.stdout.flush()
        subprocess.run(self.argv, check=False)


def all_completed(world: railway.Railway, ticket: str) -> bool:
    """The ticket and every child it spawned (recursively) have Completed."""
    obj = world.get("tickets", ticket)
    status = obj.get("status") or {}
    if status.get("state") != "Completed":
        return False
    return all(all_completed(world, child) for child in status.get("children") or [])


def failed(world: railway.Railway) -> list[str]:
    return [t["metadata"]["name"] for t in world.tickets() if (t.get("status") or {}).get("state") == "Failed"]


def ride(world: railway.Railway, board: Board, until: str, note: str, also: str | None = None) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not all_completed(world, until) or (also is not None and not all_completed(world, also)):
        board.show(world, note)
        broken = failed(world)
        if broken:
            raise RuntimeError(f"ticket(s) {', '.join(broken)} Failed; see `k8sta ticket show`")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{until} did not complete within {DEADLINE_SECONDS} s")
        time.sleep(1.0)
    board.show(world, note)


def run(state_dir: Path) -> int:
    from k8sta_devstack import cli  # the stack's own up/describe, shared with `make stack-up`

    if cli.up(state_dir) != 0:
        return 1
    running = cli.load(state_dir)
    workdir = state_dir / f"demo-{secrets.token_hex(2)}"
    workdir.mkdir(parents=True)
    api = devkube.api_client(running.kubeconfig)
    railway.apply_crds(api, ROOT / "kustomize/crds")
    world, config = build_world(api, workdir)
    running = start_daemon(running, workdir)
    running, board_url = start_web(running, workdir, world.namespace)
    token = viewer_token(api, world.namespace, workdir)
    board = Board(running.kubeconfig, world.namespace)
    print(f"\nk8sta demo: namespace {world.namespace}; config repo {world.repo.url}\n"
          f"departure board (live in a browser; send Authorization: Bearer $(cat {token})): {board_url}\n",
          flush=True)

    world.ticket("api-1", "main-line", config, "1.1.0")
    print("ticket api-1: new image ghcr.io/acme/api:1.1.0 boards main-line", flush=True)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while world.state("api-1") in (None, "Waiting", "Deploying") and (
            (world.get("tickets", "api-1").get("status") or {}).get("station") in (None, "dev")):
        board.show(world, "api-1 on its way")
        if time.monotonic() > deadline:
            raise TimeoutError("api-1 did not leave dev")
        time.sleep(1.0)
    shared = world.commit(railway.base("2"), "shared config: version 2")
    world.ticket("api-2", "main-line", shared, "1.1.0")
    print(f"ticket api-2: shared config {shared[:12]} rides behind api-1 (same image)", flush=True)
    ride(world, board, "api-1", "api-1 and api-2 riding", also="api-2")

    print("\nk8sta demo: both tickets Completed in every region (eu, us).\n")
    print(cli.describe(running))
    kubeconfig = running.kubeconfig
    print(f"\nlook around:\n  k8sta --kubeconfig {kubeconfig} -n {world.namespace} tracks\n"
          f"  k8sta --kubeconfig {kubeconfig} -n {world.namespace} ticket show api-1\n"
          f"  KUBECONFIG={kubeconfig} kubectl get tickets -n {world.namespace}\n"
          f"  git --git-dir {world.repo.path} log --oneline env/eu\n"
          f"  departure board: {board_url} (header Authorization: Bearer $(cat {token}))\n"
          f"  daemon log: {running.log_dir}/k8sta-daemon-{workdir.name}.log\n"
          "clean up with: make demo-down")
    return 0


def main(state_dir: Path) -> int:
    try:
        return run(state_dir)
    except (RuntimeError, TimeoutError, binaries.MissingTool) as exc:
        print(f"k8sta demo: {exc}", file=sys.stderr)
        return 1
