"""The pinned kustomize: where it is, which version it is, and how it is run (never with network or plugins).

Only one kustomize is ever used: the path in ``K8STA_KUSTOMIZE`` (set in the plugin image and by the
project's set-up), or the project's build cache. A kustomize found on PATH is deliberately ignored.
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


class Kustomize(NamedTuple):
    """A kustomize binary of a known version."""

    path: Path
    version: str

    @classmethod
    def locate(cls, environ: dict[str, str]) -> Kustomize:
        path = Path(early.kustomize_path(environ))
        if not (path.is_file() and os.access(path, os.X_OK)):
            hint = ("K8STA_KUSTOMIZE" if environ.get("K8STA_KUSTOMIZE")
                    else "run `toolchain/build.sh kustomize` or set K8STA_KUSTOMIZE")
            raise errors.ToolMissing(f"pinned kustomize {pins.kustomize_version()} not found at {path} ({hint})")
        # The binary's version is its pin (the image and the cache are keyed by it); it is
        # recorded next to every render, so a different binary shows up as a version mismatch.
        version = environ.get("K8STA_KUSTOMIZE_VERSION") or pins.kustomize_version()
        return cls(path=path, version=version)

    def reported_version(self) -> str:
        """What the binary itself says (used by tests, not per render)."""
        import subprocess  # kept off the plugin's hot path (early.py spawns kustomize there)

        out = subprocess.run([str(self.path), "version"], capture_output=True, text=True,
                             env=early.SANDBOX_ENV, check=True, timeout=30)
        return out.stdout.strip()

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
