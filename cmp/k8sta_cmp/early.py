"""Start the pinned kustomize on the checked inputs, cheaply: ``posix_spawn``, no ``subprocess``.

argocd-cmp-server starts one ``k8sta-cmp generate`` process per render, so this module is on the hot
path of every render. It is called only after the checks passed (signed.py proves the checkout is the
tree the daemon checked and signed; generate.py runs safety.py's full checks): kustomize fetches a
remote resource through its own loader, and Go sends a loopback URL past any proxy setting, so the
sandbox below (no PATH, so no git; proxies pointing at a closed port; no plugin flags) is a second
layer, never the first. Starting kustomize at process start instead, overlapping the checks, saved
little (docs/benchmarks.md, ``make bench-cmp``) and let it read inputs nobody had checked yet.

Only ``os``, ``select`` and ``_signal`` (and the package's pins) are imported here (``signal`` would
import ``enum`` and ``functools`` for one constant).
"""

from __future__ import annotations

import os
import select
from _signal import SIGKILL  # built in, already loaded at start-up

from k8sta_cmp import pins

WRAPPER_DIR = ".k8sta"  # contract.WRAPPER_PATH's directory; kept literal so contract is not imported
_DEAD_PROXY = "http://127.0.0.1:9"
SANDBOX_ENV = {
    "PATH": "",
    "HTTP_PROXY": _DEAD_PROXY,
    "HTTPS_PROXY": _DEAD_PROXY,
    "http_proxy": _DEAD_PROXY,
    "https_proxy": _DEAD_PROXY,
    "NO_PROXY": "",
    "no_proxy": "",
    "LANG": "C",
    "LC_ALL": "C",
}


def cache_dir(environ: dict[str, str] | os._Environ[str]) -> str:
    if environ.get("K8STA_CACHE"):
        return environ["K8STA_CACHE"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME", "/tmp"), ".cache")
    return os.path.join(base, "k8sta")


def kustomize_path(environ: dict[str, str] | os._Environ[str]) -> str:
    """``K8STA_KUSTOMIZE``, else the project's build cache; never a kustomize found on PATH."""
    return environ.get("K8STA_KUSTOMIZE") or os.path.join(
        cache_dir(environ), "bin", f"kustomize-{pins.kustomize_version()}", "kustomize")


def build_argv(binary: str, directory: str) -> list[str]:
    return [binary, "build", "--load-restrictor", "LoadRestrictionsRootOnly", directory]


class Started:
    """A running ``kustomize build`` whose stdout/stderr go to private files."""

    __slots__ = ("done", "pid", "pidfd", "tmpdir")

    def __init__(self, pid: int, pidfd: int, tmpdir: str) -> None:
        self.pid, self.pidfd, self.tmpdir = pid, pidfd, tmpdir
        self.done = False

    def wait(self, timeout: float) -> tuple[int, bytes, bytes] | None:
        """(exit code, stdout, stderr), or None if kustomize outlived ``timeout`` (it is then killed)."""
        ready, _, _ = select.select([self.pidfd], [], [], timeout)
        if not ready:
            self.kill()
            return None
        _, status = os.waitpid(self.pid, 0)
        self.done = True
        try:
            with open(os.path.join(self.tmpdir, "out"), "rb") as out, \
                    open(os.path.join(self.tmpdir, "err"), "rb") as err:
                return os.waitstatus_to_exitcode(status), out.read(), err.read()
        finally:
            self._cleanup()

    def kill(self) -> None:
        """Stop kustomize and forget its output (it took too long, or the caller gave up on it)."""
        if not self.done:
            try:  # noqa: SIM105 (contextlib is not imported on this hot path)
                os.kill(self.pid, SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.done = True
        self._cleanup()

    def _cleanup(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        for name in ("out", "err"):
            try:  # noqa: SIM105
                os.unlink(os.path.join(self.tmpdir, name))
            except FileNotFoundError:
                pass
        try:  # noqa: SIM105
            os.rmdir(self.tmpdir)
        except OSError:
            pass


def start(root: str, environ: dict[str, str] | os._Environ[str]) -> Started | None:
    """Spawn kustomize on ``<root>/.k8sta`` if the branch has a wrapper; None if it cannot start yet
    (no wrapper, no binary): the caller then reports the problem after its checks."""
    wrapper_dir = os.path.abspath(os.path.join(root, WRAPPER_DIR))
    binary = kustomize_path(environ)
    if not (os.path.isfile(os.path.join(wrapper_dir, "kustomization.yaml")) and os.access(binary, os.X_OK)):
        return None
    tmp_base = environ.get("TMPDIR") or "/tmp"
    tmpdir = os.path.join(tmp_base, f"k8sta-cmp-{os.getpid()}-{os.urandom(4).hex()}")
    os.mkdir(tmpdir, 0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    out = os.open(os.path.join(tmpdir, "out"), flags, 0o600)
    err = os.open(os.path.join(tmpdir, "err"), flags, 0o600)
    try:
        pid = os.posix_spawn(binary, build_argv(binary, wrapper_dir), {**SANDBOX_ENV, "HOME": tmpdir},
                             file_actions=[(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)])
    finally:
        os.close(out)
        os.close(err)
    return Started(pid, os.pidfd_open(pid), tmpdir)
