"""The images a real node runs (``make node-images``), taken from their OCI archives as containerd would
take them and run by podman: Argo CD as upstream's image behaves (uid 999, its component names, git, ssh,
the wrappers), redis with the args ``install.yaml`` gives argocd-redis, the pause sandbox, and an index
naming every archive by the reference the node pulls it by."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from k8sta_devstack import binaries
from k8sta_devstack.node import images as node_images

from .conftest import ROOT, podman, podman_env

pytestmark = pytest.mark.images

SCRIPT = ROOT / "toolchain" / "node-images.sh"


@pytest.fixture(scope="module")
def built() -> list[node_images.NodeImage]:
    """Every node image's archive, built by the project's script (cached: rebuilt only where inputs changed)."""
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=podman_env(), timeout=3600,
                          check=False)
    if done.returncode != 0:
        pytest.fail(f"toolchain/node-images.sh failed:\n{done.stderr[-3000:]}", pytrace=False)
    return node_images.load(node_images.index_path(binaries.cache_dir()))


@pytest.fixture(scope="module")
def loaded(built: list[node_images.NodeImage]) -> dict[str, str]:
    """Each archive loaded into podman's storage: short name -> the reference podman now knows it by."""
    refs = {}
    for image in built:
        out = podman("load", "--quiet", "-i", str(image.archive))
        refs[image.short] = out.strip().removeprefix("Loaded image: ").removeprefix("Loaded image(s): ")
    return refs


def versions() -> dict[str, str]:
    return binaries.read_versions(environ={})


def argocd_module() -> Path:
    modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout
    return Path(modcache.strip()) / "github.com" / "argoproj" / "argo-cd" / f"v3@{versions()['ARGOCD_VERSION']}"


def run(ref: str, *args: str, user: str = "999") -> str:
    """One command in a throwaway container as install.yaml's securityContext runs it."""
    return podman("run", "--rm", "--read-only", "--user", user, "--cap-drop", "all",
                  "--security-opt", "no-new-privileges", ref, *args)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def container_name() -> Iterator[str]:
    """A unique name for a detached container, removed whatever the test's outcome."""
    name = f"k8sta-node-test-{secrets.token_hex(4)}"
    yield name
    podman("rm", "--force", "--time", "0", name, check=False)


def test_the_index_names_every_archive_and_each_archive_carries_that_name(
        built: list[node_images.NodeImage]) -> None:
    pins = versions()
    pause_makefile = (Path(subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                                          check=True).stdout.strip())
                      / "k8s.io" / f"kubernetes@{pins['KUBERNETES_VERSION']}" / "build" / "pause" / "Makefile")
    pause_tag = re.search(r"^TAG \?= *(\S+)", pause_makefile.read_text(), re.M)
    assert pause_tag, pause_makefile
    refs = {image.short: image.ref for image in built}
    assert refs[node_images.ARGOCD] == f"registry.k8sta.test/argoproj/argocd:{pins['ARGOCD_VERSION']}"
    assert refs[node_images.ARGOCD_COMPAT] == f"registry.k8sta.test/argoproj/argocd:{pins['ARGOCD_COMPAT_VERSION']}"
    assert re.fullmatch(r"registry\.k8sta\.test/library/redis:7\.\d+\.\d+", refs[node_images.REDIS])
    assert refs[node_images.PAUSE] == f"registry.k8sta.test/pause:{pause_tag.group(1)}"
    assert refs[node_images.K8STA] == "registry.k8sta.test/k8sta/k8sta:dev"
    assert refs[node_images.K8STA_CMP] == "registry.k8sta.test/k8sta/k8sta-cmp:dev"
    assert len({image.input_hash for image in built}) == len(built)
    for image in built:
        with tarfile.open(image.archive) as archive:
            member = archive.extractfile("./index.json") or archive.extractfile("index.json")
            assert member is not None, image.archive
            (manifest,) = json.load(member)["manifests"]
        # ctr images import names the image by io.containerd.image.name; podman and skopeo by ref.name.
        assert manifest["annotations"]["io.containerd.image.name"] == image.ref
        assert manifest["annotations"]["org.opencontainers.image.ref.name"] == image.ref
        inspected = json.loads(subprocess.run(["skopeo", "inspect", f"oci-archive:{image.archive}"],
                                              capture_output=True, text=True, check=True).stdout)
        assert inspected["Digest"] == manifest["digest"]
        assert inspected["Os"] == "linux" and inspected["Architecture"] == "amd64"


