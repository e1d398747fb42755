"""Fixtures of the image tests: both images built (``toolchain/images.sh``, cached), podman's
Docker-compatible API as pytest-docker's engine, a local stack whose repo-server has NO cmp-server of
its own (the plugin is served from our cmp image, as a sidecar), the install's identities on it, and a
git server both Argo CD (on the host) and the controller (in its container) reach.

pytest-docker drives Debian's docker-compose 1.29 over ``podman system service``; its fixtures are
overridden for that (``docker-compose``, ``up -d``: the images are prebuilt by buildah). Teardown:
``down -v``, then the podman service and the git server stop; nothing uses bridge networking.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from install.cluster import account_kubeconfig, apply  # tests/ is the rootdir of the test packages
from install.kustomizations import Builder
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.argocd import ArgoCD, ArgoCDSettings
from k8sta_devstack import binaries, kube, processes, railway
from k8sta_devstack import stack as stack_mod
from k8sta_devstack.gitrepo import ConfigRepo

from . import compose

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "toolchain" / "containers.conf"
RBAC_KINDS = ("Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, check: bool = True) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, env=podman_env(), timeout=300,
                          check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Images:
    cmp: str
    daemon: str
    build: dict  # what toolchain/images.sh recorded: base, builder, per-image seconds and bytes


@pytest.fixture(scope="session")
def images(host_before: HostNetwork) -> Images:
    """Both images, built by the project's script (rebuilt only where an input changed)."""
    done = subprocess.run([str(ROOT / "toolchain" / "images.sh")], capture_output=True, text=True,
                          env=podman_env(), timeout=1800, check=False)
    if done.returncode != 0:
        pytest.fail(f"toolchain/images.sh failed:\n{done.stderr[-3000:]}", pytrace=False)
    print(done.stderr.strip())
    cmp_image, daemon_image = subprocess.run([str(ROOT / "toolchain" / "images.sh"), "--print-tags"],
                                             capture_output=True, text=True, check=True).stdout.split()
    record = json.loads((binaries.cache_dir() / "images" / "last-build.json").read_text())
    return Images(cmp_image, daemon_image, record)


def iptables_rules() -> str | None:
    """Every rule of every table, or None where iptables is not installed."""
    if not shutil.which("iptables-save"):
        return None
    done = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False)
    return "\n".join(line for line in done.stdout.splitlines() if not line.startswith("#"))


@dataclass(frozen=True)
class HostNetwork:
    iptables: str | None
    ip_forward: str


@pytest.fixture(scope="session")
def host_before() -> HostNetwork:
    """The host's firewall rules and forwarding before any container ran, to compare against."""
    return HostNetwork(iptables_rules(), Path("/proc/sys/net/ipv4/ip_forward").read_text().strip())


@pytest.fixture(scope="session")
def podman_socket(tmp_path_factory: pytest.TempPathFactory, host_before: HostNetwork) -> Iterator[str]:
    """``podman system service`` answering the Docker API on a unix socket of this session."""
    where = tmp_path_factory.mktemp("podman")
    sock = where / "podman.sock"
    with (where / "service.log").open("wb") as log:
        proc = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"], stdout=log,
                                stderr=subprocess.STDOUT, env=podman_env(), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _pings(sock):
            assert proc.poll() is None, (where / "service.log").read_text()
            assert time.monotonic() < deadline, "podman system service did not answer within 60 s"
            time.sleep(0.2)
        yield f"unix://{sock}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # After `down` and the service's exit: the host's firewall and forwarding are as they were.
    assert iptables_rules() == host_before.iptables, "containers left iptables rules behind"
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == host_before.ip_forward


def _pings(sock: Path) -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(2)
        conn.connect(str(sock))
        conn.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
        return b" 200 " in conn.recv(256)
    return False


@pytest.fixture(scope="session")
def image_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack_mod.Stack]:
    """A stack of its own whose repo-server finds the plugin socket served from our cmp image."""
    try:
        binaries.locate()
    except binaries.MissingTool as exc:
        pytest.fail(f"the real stack cannot start: {exc}", pytrace=False)
    with stack_mod.running(tmp_path_factory.mktemp("istack"), sidecar_uid=compose.UID) as started:
        yield started


@pytest.fixture(scope="session")
def argocd_admin(image_stack: stack_mod.Stack) -> Iterator[ArgoCD]:
    client = ArgoCD(ArgoCDSettings(url=image_stack.argocd_url, token=image_stack.token()))
    yield client
    client.close()


