"""The pinned kustomize: where it is, which version it is, and how it is run (never with network or plugins).

Only one kustomize is ever used: the path in ``K8STA_KUSTOMIZE`` (set in the plugin image and by the
project's set-up), or the project's build cache. A kustomize found on PATH is deliberately ignored. The
version written next to a render is the binary's own answer, so a different binary shows up as a
version mismatch in the plugin's check instead of hiding behind the pin.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from k8sta_cmp import early, errors, pins


def default_cache_dir(environ: dict[str, str]) -> Path:
    return Path(early.cache_dir(environ))


def build_error(returncode: int, stderr: bytes, display_root: Path) -> errors.RenderError:
    """kustomize's own words on one line, paths shown relative to the checkout."""
    message = " ".join(stderr.decode(errors="replace").split())
    message = message.removeprefix("Error: ").replace(f"{display_root}/", "")
    return errors.RenderError(f"kustomize build failed: {message or f'exit {returncode}'}")


def timeout_error(timeout: float) -> errors.RenderError:
    return errors.RenderError(f"kustomize build did not finish within {timeout:.0f} s")


_VERSIONS: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> what that binary said


class Kustomize(NamedTuple):
    """The kustomize binary at ``path``; its ``version`` is what the binary itself says."""

    path: Path

    @classmethod
    def locate(cls, environ: dict[str, str]) -> Kustomize:
        path = Path(early.kustomize_path(environ))
        if not (path.is_file() and os.access(path, os.X_OK)):
            hint = ("K8STA_KUSTOMIZE" if environ.get("K8STA_KUSTOMIZE")
                    else "run `toolchain/build.sh kustomize` or set K8STA_KUSTOMIZE")
            raise errors.ToolMissing(f"pinned kustomize {pins.kustomize_version()} not found at {path} ({hint})")
        return cls(path=path)

    @property
    def version(self) -> str:
        """The version recorded next to every render: asked of the binary (``kustomize version``), never a
        label or the pin, and cached by (path, size, mtime) so a replaced binary is asked again."""
        try:
            stat = os.stat(self.path)
        except OSError as exc:
            raise errors.ToolMissing(f"kustomize at {self.path} cannot be read: {exc.strerror}") from None
        key = (str(self.path), stat.st_size, stat.st_mtime_ns)
        known = _VERSIONS.get(key)
        if known is None:
            known = _VERSIONS[key] = self.reported_version()
        return known

    def reported_version(self) -> str:
        """What the binary itself says, asked now (``version`` caches it)."""
        import subprocess  # kept off the plugin's hot path (early.py spawns kustomize there)

        try:
            out = subprocess.run([str(self.path), "version"], capture_output=True, text=True,
                                 env=early.SANDBOX_ENV, check=False, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise errors.ToolMissing(f"`{self.path} version` could not run: {exc}") from None
        words = out.stdout.split()
        if out.returncode != 0 or len(words) != 1:
            said = " ".join((out.stderr or out.stdout).split())[:200]
            raise errors.ToolMissing(f"`{self.path} version` did not print a version (exit {out.returncode}: "
                                     f"{said or 'no output'})")
        return words[0]

    def build(self, directory: Path, timeout: float, display_root: Path) -> bytes:
        """``kustomize build`` with root-only loading (the daemon's path; the plugin uses early.py)."""
        import subprocess

        directory = directory.resolve()
        try:
            done = subprocess.run(early.build_argv(str(self.path), str(directory)), capture_output=True,
                                  env={**early.SANDBOX_ENV, "HOME": str(directory)}, timeout=timeout,
                                  cwd=directory, check=False)
        except subprocess.TimeoutExpired:
            raise timeout_error(timeout) from None
        if done.returncode != 0:
            raise build_error(done.returncode, done.stderr, display_root)
        return done.stdout
