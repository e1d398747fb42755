"""Where the pinned external binaries and Argo CD's module sources are, read from toolchain/versions.env.

The launcher never builds anything: a missing binary is an error naming the ``toolchain/build.sh``
target that builds it, so a slow cold build is always an explicit step (``make tools``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from k8sta_cmp import pins

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / "toolchain" / "versions.env"
_VERSION_KEYS = {
    "kustomize": "KUSTOMIZE_VERSION",
    "etcd": "ETCD_VERSION",
    "kube-apiserver": "KUBERNETES_VERSION",
    "kube-controller-manager": "KUBERNETES_VERSION",
    "kube-scheduler": "KUBERNETES_VERSION",
    "kwok": "KWOK_VERSION",
    "argo-rollouts": "ARGO_ROLLOUTS_VERSION",
    "argocd": "ARGOCD_VERSION",
    "kubelet": "KUBERNETES_VERSION",
    "kube-proxy": "KUBERNETES_VERSION",
    "kubectl": "KUBERNETES_VERSION",
    "coredns": "COREDNS_VERSION",
}


class MissingTool(RuntimeError):
    """A pinned tool is not built or installed; the message says which command provides it."""


# Which of the two tested Argo CD releases the stack runs: unset (or the pin) runs ``ARGOCD_VERSION``;
# ``ARGOCD_COMPAT_VERSION``'s value runs the oldest release still tested (CI's smoke run; docs/devstack.md).
ARGOCD_CHOICE = "K8STA_DEVSTACK_ARGOCD_VERSION"


def read_versions(path: Path = VERSIONS_FILE, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The pins of versions.env, parsed as the plugin and the daemon parse them (``k8sta_cmp.pins``), with
    ``ARGOCD_VERSION`` set to the release ``$K8STA_DEVSTACK_ARGOCD_VERSION`` chooses, if any."""
    versions = pins.read(str(path))
    chosen = (os.environ if environ is None else environ).get(ARGOCD_CHOICE, "").strip()
    if chosen:
        tested = (versions["ARGOCD_VERSION"], versions["ARGOCD_COMPAT_VERSION"])
        if chosen not in tested:
            raise MissingTool(f"{ARGOCD_CHOICE}={chosen} is not a tested Argo CD release; choose one of "
                              f"{', '.join(tested)} (toolchain/versions.env)")
        versions["ARGOCD_VERSION"] = chosen
    return versions


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    """Same rule as toolchain/build.sh: $K8STA_CACHE, else $XDG_CACHE_HOME/k8sta, else ~/.cache/k8sta."""
    env = os.environ if environ is None else environ
    if env.get("K8STA_CACHE"):
        return Path(env["K8STA_CACHE"])
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "k8sta"


@dataclass(frozen=True)
class Toolchain:
    """Absolute paths of every binary the stack runs."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok: Path  # its stages (node-initialize, pod-*) are in ``kwok_stages``
    rollouts_controller: Path  # kubectl-argo-rollouts and the CRDs (``rollouts_crds``) sit beside it
    argocd: Path
    kustomize: Path
    redis_server: Path
    git: Path
    versions: dict[str, str]

    @property
    def bin_dir(self) -> Path:
        return self.argocd.parent

    @property
    def kwok_stages(self) -> list[Path]:
        return sorted((self.kwok.parent / "stages").glob("*.yaml"))

    @property
    def rollouts_crds(self) -> list[Path]:
        return sorted((self.rollouts_controller.parent / "crds").glob("*.yaml"))

    @property
    def kubectl_argo_rollouts(self) -> Path:
        return self.rollouts_controller.parent / "kubectl-argo-rollouts"


def pinned_binary(name: str, versions: dict[str, str], cache: Path, binary: str | None = None) -> Path:
    """``<cache>/bin/<name>-<version>/<binary or name>``, or MissingTool naming the build command."""
    version = versions[_VERSION_KEYS[name]]
    path = cache / "bin" / f"{name}-{version}" / (binary or name)
    if not (path.is_file() and os.access(path, os.X_OK)):
        target = "argocd-compat" if name == "argocd" and version == versions.get("ARGOCD_COMPAT_VERSION") else name
        raise MissingTool(f"{name} {version} is not built at {path}; run `toolchain/build.sh {target}` "
                          "(or `make tools`)")
    return path


def system_binary(name: str) -> Path:
    found = shutil.which(name)
    if not found:
        raise MissingTool(f"{name} not found on PATH; run `toolchain/debian-deps.sh` (or `make deps`)")
    return Path(found)


def locate(environ: dict[str, str] | None = None) -> Toolchain:
    """Find every binary of the stack, failing on the first missing one with the command that fixes it."""
    versions = read_versions(environ=environ)
    cache = cache_dir(environ)
    return Toolchain(
        etcd=pinned_binary("etcd", versions, cache),
        kube_apiserver=pinned_binary("kube-apiserver", versions, cache),
        kube_controller_manager=pinned_binary("kube-controller-manager", versions, cache),
        kube_scheduler=pinned_binary("kube-scheduler", versions, cache),
        kwok=pinned_binary("kwok", versions, cache),
        rollouts_controller=pinned_binary("argo-rollouts", versions, cache, "rollouts-controller"),
        argocd=pinned_binary("argocd", versions, cache),
        kustomize=pinned_binary("kustomize", versions, cache),
        redis_server=system_binary("redis-server"),
        git=system_binary("git"),
        versions=versions,
    )


@dataclass(frozen=True)
class NodeTools:
    """The real node's binaries (``toolchain/build.sh node``) and Debian's containerd."""

    kubelet: Path
    kube_proxy: Path
    kubectl: Path
    coredns: Path
    containerd: Path


def locate_node(environ: dict[str, str] | None = None) -> NodeTools:
    versions = read_versions(environ=environ)
    cache = cache_dir(environ)
    node_deps = "run `toolchain/node-deps.sh` (or `make node-deps`)"
    containerd = shutil.which("containerd")
    if not containerd:
        raise MissingTool(f"containerd not found on PATH; {node_deps}")
    return NodeTools(kubelet=pinned_binary("kubelet", versions, cache),
                     kube_proxy=pinned_binary("kube-proxy", versions, cache),
                     kubectl=pinned_binary("kubectl", versions, cache),
                     coredns=pinned_binary("coredns", versions, cache),
                     containerd=Path(containerd))


def argocd_module_dir(version: str) -> Path:
    """Argo CD's module source (its manifests/) from the Go module cache, downloading it if needed.

    ``go mod download -json`` prints the directory and works the same on a fresh machine, where the
    module is only fetched by the argocd build (or by this call). Go refuses a module whose go.mod asks
    for a newer Go (3.6: go 1.27.0) unless ``GOTOOLCHAIN`` names one: ``ARGOCD_GOTOOLCHAIN``, as the build.
    """
    go = system_binary("go")
    toolchain = read_versions().get("ARGOCD_GOTOOLCHAIN")
    env = {**os.environ, "GOFLAGS": "-mod=mod", **({"GOTOOLCHAIN": toolchain} if toolchain else {})}
    done = subprocess.run([str(go), "mod", "download", "-json", f"github.com/argoproj/argo-cd/v3@{version}"],
                          capture_output=True, text=True, check=False, cwd="/", env=env, timeout=600)
    try:
        found = json.loads(done.stdout)
    except ValueError:
        found = {}
    if done.returncode != 0 or "Dir" not in found:
        why = found.get("Error") or done.stderr.strip() or f"go exited {done.returncode}"
        raise MissingTool(f"cannot download Argo CD {version} module sources: {why}")
    return Path(found["Dir"])
