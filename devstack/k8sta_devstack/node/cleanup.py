"""Teardown of the real node, and the host facts a test compares before and after a run.

Containers outlive containerd (each runs under its own shim, in its own process group), so every task
is killed through containerd first; then the stack's processes stop; then what the node made at fixed
host paths is removed: empty mount points the stack created, and the cgroups runc made.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

from k8sta_devstack import shell
from k8sta_devstack.node import mounts, netns

CGROUP_ROOT = Path("/sys/fs/cgroup")
# runc's cgroups for the node's containers: containerd's CRI puts a pod without a cgroup parent (kubelet
# with cgroupsPerQOS off) under /k8s.io/<id>; kubepods* would be a kubelet with QoS cgroups.
CGROUP_PARENTS = ("k8s.io", "kubepods", "kubepods.slice")
FIXED_PATHS = (Path("/var/lib/kubelet"), Path("/var/log/pods"), Path("/var/log/containers"),
               Path("/run/containerd"), Path("/var/lib/cni"), Path("/var/lib/containerd"), Path("/etc/cni/net.d"))
SYSCTLS = (*mounts.KUBELET_TUNABLES, "net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet",
           "net/netfilter/nf_conntrack_max")


def _ctr(socket: Path, problems: list[str], what: str, *args: str) -> str:
    """``ctr`` in the CRI's namespace: its stdout, or "" with why it failed added to ``problems`` as ``what``
    (teardown goes on: what containerd cannot kill, the cgroups can)."""
    try:
        return shell.sh.ctr("--address", socket, "-n", "k8s.io", *args, _timeout=60)
    except shell.Failed as err:
        problems.append(f"{what}: {err.stderr.decode(errors='replace').strip()}")
    except shell.TimedOut:
        problems.append(f"{what}: still running after 60 s, killed")
    return ""


def stop_containers(sockets: Path, directory: Path) -> list[str]:
    """Kill every container of the node: each task through containerd, then whatever is still in a
    container cgroup (a task containerd no longer knows, a shim's orphans). Returns what failed, for
    the log; an empty list when all went through containerd."""
    problems: list[str] = []
    socket = sockets / "containerd.sock"
    if socket.exists():
        for task in _ctr(socket, problems, "ctr tasks ls", "tasks", "ls", "-q").split():
            _ctr(socket, problems, f"ctr tasks kill {task}", "tasks", "kill", "--all", "--signal", "SIGKILL", task)
    ids = container_ids(directory)
    _remember(directory, ids)
    deadline = time.monotonic() + 15
    while (pids := _cgroup_pids(ids)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        problems.append(f"killed by cgroup: {sorted(pids)}")
        time.sleep(0.2)
    for pid in {*_pids_mentioning(str(sockets)), *_pids_mentioning(str(directory))}:  # shims
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return problems


def container_ids(directory: Path) -> set[str]:
    """Every container this node's containerd ran: its task state and runc's, both under ``directory``
    (another node on the machine, e.g. a second test cluster, has its own)."""
    found: set[str] = set()
    for where in (directory / "state" / "io.containerd.runtime.v2.task" / "k8s.io", directory / "runc" / "k8s.io"):
        with contextlib.suppress(OSError):
            found.update(p.name for p in where.iterdir() if p.is_dir())
    return found


def _remember(directory: Path, ids: set[str]) -> None:
    """Keep the ids beside the state (the state directories go with the tasks): the cgroups to remove."""
    path = directory / "containers.json"
    known = set(json.loads(path.read_text())) if path.exists() else set()
    path.write_text(json.dumps(sorted(known | ids)))


def _cgroup_pids(ids: set[str]) -> set[int]:
    pids: set[int] = set()
    for cgroup in _node_cgroups(ids):
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(line) for line in (cgroup / "cgroup.procs").read_text().split())
    return pids


def _pids_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def after_node(state_dir: Path) -> None:
    """Remove the host directories the stack made as mount points, and the containers' empty cgroups
    (the parent ``k8s.io`` too once empty: a second node may still hold its own there)."""
    with contextlib.suppress(OSError, ValueError):
        created = json.loads((state_dir / "created-dirs.json").read_text())
        for path in reversed(created):
            with contextlib.suppress(OSError):
                Path(path).rmdir()
    for cgroup in sorted(_node_cgroups(_remembered(state_dir)), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            cgroup.rmdir()
    for parent in _node_cgroups(None):
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when empty


def _remembered(state_dir: Path) -> set[str]:
    try:
        return set(json.loads((state_dir / "node" / "containerd" / "containers.json").read_text()))
    except (OSError, ValueError):
        return set()


def _node_cgroups(ids: set[str] | None) -> list[Path]:
    """The cgroups of containers ``ids`` (with their sub-cgroups), or with None the parents alone."""
    found: list[Path] = []
    with contextlib.suppress(OSError):
        for controller in CGROUP_ROOT.iterdir():
            for parent in CGROUP_PARENTS:
                top = controller / parent
                if not top.is_dir():
                    continue
                if ids is None:
                    found.append(top)
                    continue
                for cid in ids:
                    if (top / cid).is_dir():
                        found.extend(p for p in (top / cid).rglob("*") if p.is_dir())
                        found.append(top / cid)
    return found


def _run(command: str, *args: str) -> str:
    """The command's stdout whatever its exit code (a fact, not a step that can fail), or why there is none."""
    try:
        return shell.sh.Command(command)(*args, _ok_code=range(256), _timeout=30)
    except shell.NotFound:
        return f"({command} failed: not found)"
    except shell.TimedOut:
        return f"({command} failed: still running after 30 s, killed)"


def _iptables(binary: str) -> list[str]:
    """Chains and rules of every table, without counters (which move on their own)."""
    lines = []
    for line in _run(binary).splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(":"):
            line = line.split(" [", 1)[0]
        lines.append(line)
    return lines


def _ours(point: str, state_dir: Path | None) -> bool:
    """A mount the node could have made: under its fixed paths, a namespace handle, the state dir."""
    roots = [*mounts.PRIVATE_DIRS, Path("/sys/fs/cgroup")] + ([state_dir] if state_dir else [])
    return any(point == str(root) or point.startswith(f"{root}/") for root in roots)


def host_facts(state_dir: Path | None = None) -> dict[str, object]:
    """What the node could leave behind on the host, in a form two calls can be compared by. Mounts
    are those at the node's fixed paths or under ``state_dir`` (other programs on the machine mount and
    unmount their own meanwhile)."""
    facts: dict[str, object] = {
        "iptables": _iptables("iptables-save"), "ip6tables": _iptables("ip6tables-save"),
        "links": sorted(line.split(":")[1].strip().split("@")[0]
                        for line in _run("ip", "-o", "link").splitlines() if ":" in line),
        "routes": _run("ip", "route").splitlines(), "routes6": _run("ip", "-6", "route").splitlines(),
        "rules": _run("ip", "rule").splitlines(),
        "mounts": sorted(point for line in Path("/proc/self/mountinfo").read_text().splitlines()
                         if _ours(point := line.split()[4], state_dir)),
        "cgroups": sorted(str(p) for p in _node_cgroups(_remembered(state_dir) if state_dir else None)),
        "netns": netns.leftovers(),
        "paths": sorted(str(p) for p in FIXED_PATHS if p.exists()),
    }
    sysctls = {}
    for key in SYSCTLS:
        with contextlib.suppress(OSError):
            sysctls[key] = (Path("/proc/sys") / key).read_text().strip()
    facts["sysctls"] = sysctls
    return facts


def stray_processes(markers: tuple[str, ...]) -> list[str]:
    """Processes whose command line names one of ``markers`` (a state directory, a socket)."""
    return [f"{pid}: {(Path('/proc') / str(pid) / 'cmdline').read_bytes()[:200]!r}"
            for marker in markers for pid in _pids_mentioning(marker)]