@pytest.mark.parametrize("short,pin", [(node_images.ARGOCD, "ARGOCD_VERSION"),
                                       (node_images.ARGOCD_COMPAT, "ARGOCD_COMPAT_VERSION")])
def test_argocd_runs_as_uid_999_with_its_components_git_ssh_and_the_wrappers(
        loaded: dict[str, str], short: str, pin: str) -> None:
    ref = loaded[short]
    version = versions()[pin]
    assert ref == node_images.argocd_ref(version)
    assert run(ref, "id", "-u").strip() == "999"
    assert run(ref, "sh", "-c", "echo $USER $HOME; pwd").split() == ["argocd", "/home/argocd", "/home/argocd"]
    assert f"argocd: {version}" in run(ref, "argocd", "version", "--client")
    # The multi-call binary picks the component by the name it was called under (the symlink).
    assert "ArgoCD Repository Server is an internal service" in run(ref, "argocd-repo-server", "--help")
    # The redis-secret-init initContainer of install.yaml runs this in the argocd image.
    assert "redis-initial-password" in run(ref, "argocd", "admin", "redis-initial-password", "--help")
    for component in ("argocd-server", "argocd-repo-server", "argocd-cmp-server", "argocd-application-controller",
                      "argocd-applicationset-controller", "argocd-notifications", "argocd-commit-server",
                      "argocd-k8s-auth", "argocd-git-ask-pass", "argocd-dex"):
        assert run(ref, "readlink", "-f", f"/usr/local/bin/{component}").strip() == "/usr/local/bin/argocd"
    found = run(ref, "sh", "-c", "for c in git ssh gpg tini git-verify-wrapper.sh gpg-wrapper.sh; do "
                                  "command -v $c; done").split()
    assert found == ["/usr/bin/git", "/usr/bin/ssh", "/usr/bin/gpg", "/usr/bin/tini",
                     "/usr/local/bin/git-verify-wrapper.sh", "/usr/local/bin/gpg-wrapper.sh"]
    # Upstream's entrypoint and the home the repo-server writes its gpg keyring and known hosts under.
    config = json.loads(podman("image", "inspect", ref))[0]["Config"]
    assert config["Entrypoint"] == ["/usr/bin/tini", "--"]
    assert config["User"] == "999" and config["WorkingDir"] == "/home/argocd"
    assert run(ref, "stat", "-c", "%u %a", "/home/argocd", "/app/config/gpg/keys").split() == \
        ["999", "775", "999", "700"]


def test_redis_runs_install_yamls_args_as_uid_999_and_answers_ping_only_with_the_password(
        loaded: dict[str, str], container_name: str) -> None:
    manifests = yaml.safe_load_all((argocd_module() / "manifests" / "install.yaml").read_text())
    deployment = next(m for m in manifests if m and m["kind"] == "Deployment"
                      and m["metadata"]["name"] == "argocd-redis")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "command" not in container  # the image's entrypoint must turn bare options into redis-server
    password = secrets.token_hex(12)
    args = [arg.replace("$(REDIS_PASSWORD)", password) for arg in container["args"]]
    port = free_port()
    podman("run", "--detach", "--name", container_name, "--read-only", "--cap-drop", "all",
           "--security-opt", "no-new-privileges", "--user", str(pod["securityContext"]["runAsUser"]),
           loaded[node_images.REDIS], *args, "--port", str(port), "--bind", "127.0.0.1")
    reply = redis_exchange(port, b"PING\r\nAUTH " + password.encode() + b"\r\nPING\r\n", replies=3)
    assert reply.startswith(b"-NOAUTH"), reply
    assert reply.endswith(b"+OK\r\n+PONG\r\n"), reply
    assert podman("exec", container_name, "id", "-u").strip() == "999"


def redis_exchange(port: int, request: bytes, replies: int) -> bytes:
    """Send request once redis accepts connections; read until ``replies`` lines came back."""
    last: OSError | None = None
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request)
                data = b""
                while data.count(b"\r\n") < replies:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return data
        except OSError as exc:  # not listening yet
            last = exc
            time.sleep(0.1)
    raise AssertionError(f"redis on port {port} never answered: {last}")


