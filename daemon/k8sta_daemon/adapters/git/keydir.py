"""A private, memory-backed directory for key material that one git run needs as files.

Caller: ``credentials.cli_auth`` (an SSH private key, the known-hosts list, a CA bundle). A file
written to a disk-backed path (``/tmp`` usually is) may reach the disk and outlive the process (a
crash, a node's backups); a tmpfs never touches a disk (swap aside) and is gone with the pod. So
only a tmpfs (or ramfs) is used: ``$XDG_RUNTIME_DIR`` when it is one (a per-user tmpfs on systemd
machines), else ``/dev/shm`` (a tmpfs in every container runtime's default, also with a read-only root
file system). The directory is 0700, files 0600, and it is removed when the run ends, also on error.
With no memory-backed directory the run is refused rather than falling back to disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from k8sta_daemon.adapters.git import errors

MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def filesystem_type(path: str, mountinfo: str) -> str | None:
    """The file system type of the mount holding ``path`` (absolute, resolved), from ``mountinfo``
    (the text of /proc/self/mountinfo); the last-mounted of the longest matching mount points wins."""
    best: tuple[int, str] | None = None
    for line in mountinfo.splitlines():
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or not rest:
            continue
        point = _unescape(parts[4])
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), rest.split()[0])
    return None if best is None else best[1]


def choose(environ: Mapping[str, str], mountinfo: str) -> Path | None:
    """The first memory-backed candidate: ``$XDG_RUNTIME_DIR``, then ``/dev/shm``; None if neither is."""
    candidates = [environ.get("XDG_RUNTIME_DIR") or "", "/dev/shm"]
    for candidate in candidates:
        if candidate and os.path.isdir(candidate):
            real = os.path.realpath(candidate)
            if filesystem_type(real, mountinfo) in MEMORY_FILESYSTEMS:
                return Path(real)
    return None


@contextmanager
def private_directory() -> Iterator[Path]:
    """A new 0700 directory on a memory-backed file system, removed on exit (also on error)."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    except OSError:
        mountinfo = ""
    base = choose(os.environ, mountinfo)
    if base is None:
        raise errors.GiveUp("no memory-backed directory for SSH/TLS key material: neither $XDG_RUNTIME_DIR nor "
                            "/dev/shm is a tmpfs, and K8sTA never writes keys to disk; mount a tmpfs "
                            "(an emptyDir with medium: Memory) at /dev/shm")
    path = Path(tempfile.mkdtemp(prefix="k8sta-git-", dir=base))  # mkdtemp makes it 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_private(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``directory/name``, created 0600 (never readable by others, not even briefly)."""
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path
