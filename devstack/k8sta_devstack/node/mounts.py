"""The node's own mount namespace: what kubelet and containerd mount stays out of the host's.

kubelet mounts pod volumes (Secrets on tmpfs, the sandbox's shm) and containerd mounts container root
filesystems; in the host's mount table each would be a leftover when a run dies. So both run in a mount
namespace made for the node (``unshare --mount``, private propagation), held open by a small process the
stack starts first and stops last: every mount made in it vanishes with it.

Inside, a tmpfs covers each directory kubelet, containerd and the CNI plugins write to at a fixed path
(pod netns handles, shim sockets, CNI caches, log links), and the kernel tunables kubelet insists on
setting (host-wide sysctls such as ``kernel.panic``; ``protectKernelDefaults`` only makes it refuse to
start) are files of ours bound over their /proc/sys entries: kubelet writes those, the host keeps its own.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from k8sta_devstack import processes

# Fixed paths the node's programs write to (kubelet: /var/log/containers links; containerd CRI: pod
# netns handles under /run/netns, shim sockets under /run/containerd; libcni: /var/lib/cni).
PRIVATE_DIRS = (Path("/var/log"), Path("/run/netns"), Path("/run/containerd"), Path("/var/lib/cni"),
                Path("/var/lib/kubelet"))
# kubelet's setupKernelTunables (pkg/kubelet/cm/container_manager_linux.go) writes these host-wide values.
KUBELET_TUNABLES = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
                    "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")


@dataclass
class NodeMounts:
    """The running holder of the node's mount namespace, and the directories made on the host for it."""

    holder: processes.Managed
    created: list[Path] = field(default_factory=list)

    @property
    def namespace(self) -> Path:
        return Path(f"/proc/{self.holder.pid}/ns/mnt")

    def launcher(self, netns: Path) -> list[str]:
        """The argv prefix running a command in the node's network and mount namespaces."""
        return ["nsenter", f"--net={netns}", f"--mount={self.namespace}", "--"]


def start(sup: processes.Supervisor, directory: Path, env: Mapping[str, str]) -> NodeMounts:
    """Start the holder: it sets the namespace up, then sleeps until stopped."""
    created = [path for path in PRIVATE_DIRS if not path.exists()]
    for path in created:
        path.mkdir(parents=True)
    tunables = directory / "sysctl"
    tunables.mkdir(parents=True, exist_ok=True)
    steps = [f"mount -t tmpfs -o mode=0755 k8sta-node {shlex.quote(str(path))}" for path in PRIVATE_DIRS]
    for key in KUBELET_TUNABLES:
        source = Path("/proc/sys") / key
        copy = tunables / key.replace("/", ".")
        copy.write_text(source.read_text())
        steps.append(f"mount --bind {shlex.quote(str(copy))} {shlex.quote(str(source))}")
    ready_file = directory / "mounts.ready"
    with contextlib.suppress(FileNotFoundError):
        ready_file.unlink()
    script = " && ".join([*steps, f"touch {shlex.quote(str(ready_file))}", "exec sleep infinity"])
    argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script]
    holder = sup.start("node-mounts", argv, env=env, cwd=directory, ready=ready_file.exists, timeout=30,
                       grace=5)
    return NodeMounts(holder=holder, created=created)
