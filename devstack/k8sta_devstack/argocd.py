"""redis and Argo CD's four components as processes, wired the way Argo CD's own Procfile runs them.

All of them run from the one multi-call ``argocd`` binary (selected by ``ARGOCD_BINARY_NAME``).
The cmp-server reads OUR ``plugin.yaml`` (from the repository root) and runs ``k8sta-cmp`` with the
pinned kustomize; repo-server finds it through the shared socket directory
``ARGOCD_PLUGINSOCKFILEPATH``. The controller deploys into the same kube-apiserver
(``ARGOCD_FAKE_IN_CLUSTER``: "in-cluster" means the cluster of ``KUBECONFIG``).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from k8sta_daemon.core import compat
from k8sta_devstack import argocd_config, binaries, processes

PLUGIN_NAME = "k8sta"
# A second plugin sidecar with K8STA_REQUIRE_SIGNED_INPUTS=true (the same k8sta-cmp, failing closed):
# Applications naming it show what an operator who requires signatures gets.
STRICT_PLUGIN_NAME = "k8sta-strict"
RESYNC_SECONDS = 10
# bench/bench_scale.py: Argo CD's reconciliation interval and the application controller's processors
# (``--status-processors``, ``--operation-processors``) for a stack with hundreds of Applications.
RESYNC_ENV = "K8STA_DEVSTACK_ARGOCD_RESYNC"
PROCESSORS_ENV = "K8STA_DEVSTACK_ARGOCD_PROCESSORS"  # "<status>,<operation>"


def resync_seconds() -> int:
    """The reconciliation interval: 10 s (tests wait seconds, not minutes) unless the environment says."""
    return int(os.environ.get(RESYNC_ENV) or RESYNC_SECONDS)


def processors() -> tuple[str, str]:
    status, _, operation = (os.environ.get(PROCESSORS_ENV) or "4,2").partition(",")
    return str(int(status)), str(int(operation or "2"))


@dataclass(frozen=True)
class Layout:
    """Where each Argo CD process keeps its files inside the state directory (all under ``root``)."""

    root: Path
    plugin_sockets: Path = field(init=False)
    cmp_workdir: Path = field(init=False)
    home: Path = field(init=False)
    tmp: Path = field(init=False)

    def __post_init__(self) -> None:
        for name, sub in (("plugin_sockets", "plugins"), ("cmp_workdir", "cmp-work"), ("home", "home"),
                          ("tmp", "tmp")):
            object.__setattr__(self, name, self.root / sub)  # frozen: set once, here

    def create(self) -> None:
        for path in (self.plugin_sockets, self.cmp_workdir, self.home, self.tmp, self.root / "tls",
                     self.root / "ssh", self.root / "gpg" / "keys", self.root / "gpg" / "source",
                     self.root / "ui", self.root / "redis"):
            path.mkdir(parents=True, exist_ok=True)
        self.plugin_sockets.chmod(0o700)


def common_env(layout: Layout, kubeconfig: Path, path: str) -> dict[str, str]:
    """Environment shared by every Argo CD process: no access to the user's home, kube or git config."""
    return {
        "PATH": path,
        "HOME": str(layout.home),
        "TMPDIR": str(layout.tmp),
        "LANG": "C.UTF-8",
        "KUBECONFIG": str(kubeconfig),
        "ARGOCD_FAKE_IN_CLUSTER": "true",
        "ARGOCD_TLS_DATA_PATH": str(layout.root / "tls"),
        "ARGOCD_SSH_DATA_PATH": str(layout.root / "ssh"),
        "ARGOCD_GNUPGHOME": str(layout.root / "gpg" / "keys"),
        "ARGOCD_GPG_DATA_PATH": str(layout.root / "gpg" / "source"),
        "ARGOCD_GPG_ENABLED": "false",
        "ARGOCD_PLUGINSOCKFILEPATH": str(layout.plugin_sockets),
        "GIT_CONFIG_NOSYSTEM": "1",
        # In a cluster this comes from argocd-cm timeout.reconciliation; repo-server also derives
        # its revision-cache expiry from it, so a pushed branch is seen within one interval.
        "ARGOCD_RECONCILIATION_TIMEOUT": f"{resync_seconds()}s",
    }


def start_redis(sup: processes.Supervisor, redis_server: Path, layout: Layout, env: dict[str, str]) -> str:
    port = processes.free_port()
    argv = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(layout.root / "redis"), "--daemonize", "no", "--loglevel", "warning"]
    sup.start("redis", argv, env=env, cwd=layout.root, ready=_redis_pong(port))
    return f"127.0.0.1:{port}"


def _redis_pong(port: int) -> processes.ReadyCheck:
    def check() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    return check


