"""``make demo``: the main job. On the local real stack, a change rides dev -> staging -> prod, where
prod is a junction to two regional Tracks (eu, us); then a shared-config change rides behind it; then
an overlay-only commit is deployed to env/dev without a ride. No ticket is made by hand: the first
change is an image pushed to a local registry (docker-registry), the second a commit to main, both
found by the daemon's Subscriptions.

Everything is real: Argo CD renders each app branch through our plugin in its cmp-server, the
``k8sta-daemon`` process (recorded with the stack, so ``make demo-down`` stops it) decides and pushes,
and the board below is the ``k8sta tracks`` command. Re-runnable: each run gets its own namespace.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import yaml
from kubernetes import client as k8s

from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.core import subscriptions as subs
from k8sta_devstack import binaries, processes, railway, stack
from k8sta_devstack import kube as devkube
from k8sta_devstack import registry as devregistry
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


def start_registry(running: stack.Stack, workdir: Path) -> tuple[stack.Stack, devregistry.Registry]:
    """A local registry, recorded in the stack's state like the daemon (``make demo-down`` stops it)."""
    sup = processes.Supervisor(running.log_dir)
    reg = devregistry.start(workdir / "registry", sup, auth=False, name=f"docker-registry-{workdir.name}")
    updated = dataclasses.replace(running, processes=(*running.processes, *sup.processes))
    updated.write_state()
    return updated, reg


def subscribe(world: railway.Railway, name: str, source: dict[str, object]) -> None:
    body = {"apiVersion": "k8sta.io/v1alpha1", "kind": "Subscription",
            "metadata": {"name": name, "namespace": world.namespace},
            "spec": {"tracks": ["main-line"], "intervalSeconds": 2, **source}}
    world.custom.create_namespaced_custom_object("k8sta.io", "v1alpha1", world.namespace, "subscriptions", body)


def wait_for(what: str, check: object, board: Board | None = None, world: railway.Railway | None = None) -> object:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        found = check()  # type: ignore[operator]
        if found:
            return found
        if board is not None and world is not None:
            board.show(world, what)
        if time.monotonic() > deadline:
            raise TimeoutError(f"not {what} within {DEADLINE_SECONDS} s")
        time.sleep(1.0)


def build_world(api: k8s.ApiClient, workdir: Path, image: str = railway.IMAGE) -> tuple[railway.Railway, str]:
    suffix = secrets.token_hex(2)
    namespace = f"demo-{suffix}"
    k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    world = railway.Railway(api, namespace, ConfigRepo.create(workdir / "config.git"), suffix)
    envs = ("dev", "staging", "prod", *REGIONS)
    files = _with_image(railway.base("1"), image)
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


def _with_image(files: dict[str, bytes], image: str) -> dict[str, bytes]:
    api = yaml.safe_load(files["base/api.yaml"])
    api["template"]["spec"]["containers"][0]["image"] = f"{image}:latest"
    return {**files, "base/api.yaml": yaml.safe_dump(api).encode()}


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
    running, reg = start_registry(running, workdir)
    image = f"{reg.host}/acme/api"
    world, _ = build_world(api, workdir, image)
    running = start_daemon(running, workdir)
    board = Board(running.kubeconfig, world.namespace)
    print(f"\nk8sta demo: namespace {world.namespace}; config repo {world.repo.url}; registry {reg.host}\n",
          flush=True)
    subscribe(world, "config", {"config": {"repoURL": world.repo.url, "branch": "main"}})
    subscribe(world, "api", {"image": {"repository": image, "constraint": ">=1.0.0, <2.0.0", "insecure": True}})
    wait_for("the config Subscription's first read", lambda: (world.get("subscriptions", "config").get(
        "status") or {}).get("found"))

    digest = devregistry.push(reg, "acme/api", "1.1.0")
    first = subs.ticket_name("main-line", "api", digest)
    print(f"pushed {image}:1.1.0 ({digest[:19]}): the image Subscription makes ticket {first}", flush=True)
    wait_for(f"ticket {first}", lambda: first in {t["metadata"]["name"] for t in world.tickets()})
    deadline = time.monotonic() + DEADLINE_SECONDS
    while world.state(first) in (None, "Waiting", "Deploying") and (
            (world.get("tickets", first).get("status") or {}).get("station") in (None, "dev")):
        board.show(world, f"{first} on its way")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{first} did not leave dev")
        time.sleep(1.0)
    shared = world.commit(_with_image(railway.base("2"), image), "shared config: version 2")
    second = subs.ticket_name("main-line", "config", shared)
    print(f"committed shared config {shared[:12]} to main: the config Subscription makes ticket {second}",
          flush=True)
    wait_for(f"ticket {second}", lambda: second in {t["metadata"]["name"] for t in world.tickets()})
    ride(world, board, first, f"{first} and {second} riding", also=second)

    status = yaml.safe_load(railway.overlay("dev")["env/dev/status.yaml"])
    status["data"]["replicas"] = "3"
    overlay = world.commit({"env/dev/status.yaml": yaml.safe_dump(status).encode()}, "dev: 3 replicas")
    print(f"\ncommitted an overlay-only change {overlay[:12]} to env/dev/: re-rendered, no ride", flush=True)
    wait_for("env/dev re-rendered", lambda: overlay[:7] in world.repo.git(["log", "-1", "--format=%s", "env/dev"]))
    print(world.repo.git(["log", "-1", "--format=%s", "env/dev"]).strip())
    print(f"tickets: {sorted(t['metadata']['name'] for t in world.tickets())} (none made by hand, none for the "
          "overlay)", flush=True)

    print("\nk8sta demo: both tickets Completed in every region (eu, us); env/dev re-rendered alone.\n")
    print(cli.describe(running))
    kubeconfig = running.kubeconfig
    print(f"\nlook around:\n  k8sta --kubeconfig {kubeconfig} -n {world.namespace} tracks\n"
          f"  k8sta --kubeconfig {kubeconfig} -n {world.namespace} ticket show {first}\n"
          f"  KUBECONFIG={kubeconfig} kubectl get subscriptions -n {world.namespace}\n"
          f"  KUBECONFIG={kubeconfig} kubectl get tickets -n {world.namespace}\n"
          f"  git --git-dir {world.repo.path} log --oneline env/eu\n"
          f"  daemon log: {running.log_dir}/k8sta-daemon-{workdir.name}.log\n"
          "clean up with: make demo-down")
    return 0


def main(state_dir: Path) -> int:
    try:
        return run(state_dir)
    except (RuntimeError, TimeoutError, binaries.MissingTool) as exc:
        print(f"k8sta demo: {exc}", file=sys.stderr)
        return 1
