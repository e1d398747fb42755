"""``make demo``: the main job. On the local real stack, a change rides dev -> staging -> prod, where
prod is a junction to two regional Tracks (eu, us); then a shared-config change rides behind it; then
an overlay-only commit is deployed to env/dev without a ride. No ticket is made by hand: the first
change is an image pushed to a local registry (docker-registry), the second a commit to main, both
found by the daemon's Subscriptions.

Everything is real: Argo CD renders each app branch through our plugin in its cmp-server, the
``k8sta-daemon`` process (recorded with the stack, so ``make demo-down`` stops it) decides and pushes,
and the board below is the ``k8sta tracks`` command. Every Station deploys a Deployment whose pods
roll on KWOK's node; prod is an Argo Rollouts canary (setWeight 50, pause, analysis): the second
ticket's canary pauses there (the ticket is Suspended) until the demo promotes it with Argo CD's
``resume`` action, then the analysis (asking an endpoint this process serves) passes.

The web part (gunicorn, recorded the same way) serves the same board live in a browser at the URL
printed first. Re-runnable: each run gets its own namespace.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests
import yaml
from kubernetes import client as k8s

from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters import argocd
from k8sta_daemon.core import model
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
    request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=["k8sta"],  # the web's audience
                                                                           expiration_seconds=86400))
    token = core.create_namespaced_service_account_token("board-viewer", namespace, request).status.token
    path = workdir / "board-token"
    path.write_text(token)
    path.chmod(0o600)
    return path


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


def build_world(api: k8s.ApiClient, workdir: Path, analysis_url: str,
                image: str = railway.IMAGE) -> tuple[railway.Railway, str]:
    suffix = secrets.token_hex(2)
    namespace = f"demo-{suffix}"
    k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    world = railway.Railway(api, namespace, ConfigRepo.create(workdir / "config.git"), suffix)
    envs = ("dev", "staging", "prod", *REGIONS)
    files = railway.base("1")
    for env in envs:
        files.update(railway.canary_overlay(env, analysis_url, image=image) if env == "prod"
                     else railway.overlay(env, image=image))
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
        for ticket in world.tickets():  # why a held ticket is held (also in `k8sta ticket show`)
            status = ticket.get("status") or {}
            if status.get("state") in ("Suspended", "Failed"):
                print(f"  {ticket['metadata']['name']} {status['state']}: {status.get('message', '')}", flush=True)


def all_completed(world: railway.Railway, ticket: str) -> bool:
    """The ticket and every child it spawned (recursively) have Completed."""
    obj = world.get("tickets", ticket)
    status = obj.get("status") or {}
    if status.get("state") != "Completed":
        return False
    return all(all_completed(world, child) for child in status.get("children") or [])


def failed(world: railway.Railway) -> list[str]:
    return [t["metadata"]["name"] for t in world.tickets() if (t.get("status") or {}).get("state") == "Failed"]


def suspended(world: railway.Railway) -> list[str]:
    return [t["metadata"]["name"] for t in world.tickets() if (t.get("status") or {}).get("state") == "Suspended"]


class Promoter:
    """Promotes the paused prod canary once, the way an operator would from Argo CD's UI "Actions" menu:
    the built-in ``resume`` action, through Argo CD's API."""

    def __init__(self, running: stack.Stack, world: railway.Railway) -> None:
        self.running, self.world = running, world
        self.done: set[str] = set()

    def __call__(self, ticket: str) -> None:
        status = self.world.get("tickets", ticket).get("status") or {}
        if ticket in self.done or status.get("station") != "prod":
            return
        rollout = self.world.rollout("prod")
        if not (rollout.get("status") or {}).get("pauseConditions"):
            return
        app, namespace = self.world.apps["prod"], self.world.target_namespace("prod")
        state = rollout["status"]
        print(f"\nk8sta demo: {ticket} is Suspended at prod ({status.get('message', '')}): the canary "
              f"(ReplicaSet api-{state.get('currentPodHash')}) runs {state.get('updatedReplicas', 0)} of "
              f"{state.get('replicas', 0)} pods next to the stable ones, paused at step "
              f"{state.get('currentStepIndex')} ({state.get('message', '')}).\n"
              f"k8sta demo: promoting it with Argo CD's built-in `resume` action on Rollout {namespace}/api:\n"
              f"  POST {self.running.argocd_url}/api/v1/applications/{app}/resource/actions/v2\n"
              '  {"action": "resume", "kind": "Rollout", "group": "argoproj.io", "version": "v1alpha1", '
              f'"resourceName": "api", "namespace": "{namespace}"}}\n'
              f"  (same as: argocd app actions run {app} resume --kind Rollout --resource-name api, or\n"
              f"   kubectl argo rollouts promote api -n {namespace})\n", flush=True)
        client = argocd.ArgoCD(argocd.ArgoCDSettings(url=self.running.argocd_url, token=self.running.token()))
        try:
            client.resume_rollout(model.AppRef(railway.ARGOCD_NS, app), namespace, "api")
        finally:
            client.close()
        self.done.add(ticket)


def ride(world: railway.Railway, board: Board, until: str, note: str, also: str | None = None,
         on_suspended: Callable[[str], None] | None = None) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not all_completed(world, until) or (also is not None and not all_completed(world, also)):
        board.show(world, note)
        for name in suspended(world):
            if on_suspended is not None:
                on_suspended(name)
        broken = failed(world)
        if broken:
            raise RuntimeError(f"ticket(s) {', '.join(broken)} Failed; see `k8sta ticket show`")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{until} did not complete within {DEADLINE_SECONDS} s")
        time.sleep(1.0)
    board.show(world, note)