def start_cmp_server(sup: processes.Supervisor, tools: binaries.Toolchain, layout: Layout,
                     env: dict[str, str], input_key: Path | None = None, *, require_signed: bool = False) -> Path:
    """The plugin sidecar: reads <repo>/plugin.yaml, serves <sockets>/k8sta.sock, runs k8sta-cmp.

    ``K8STA_DEVSTACK_CMP_BIN`` (a directory) goes first on its PATH: bench/bench_argocd.py puts a
    wheel-installed k8sta-cmp there, started as the plugin image starts it (no editable-install hook).
    ``K8STA_DEVSTACK_CMP_WORKDIR`` (an existing directory) is where it unpacks each checkout instead of
    the layout's: bench/bench_argocd.py gives it a tmpfs one, as the install's memory-backed /tmp is.
    ``require_signed``: the sidecar runs with ``K8STA_REQUIRE_SIGNED_INPUTS=true`` as the plugin
    ``k8sta-strict`` (its own copy of plugin.yaml under the layout), next to the plain one.
    """
    name = STRICT_PLUGIN_NAME if require_signed else PLUGIN_NAME
    socket_path = layout.plugin_sockets / f"{name}.sock"
    workdir = os.environ.get("K8STA_DEVSTACK_CMP_WORKDIR") or str(layout.cmp_workdir)
    cmp_env = {**env, "ARGOCD_BINARY_NAME": "argocd-cmp-server", "ARGOCD_CMP_WORKDIR": workdir,
               "K8STA_KUSTOMIZE": str(tools.kustomize), "K8STA_ARGOCD_NAMESPACE": argocd_config.NAMESPACE}
    if input_key is not None:
        cmp_env["K8STA_INPUT_KEY_FILE"] = str(input_key)
    config_dir = binaries.REPO_ROOT
    if require_signed:
        cmp_env["K8STA_REQUIRE_SIGNED_INPUTS"] = "true"
        config_dir = layout.root / f"cmp-{name}"
        config_dir.mkdir(exist_ok=True)
        plugin = (binaries.REPO_ROOT / "plugin.yaml").read_text()
        (config_dir / "plugin.yaml").write_text(plugin.replace(f"  name: {PLUGIN_NAME}\n", f"  name: {name}\n", 1))
    if os.environ.get("K8STA_DEVSTACK_CMP_BIN"):
        cmp_env["PATH"] = os.pathsep.join([os.environ["K8STA_DEVSTACK_CMP_BIN"], cmp_env["PATH"]])
    argv = [tools.argocd, "--config-dir-path", str(config_dir), "--loglevel", "info"]
    # grace 1 s: on SIGTERM cmp-server removes its socket but keeps serving (upstream), never exits.
    sup.start(f"argocd-cmp-server-{name}" if require_signed else "argocd-cmp-server", argv, env=cmp_env,
              cwd=layout.root, ready=processes.path_exists(socket_path), grace=1.0)
    return socket_path


def start_repo_server(sup: processes.Supervisor, tools: binaries.Toolchain, layout: Layout,
                      env: dict[str, str], redis: str) -> str:
    port, metrics = processes.free_port(), processes.free_port()
    argv = [tools.argocd, "--address", "127.0.0.1", "--port", str(port), "--metrics-address", "127.0.0.1",
            "--metrics-port", str(metrics), "--redis", redis, "--disable-tls", "--loglevel", "info"]
    release = compat.parse(tools.versions["ARGOCD_VERSION"])
    if release is not None and release[:2] >= (3, 5):
        # From 3.5, --client-ca-path defaults to a path and is refused next to --disable-tls ("cannot be
        # used when --disable-tls is enabled"; argo-cd#29661); an empty one turns it off. 3.2 lacks the flag.
        argv += ["--client-ca-path", ""]
    # Argo CD's git wrappers (git-verify-wrapper.sh, gpg-wrapper.sh) sit next to the binary, as in
    # upstream's image (toolchain/build.sh copies them from the module).
    repo_env = {**env, "ARGOCD_BINARY_NAME": "argocd-repo-server",
                "PATH": os.pathsep.join([str(tools.bin_dir), env["PATH"]])}
    # bench/bench_argocd.py --tar-exclusions: what repo-server leaves out of the tarball it streams to
    # a plugin (Argo CD's ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS, e.g. `.git/*`).
    if os.environ.get("K8STA_DEVSTACK_PLUGIN_TAR_EXCLUSIONS"):
        repo_env["ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS"] = os.environ["K8STA_DEVSTACK_PLUGIN_TAR_EXCLUSIONS"]
    sup.start("argocd-repo-server", argv, env=repo_env,
              cwd=layout.root, ready=processes.http_ok(f"http://127.0.0.1:{metrics}/healthz"))
    return f"127.0.0.1:{port}"


def start_controller(sup: processes.Supervisor, tools: binaries.Toolchain, layout: Layout,
                     env: dict[str, str], redis: str, repo_server: str) -> None:
    metrics = processes.free_port()
    status_processors, operation_processors = processors()
    argv = [tools.argocd, "--redis", redis, "--repo-server", repo_server, "--repo-server-plaintext",
            "--metrics-port", str(metrics), "--app-resync", str(resync_seconds()), "--app-resync-jitter", "0",
            "--self-heal-timeout-seconds", "2", "--status-processors", status_processors,
            "--operation-processors", operation_processors, "--loglevel", "info"]
    sup.start("argocd-application-controller", argv,
              env={**env, "ARGOCD_BINARY_NAME": "argocd-application-controller", "HOSTNAME": "devstack-0"},
              cwd=layout.root, ready=processes.http_ok(f"http://127.0.0.1:{metrics}/healthz"))


def start_server(sup: processes.Supervisor, tools: binaries.Toolchain, layout: Layout,
                 env: dict[str, str], redis: str, repo_server: str) -> str:
    """argocd-server with authentication on (plain HTTP on loopback); returns its base URL."""
    port, metrics = processes.free_port(), processes.free_port()
    argv = [tools.argocd, "--address", "127.0.0.1", "--port", str(port), "--metrics-port", str(metrics),
            "--insecure", "--redis", redis, "--repo-server", repo_server, "--repo-server-plaintext",
            "--staticassets", str(layout.root / "ui"), "--loglevel", "info"]
    url = f"http://127.0.0.1:{port}"
    sup.start("argocd-server", argv, env={**env, "ARGOCD_BINARY_NAME": "argocd-server"}, cwd=layout.root,
              ready=processes.http_ok(f"{url}/healthz"), timeout=90)
    return url