@pytest.fixture(scope="session")
def image_api(image_stack: stack_mod.Stack) -> Iterator[k8s.ApiClient]:
    api = kube.api_client(image_stack.kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def installed(image_api: k8s.ApiClient, tmp_path_factory: pytest.TempPathFactory) -> None:
    """K8sTA's CRDs and the install's namespace, ServiceAccounts and RBAC, applied as the admin."""
    railway.apply_crds(image_api, ROOT / "kustomize" / "crds")
    built = Builder(Kustomize.locate(dict(os.environ)).path, tmp_path_factory.mktemp("kustomize")).build("install")
    dynamic = DynamicClient(image_api)
    for kind in RBAC_KINDS:
        for obj in built.of_kind(kind):
            apply(dynamic, obj, dry_run=False)


def _for_uid(directory: Path) -> Path:
    """Hand a directory and its files to the containers' uid (they read mounted files as 999)."""
    for path in (directory, *directory.iterdir()):
        os.chown(path, compose.UID, compose.UID)
    return directory


@pytest.fixture(scope="session")
def identities(image_stack: stack_mod.Stack, image_api: k8s.ApiClient, installed: None,
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Directories with a kubeconfig for k8sta/k8sta-web and k8sta/k8sta-controller (TokenRequest tokens)."""
    found = {}
    for account in ("k8sta-web", "k8sta-controller"):
        where = tmp_path_factory.mktemp(account)
        account_kubeconfig(image_api, image_stack.kubeconfig, "k8sta", account, where / "kubeconfig")
        found[account] = _for_uid(where)
    token = tmp_path_factory.mktemp("argocd-token")
    shutil.copy(image_stack.token_file, token / "token")
    found["argocd-token"] = _for_uid(token)
    return found


@dataclass(frozen=True)
class GitServer:
    """``git daemon`` on loopback serving (and accepting pushes to) bare repositories under ``root``.

    Over the git protocol, Argo CD (root, on the host) and the controller (uid 999, in its container) both
    reach the repositories without either owning them (git refuses repositories other users own).
    """

    root: Path
    port: int

    def repo(self, name: str) -> ServedRepo:
        created = ConfigRepo.create(self.root / f"{name}.git")
        return ServedRepo(created.path, f"git://127.0.0.1:{self.port}/{name}.git")


@dataclass(frozen=True)
class ServedRepo(ConfigRepo):
    served_url: str = ""

    @property
    def url(self) -> str:
        return self.served_url


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    root = tmp_path_factory.mktemp("git")
    port = processes.free_port()
    with (root.parent / "git-daemon.log").open("wb") as log:
        proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}",
                                 f"--base-path={root}", "--export-all", "--enable=receive-pack", "--informative-errors",
                                 str(root)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert proc.poll() is None and time.monotonic() < deadline, "git daemon did not start"
            time.sleep(0.1)
        yield GitServer(root, port)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def ride_namespace(image_api: k8s.ApiClient, installed: None) -> str:
    """The one namespace the containerized controller watches (other suites' tickets are not its own)."""
    name = f"img-rail-{secrets.token_hex(3)}"
    k8s.CoreV1Api(image_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


@dataclass(frozen=True)
class Ports:
    web: int
    metrics: int


@pytest.fixture(scope="session")
def ports() -> Ports:
    return Ports(processes.free_port(), processes.free_port())


# --- pytest-docker, over podman --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def docker_compose_command(podman_socket: str) -> str:
    return f"env DOCKER_HOST={podman_socket} COMPOSE_HTTP_TIMEOUT=300 docker-compose"


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"k8sta-images-{os.getpid()}"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    return ["up -d"]


@pytest.fixture(scope="session")
def docker_compose_file(images: Images, image_stack: stack_mod.Stack, identities: dict[str, Path], ports: Ports,
                        ride_namespace: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    tools = binaries.locate()
    project = compose.Project(
        cmp_image=images.cmp, daemon_image=images.daemon, argocd_binary=tools.argocd.resolve(),
        plugin_sockets=image_stack.plugin_sockets, web_kube=identities["k8sta-web"], web_port=ports.web,
        controller_kube=identities["k8sta-controller"], argocd_token=identities["argocd-token"],
        argocd_url=image_stack.argocd_url, ride_namespace=ride_namespace, metrics_port=ports.metrics,
        controller_cache=_for_uid(tmp_path_factory.mktemp("controller-cache")))
    return str(compose.write(project, tmp_path_factory.mktemp("compose") / "compose.yaml"))
