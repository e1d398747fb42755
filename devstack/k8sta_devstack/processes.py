"""Start, watch and stop the stack's processes: one process group and one log file each.

Every child runs in its own session (``start_new_session``), so stopping it kills everything it
started too. Readiness is polled with a deadline; when a process dies or never gets ready, the error
carries the tail of its log. ``Supervisor`` stops its children in reverse start order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ReadyCheck = Callable[[], bool]


class StartError(RuntimeError):
    """A process exited or did not become ready in time; the message holds its log tail."""


def free_port() -> int:
    """A TCP port free on loopback right now (the kernel picks; a tiny race is acceptable here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tcp_open(port: int, host: str = "127.0.0.1") -> ReadyCheck:
    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False
    return check


def path_exists(path: Path) -> ReadyCheck:
    return path.exists


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/<pid>/stat); tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int, start_time: str | None) -> bool:
    current = process_start_time(pid)
    return current is not None and (start_time is None or current == start_time)


def stop_group(pid: int, start_time: str | None, grace: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid``, SIGKILL it after ``grace`` seconds.

    Only when ``pid`` still is the process we started (same start time): never signal a reused pid.
    """
    if not alive(pid, start_time):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid, start_time) or _zombie(pid):
            break
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # leftovers of the group (e.g. helpers the process forked)
    _reap(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


@dataclass
class Managed:
    """One started process: enough to find its log and to stop it later, also from another process."""

    name: str
    pid: int
    start_time: str | None
    log: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "pid": self.pid, "start_time": self.start_time, "log": str(self.log)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Managed:
        start = data.get("start_time")
        return cls(name=str(data["name"]), pid=int(str(data["pid"])),
                   start_time=None if start is None else str(start), log=Path(str(data["log"])))

    def exited(self) -> int | None:
        if self.popen is not None:
            return self.popen.poll()
        return None if alive(self.pid, self.start_time) else -1


class Supervisor:
    """Owns the stack's processes; ``stop_all`` is idempotent and safe to call from a signal handler."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[Managed] = []

    def start(self, name: str, argv: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str],
              cwd: Path, ready: ReadyCheck, timeout: float = 60.0) -> Managed:
        """Start ``argv`` with stdout+stderr into ``<log_dir>/<name>.log``; return once ``ready()``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as handle:
            popen = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=handle,
                                     stderr=subprocess.STDOUT, env=dict(env), cwd=cwd,
                                     start_new_session=True)
        proc = Managed(name=name, pid=popen.pid, start_time=process_start_time(popen.pid), log=log,
                       popen=popen)
        self.processes.append(proc)
        wait_ready(proc, ready, timeout)
        return proc

    def adopt(self, proc: Managed) -> None:
        self.processes.append(proc)

    def check_alive(self) -> None:
        """Raise StartError for the first process that has exited (with its log tail)."""
        for proc in self.processes:
            code = proc.exited()
            if code is not None:
                raise StartError(f"{proc.name} exited (code {code}); log {proc.log}:\n{log_tail(proc.log)}")

    def stop_all(self) -> None:
        while self.processes:
            proc = self.processes.pop()
            stop_group(proc.pid, proc.start_time)
            if proc.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=5)


def wait_ready(proc: Managed, ready: ReadyCheck, timeout: float) -> None:
    """Poll ``ready`` until it holds; fail early when the process exits, late on the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        code = proc.exited()
        if code is not None:
            raise StartError(f"{proc.name} exited during start-up (code {code}); log {proc.log}:\n"
                             f"{log_tail(proc.log)}")
        try:
            if ready():
                return
        except Exception:  # a readiness probe failing is just "not ready yet"
            pass
        if time.monotonic() > deadline:
            raise StartError(f"{proc.name} not ready after {timeout:.0f} s; log {proc.log}:\n"
                             f"{log_tail(proc.log)}")
        time.sleep(0.2)


def poll(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    """Wait until ``check()`` is true or raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
