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
import ssl
import subprocess
import time
import urllib.request
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


def path_exists(path: Path) -> ReadyCheck:
    return path.exists


def http_ok(url: str, context: ssl.SSLContext | None = None) -> ReadyCheck:
    """Ready once ``url`` answers 200 (``context``: TLS settings for an https URL)."""
    def check() -> bool:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    return check


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3, the state, comes first)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/<pid>/stat); tells a reused pid apart."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def alive(pid: int, start_time: str | None) -> bool:
    """``pid`` is still the process we started and has not exited (a zombie waiting to be reaped counts
    as exited: its parent may be an init that reaps late)."""
    fields = _stat_fields(pid)
    return (fields is not None and fields[0] != "Z"
            and (start_time is None or fields[19] == start_time))


def stop_groups(targets: Sequence[Managed]) -> None:
    """SIGTERM the process groups led by ``targets`` all at once, SIGKILL each group when its own
    ``grace`` has passed; returns when every leader has exited.

    Only leaders that still are the processes we started (same start time) are signalled, so a reused
    pid is never touched. Stopping all at once keeps teardown at the slowest process's shutdown time.
    """
    ours = [proc for proc in targets if alive(proc.pid, proc.start_time)]
    for proc in ours:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
    began = time.monotonic()
    waiting = list(ours)
    while waiting:
        for proc in waiting:
            _reap(proc.pid)
            if time.monotonic() - began > proc.grace:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        waiting = [proc for proc in waiting if alive(proc.pid, None)]
        if waiting:
            time.sleep(0.05)
    for proc in ours:  # leftovers of a group whose leader exited (helpers it forked)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        _reap(proc.pid)


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
    grace: float = 10.0  # seconds between SIGTERM and SIGKILL on stop
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "pid": self.pid, "start_time": self.start_time, "log": str(self.log),
                "grace": self.grace}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Managed:
        start = data.get("start_time")
        return cls(name=str(data["name"]), pid=int(str(data["pid"])),
                   start_time=None if start is None else str(start), log=Path(str(data["log"])),
                   grace=float(str(data.get("grace", 10.0))))

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
              cwd: Path, ready: ReadyCheck, timeout: float = 60.0, grace: float = 10.0) -> Managed:
        """Start ``argv`` with stdout+stderr into ``<log_dir>/<name>.log``; return once ``ready()``."""
        proc = self.launch(name, argv, env=env, cwd=cwd, grace=grace)
        wait_ready(proc, ready, timeout)
        return proc

    def launch(self, name: str, argv: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str],
               cwd: Path, grace: float = 10.0) -> Managed:
        """Start ``argv`` without waiting: the caller checks readiness later (``wait_ready``), so
        independent processes start side by side."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as handle:
            popen = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=handle,
                                     stderr=subprocess.STDOUT, env=dict(env), cwd=cwd,
                                     start_new_session=True)
        proc = Managed(name=name, pid=popen.pid, start_time=process_start_time(popen.pid), log=log,
                       grace=grace, popen=popen)
        self.processes.append(proc)
        return proc

    def stop_all(self) -> None:
        procs, self.processes = self.processes, []
        stop_groups(procs)
        for proc in procs:
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