def test_pause_reports_its_version_and_exits_cleanly_on_sigterm(loaded: dict[str, str], container_name: str) -> None:
    ref = loaded[node_images.PAUSE]
    pause_tag = ref.rsplit(":", 1)[1]
    assert run(ref, "-v", user="65535").strip() == f"pause.c v{pause_tag}-{versions()['KUBERNETES_VERSION']}"
    assert json.loads(podman("image", "inspect", ref))[0]["Config"]["User"] == "65535:65535"
    podman("run", "--detach", "--name", container_name, "--read-only", "--cap-drop", "all", ref)
    # As PID 1 of its namespace, pause would not even notice a SIGTERM before its handler is in place.
    pid = podman("inspect", "--format", "{{.State.Pid}}", container_name).strip()
    for _ in range(300):
        caught = re.search(r"^SigCgt:\s*([0-9a-f]+)", Path(f"/proc/{pid}/status").read_text(), re.M)
        if caught and int(caught.group(1), 16) & (1 << (signal.SIGTERM - 1)):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"pause (pid {pid}) never installed its SIGTERM handler")
    podman("kill", "--signal", "TERM", container_name)
    # Exit code 0 is pause's own SIGTERM handler; a container that ignored it would still be running.
    assert podman("wait", container_name).strip() == "0"
    logs = subprocess.run(["podman", "logs", container_name], capture_output=True, text=True, env=podman_env(),
                          timeout=60, check=True)
    assert "Shutting down, got signal: Terminated" in logs.stdout + logs.stderr


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[list[str]]:
    """A private containerd (CRI off, native snapshotter: no overlay mounts), as ``ctr`` talks to it."""
    config = tmp_path / "config.toml"
    disabled = ", ".join(f'"io.containerd.{p}"' for p in (
        "grpc.v1.cri", "snapshotter.v1.btrfs", "snapshotter.v1.zfs", "snapshotter.v1.devmapper", "snapshotter.v1.aufs"))
    config.write_text(f'version = 2\nroot = "{tmp_path}/root"\nstate = "{tmp_path}/state"\n'
                      f"disabled_plugins = [{disabled}]\n"
                      f'[grpc]\n  address = "{tmp_path}/sock"\n[ttrpc]\n  address = "{tmp_path}/sock.ttrpc"\n')
    ctr = ["ctr", "--address", str(tmp_path / "sock"), "--namespace", "k8s.io"]
    # `ctr run` puts its shim's sockets and fifos under /run/containerd (fixed paths): remove them after,
    # unless something else (a running real node) had that directory already.
    run_dir = Path("/run/containerd")
    had_run_dir = run_dir.exists()
    with (tmp_path / "containerd.log").open("wb") as log:
        proc = subprocess.Popen(["containerd", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if subprocess.run([*ctr, "version"], capture_output=True, check=False).returncode == 0:
                break
            assert proc.poll() is None, (tmp_path / "containerd.log").read_text()[-3000:]
            time.sleep(0.1)
        else:
            raise AssertionError("containerd never answered: " + (tmp_path / "containerd.log").read_text()[-3000:])
        yield ctr
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(tmp_path / "root", ignore_errors=True)  # unpacked images: hundreds of MB
        if not had_run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)


def test_ctr_imports_every_archive_under_the_nodes_name_and_runs_pause(
        built: list[node_images.NodeImage], containerd: list[str]) -> None:
    pause = node_images.by_short(built, node_images.PAUSE)
    for image in built:  # only pause is unpacked (it runs below): the rest would copy a GB of files
        unpack = [] if image is pause else ["--no-unpack"]
        subprocess.run([*containerd, "images", "import", "--snapshotter", "native", *unpack, str(image.archive)],
                       capture_output=True, text=True, check=True, timeout=600)
    listed = subprocess.run([*containerd, "images", "ls", "--quiet"], capture_output=True, text=True,
                            check=True).stdout.split()
    assert sorted(listed) == sorted(image.ref for image in built)
    ran = subprocess.run([*containerd, "run", "--rm", "--snapshotter", "native", pause.ref,
                          f"k8sta-pause-{secrets.token_hex(4)}", "/pause", "-v"],
                         capture_output=True, text=True, check=True, timeout=120)
    assert ran.stdout.startswith(f"pause.c v{pause.ref.rsplit(':', 1)[1]}-")
