"""The order of the stack: what starts when, and what a client needs to know about a running stack.

``running()`` is the one way to get a stack that is always torn down (normal exit, exception,
SIGTERM/SIGINT, interpreter exit); ``start()`` is for the detached ``up`` command, whose processes
are stopped later by ``down`` from the state file.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from k8sta_devstack import argocd, argocd_config, binaries, controllers, kube, pki, processes

STATE_FILE = "stack.json"
INPUT_KEY_FILE = "input-key"
# Written first into every state directory: only directories carrying it are ever removed.
MARKER_FILE = ".k8sta-devstack"


@dataclass(frozen=True)
class Stack:
    """Everything a client of a running stack needs; the token itself only lives in ``token_file``."""

    state_dir: Path
    kubeconfig: Path
    apiserver_url: str
    argocd_url: str
    token_file: Path
    admin_password_file: Path
    namespace: str
    processes: tuple[processes.Managed, ...]
    startup_seconds: float

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def plugin_sockets(self) -> Path:
        """The directory where repo-server looks for plugin sockets (``ARGOCD_PLUGINSOCKFILEPATH``)."""
        return argocd.Layout(self.state_dir / "argocd").plugin_sockets

    def token(self) -> str:
        return self.token_file.read_text().strip()

    def to_json(self) -> dict[str, Any]:
        return {
            "state_dir": str(self.state_dir), "kubeconfig": str(self.kubeconfig),
            "apiserver_url": self.apiserver_url, "argocd_url": self.argocd_url,
            "token_file": str(self.token_file), "admin_password_file": str(self.admin_password_file),
            "namespace": self.namespace, "startup_seconds": round(self.startup_seconds, 1),
            "processes": [p.to_json() for p in self.processes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stack:
        return cls(
            state_dir=Path(data["state_dir"]), kubeconfig=Path(data["kubeconfig"]),
            apiserver_url=data["apiserver_url"], argocd_url=data["argocd_url"],
            token_file=Path(data["token_file"]), admin_password_file=Path(data["admin_password_file"]),
            namespace=data["namespace"], startup_seconds=float(data["startup_seconds"]),
            processes=tuple(processes.Managed.from_json(p) for p in data["processes"]),
        )

    def write_state(self) -> Path:
        path = self.state_dir / STATE_FILE
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path


def _search_path() -> str:
    """PATH for the stack: this interpreter's bin dir first (k8sta-cmp lives there), then the caller's."""
    venv_bin = str(Path(sys.executable).parent)
    return os.pathsep.join([venv_bin, os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")])


def start(state_dir: Path, sup: processes.Supervisor, *, sidecar_uid: int | None = None) -> Stack:
    """Start every process into ``sup`` (the caller stops it, also when this raises).

    ``sidecar_uid``: start no cmp-server of our own; the plugin socket directory is handed to that uid
    instead, for a cmp-server running elsewhere (our image, as a repo-server sidecar would) to serve in.
    """
    began = time.monotonic()
    tools = binaries.locate()
    module_dir = binaries.argocd_module_dir(tools.versions["ARGOCD_VERSION"])
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    (state_dir / MARKER_FILE).write_text("state directory of a K8sTA devstack; removed by `down`\n")
    path = _search_path()
    if not shutil.which("k8sta-cmp", path=path):
        raise binaries.MissingTool(f"k8sta-cmp not found next to {sys.executable}; run `make venv` and "
                                   "start the stack with the venv's python")
    base_env = {"PATH": path, "HOME": str(state_dir), "LANG": "C.UTF-8"}

    certs = pki.generate(state_dir / "pki")
    etcd_url = kube.start_etcd(sup, tools.etcd, state_dir / "etcd", base_env)
    apiserver = kube.start_apiserver(sup, tools.kube_apiserver, certs, etcd_url, state_dir, base_env)

    password = argocd_config.new_password()
    password_file = argocd_config.write_private(state_dir / "admin-password", password + "\n")
    api = kube.api_client(apiserver.kubeconfig)
    try:
        argocd_config.apply_all(api, module_dir, password,
                                (tools.versions["KUSTOMIZE_VERSION"], Path(tools.kustomize)))
        for name in controllers.apply_rollouts_crds(api, tools):
            processes.poll(lambda n=name: kube.crd_established(api, n), 60, f"CRD {name} to be established")
        # The workload controllers start side by side with Argo CD; their readiness is checked after it.
        started = controllers.Started()
        kubeconfig = apiserver.kubeconfig
        for launch in (controllers.launch_controller_manager, controllers.launch_scheduler,
                       controllers.launch_kwok, controllers.launch_rollouts):
            launch(sup, tools, kubeconfig, state_dir, base_env, started)
        controllers.create_fake_node(api)

        layout = argocd.Layout(state_dir / "argocd")
        layout.create()
        env = argocd.common_env(layout, apiserver.kubeconfig, path)
        redis = argocd.start_redis(sup, tools.redis_server, layout, env)
        # The input key the daemon signs app branches with (contract v3); the plugin sidecars read it
        # (the second one, plugin k8sta-strict, refuses what the key did not sign).
        input_key = argocd_config.write_private(state_dir / INPUT_KEY_FILE, secrets.token_hex(32) + "\n")
        if sidecar_uid is None:
            argocd.start_cmp_server(sup, tools, layout, env, input_key)
            argocd.start_cmp_server(sup, tools, layout, env, input_key, require_signed=True)
        else:  # our cmp image runs argocd-cmp-server (tests/images): it owns the socket directory
            os.chown(layout.plugin_sockets, sidecar_uid, sidecar_uid)
        repo_server = argocd.start_repo_server(sup, tools, layout, env, redis)
        argocd.start_controller(sup, tools, layout, env, redis, repo_server)
        server_url = argocd.start_server(sup, tools, layout, env, redis, repo_server)

        started.wait()
        controllers.wait_for(lambda: controllers.node_ready(api), 60,
                             f"node {controllers.NODE_NAME} Ready (managed by KWOK)")
    finally:
        api.close()

    token = argocd_config.create_account_token(server_url, password)
    token_file = argocd_config.write_private(state_dir / "argocd-token", token + "\n")
    return Stack(state_dir=state_dir, kubeconfig=apiserver.kubeconfig, apiserver_url=apiserver.url,
                 argocd_url=server_url, token_file=token_file, admin_password_file=password_file,
                 namespace=argocd_config.NAMESPACE, processes=tuple(sup.processes),
                 startup_seconds=time.monotonic() - began)


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def running(state_dir: Path, *, sidecar_uid: int | None = None) -> Iterator[Stack]:
    """A started stack that is stopped on every way out, including SIGTERM and interpreter exit."""
    sup = processes.Supervisor(state_dir / "logs")
    atexit.register(sup.stop_all)
    previous = {sig: signal.signal(sig, _raise_exit) for sig in (signal.SIGTERM, signal.SIGHUP)}
    started: Stack | None = None
    began = time.time()
    try:
        started = start(state_dir, sup, sidecar_uid=sidecar_uid)
        yield started
    finally:
        sup.stop_all()
        if started is not None:
            remove_apply_leftovers(started.apiserver_url, since=began)
        atexit.unregister(sup.stop_all)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop(stack: Stack) -> None:
    """Stop a stack started elsewhere (``up``)."""
    processes.stop_groups(stack.processes)
    try:  # the state file is written once the stack is up
        began: float | None = (stack.state_dir / STATE_FILE).stat().st_mtime - stack.startup_seconds
    except OSError:
        began = None
    remove_apply_leftovers(stack.apiserver_url, since=began)


def remove_apply_leftovers(apiserver_url: str, since: float | None = None,
                           shm: Path = Path("/dev/shm")) -> list[Path]:
    """Remove what Argo CD's controller left in ``shm`` for this stack; returns the files removed.

    gitops-engine writes the kubeconfig and the manifest of every apply to /dev/shm
    (``gitops-engine/pkg/utils/io``: ``TempDir``, names of digits) and deletes them afterwards; a
    controller stopped in the middle of an apply leaves them there, credentials included. Only our own
    small files are touched: kubeconfigs naming this stack's API server, and, with ``since`` (when the
    stack started), digit-named JSON manifests (``apiVersion`` and ``kind``) written since then.
    """
    removed: list[Path] = []
    wanted = f"server: {apiserver_url}\n".encode()
    try:
        candidates = list(shm.iterdir())
    except OSError:
        return removed
    for path in candidates:
        try:
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_size > 1 << 20:
                continue
            body = path.read_bytes()
            if wanted in body or (since is not None and path.name.isdigit() and info.st_mtime >= since
                                  and _is_manifest(body)):
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return removed


def _is_manifest(body: bytes) -> bool:
    try:
        found = json.loads(body)
    except ValueError:
        return False
    return isinstance(found, dict) and "apiVersion" in found and "kind" in found
