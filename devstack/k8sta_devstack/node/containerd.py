"""containerd for the real node: Debian's package, our own config, root, state and socket.

Never the system service: everything lives under the stack's state directory, runc's state included,
and the process runs inside the node's network and mount namespaces (``mounts.NodeMounts``), so the
CNI plugins it runs wire pods into the node's namespace and the mounts it makes vanish with it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from k8sta_devstack import processes, shell

CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
K8S_NAMESPACE = "k8s.io"  # containerd's namespace for images and containers of the CRI


@dataclass(frozen=True)
class Containerd:
    socket: Path
    root: Path
    state: Path

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    def ctr(self, *args: str) -> str:
        """Run ``ctr`` against this containerd in the CRI's namespace; raise with its output on failure."""
        try:
            return shell.sh.ctr("--address", self.socket, "-n", K8S_NAMESPACE, *args)
        except shell.Failed as err:
            raise processes.StartError(f"ctr {' '.join(args)}: {shell.said(err)}") from None

    def import_archive(self, archive: Path) -> None:
        """Load an OCI archive (as buildah writes them) under the reference its index names."""
        self.ctr("images", "import", "--all-platforms", str(archive))


def write_mirrors(certs_d: Path, mirrors: Mapping[str, str]) -> None:
    """containerd's per-registry hosts files: pulls of ``name/...`` go to the plain-HTTP ``endpoint``
    (the node's image mirror, as an air-gapped cluster pulls from its own registry)."""
    for name, endpoint in mirrors.items():
        directory = certs_d / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "hosts.toml").write_text(
            f'server = "{endpoint}"\n\n[host."{endpoint}"]\n  capabilities = ["pull", "resolve"]\n')


def config(directory: Path, sockets: Path, sandbox_image: str, cni_conf_dir: Path) -> str:
    """config.toml, version 2. ``restrict_oom_score_adj``: this sandbox may not lower oom_score_adj,
    and runc fails every pod sandbox without it ("can't get final child's PID from pipe")."""
    return f"""version = 2
root = "{directory / 'root'}"
state = "{directory / 'state'}"
oom_score = 0

[grpc]
  address = "{sockets / 'containerd.sock'}"

[ttrpc]
  address = "{sockets / 'containerd.sock.ttrpc'}"

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "{directory / 'opt'}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{directory / 'runc'}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{cni_conf_dir}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{directory / 'certs.d'}"
"""


def start(sup: processes.Supervisor, directory: Path, sockets: Path, launcher: Sequence[str], env: Mapping[str, str],
          sandbox_image: str, cni_conf_dir: Path, mirrors: Mapping[str, str]) -> Containerd:
    """Start containerd (inside ``launcher``'s namespaces); return once its socket answers.
    ``mirrors``: registry name -> plain-HTTP endpoint to pull its images from. ``sockets``: a short
    directory for its sockets (a unix socket path is limited to 104 bytes; state directories are deep)."""
    binary = shutil.which("containerd")
    if binary is None:
        raise processes.StartError("containerd not found: run toolchain/node-deps.sh (Debian's containerd)")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    sockets.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(config(directory, sockets, sandbox_image, cni_conf_dir))
    write_mirrors(directory / "certs.d", mirrors)
    found = Containerd(socket=sockets / "containerd.sock", root=directory / "root", state=directory / "state")

    def ready() -> bool:
        shell.sh.ctr("--address", found.socket, "version")  # raises (not ready yet) until the socket answers
        return True

    sup.start("containerd", [*launcher, binary, "--config", path], env=env, cwd=directory, ready=ready,
              timeout=60, grace=20)
    return found