def show_versions(world: railway.Railway, kubeconfig: Path, ticket: str, station: str = "staging") -> None:
    """The demo's last words: what runs where (``k8sta stations``), and what ``ticket`` changed at ``station``
    (``k8sta diff``: the image pins, the shared-config commit it brought, the rendered objects), both run as
    an operator would."""
    wait_for(f"station {station}'s status naming {ticket}",
             lambda: (world.get("stations", station).get("status") or {}).get("ticket") == ticket)
    base = [str(Path(sys.executable).parent / "k8sta"), "--kubeconfig", str(kubeconfig), "-n", world.namespace]
    for note, argv in (("what runs where", ["stations"]),
                       (f"what {ticket} changed at {station}", ["diff", ticket, "--station", station])):
        print(f"\nk8sta demo: {note} (k8sta {' '.join(argv)}):", flush=True)
        done = subprocess.run([*base, *argv], check=False)
        if done.returncode != 0:
            raise RuntimeError(f"k8sta {' '.join(argv)} exited {done.returncode}")


def run(state_dir: Path) -> int:
    from k8sta_devstack import cli  # the stack's own up/describe, shared with `make stack-up`

    if cli.up(state_dir) != 0:
        return 1
    running = cli.load(state_dir)
    workdir = state_dir / f"demo-{secrets.token_hex(2)}"
    workdir.mkdir(parents=True)
    api = devkube.api_client(running.kubeconfig)
    railway.apply_crds(api, ROOT / "kustomize/crds")
    analysis = railway.AnalysisEndpoint("pass")
    running, reg = start_registry(running, workdir)
    image = f"{reg.host}/acme/api"
    world, _ = build_world(api, workdir, analysis.url, image)
    running = start_daemon(running, workdir)
    running, board_url = start_web(running, workdir, world.namespace)
    token = viewer_token(api, world.namespace, workdir)
    board = Board(running.kubeconfig, world.namespace)
    print(f"\nk8sta demo: namespace {world.namespace}; config repo {world.repo.url}; registry {reg.host}\n"
          f"departure board (live in a browser; send Authorization: Bearer $(cat {token})): {board_url}\n",
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
    shared = world.commit(railway.base("2"), "shared config: version 2")
    second = subs.ticket_name("main-line", "config", shared)
    print(f"committed shared config {shared[:12]} to main: the config Subscription makes ticket {second}",
          flush=True)
    wait_for(f"ticket {second}", lambda: second in {t["metadata"]["name"] for t in world.tickets()})
    ride(world, board, first, f"{first} and {second} riding", also=second, on_suspended=Promoter(running, world))
    print(f"k8sta demo: the canary's analysis asked {analysis.url} {analysis.requests} time(s): pass", flush=True)
    analysis.close()

    workload = yaml.safe_load(railway.overlay("dev", image=image)["env/dev/workload.yaml"])
    workload["spec"]["replicas"] = 3
    overlay = world.commit({"env/dev/workload.yaml": yaml.safe_dump(workload).encode()}, "dev: 3 replicas")
    print(f"\ncommitted an overlay-only change {overlay[:12]} to env/dev/: re-rendered, no ride", flush=True)
    wait_for("env/dev re-rendered", lambda: overlay[:7] in world.repo.git(["log", "-1", "--format=%s", "env/dev"]))
    print(world.repo.git(["log", "-1", "--format=%s", "env/dev"]).strip())
    wait_for("3 Ready pods in dev", lambda: len(world.ready_pods_any("dev")) == 3)
    print(f"tickets: {sorted(t['metadata']['name'] for t in world.tickets())} (none made by hand, none for the "
          "overlay)", flush=True)

    print("\nk8sta demo: both tickets Completed in every region (eu, us); env/dev re-rendered alone. What runs now:")
    for env in world.apps:
        images = sorted({c.image for p in world.ready_pods_any(env) for c in p.spec.containers})
        print(f"  {world.target_namespace(env):<22} {len(world.replica_sets(env))} ReplicaSets, "
              f"{len(world.ready_pods_any(env))} Ready pods running {', '.join(images)}")
    print()
    print(cli.describe(running))
    kubeconfig = running.kubeconfig
    print(f"\nlook around:\n  k8sta --kubeconfig {kubeconfig} -n {world.namespace} tracks\n"
          f"  k8sta --kubeconfig {kubeconfig} -n {world.namespace} ticket show {first}\n"
          f"  k8sta --kubeconfig {kubeconfig} -n {world.namespace} diff --from dev --to prod-eu\n"
          f"  KUBECONFIG={kubeconfig} kubectl get subscriptions -n {world.namespace}\n"
          f"  KUBECONFIG={kubeconfig} kubectl get tickets -n {world.namespace}\n"
          f"  git --git-dir {world.repo.path} log --oneline env/eu\n"
          f"  departure board: {board_url} (header Authorization: Bearer $(cat {token}))\n"
          f"  daemon log: {running.log_dir}/k8sta-daemon-{workdir.name}.log\n"
          "clean up with: make demo-down")
    show_versions(world, kubeconfig, second)
    return 0


def main(state_dir: Path) -> int:
    try:
        return run(state_dir)
    except (RuntimeError, TimeoutError, binaries.MissingTool) as exc:
        print(f"k8sta demo: {exc}", file=sys.stderr)
        return 1
