"""The pinned kustomize: where it is, which version it is, and how it is run (never with network or plugins).

Only one kustomize is ever used: the path in ``K8STA_KUSTOMIZE`` (set in the plugin image and by the
project's set-up), or the project's build cache. A kustomize found on PATH is deliberately ignored.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from k8sta_cmp import PINNED_KUSTOMIZE_VERSION, errors

# kustomize runs with an environment of our own: no PATH (so it cannot start git to fetch remote
# bases), no plugin home, and proxies pointing at a closed port so any HTTP attempt fails fast.
_DEAD_PROXY = "http://127.0.0.1:9"
_SANDBOX_ENV = {
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


def default_cache_dir(environ: dict[str, str]) -> Path:
    if environ.get("K8STA_CACHE"):
        return Path(environ["K8STA_CACHE"])
    base = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME", "/tmp"), ".cache")
    return Path(base) / "k8sta"


@dataclass(frozen=True)
class Kustomize:
    """A kustomize binary of a known version."""

    path: Path
    version: str

    @classmethod
    def locate(cls, environ: dict[str, str]) -> Kustomize:
        explicit = environ.get("K8STA_KUSTOMIZE")
        if explicit:
            path = Path(explicit)
        else:
            path = (default_cache_dir(environ) / "bin" / f"kustomize-{PINNED_KUSTOMIZE_VERSION}"
                    / "kustomize")
        if not (path.is_file() and os.access(path, os.X_OK)):
            hint = "K8STA_KUSTOMIZE" if explicit else "run `toolchain/build.sh kustomize` or set K8STA_KUSTOMIZE"
            raise errors.ToolMissing(f"pinned kustomize {PINNED_KUSTOMIZE_VERSION} not found at {path} ({hint})")
        # The binary's version is its pin (the image and the cache are keyed by it); it is
        # recorded next to every render, so a different binary shows up as a version mismatch.
        version = environ.get("K8STA_KUSTOMIZE_VERSION", PINNED_KUSTOMIZE_VERSION)
        return cls(path=path, version=version)

    def reported_version(self) -> str:
        """What the binary itself says (used by tests and `k8sta-cmp version`, not per render)."""
        out = subprocess.run([str(self.path), "version"], capture_output=True, text=True,
                             env=_SANDBOX_ENV, check=True, timeout=30)
        return out.stdout.strip()

    def build(self, directory: Path, timeout: float, display_root: Path) -> bytes:
        """``kustomize build`` with root-only loading; raise RenderError with kustomize's own words.

        Paths in kustomize's message are shown relative to ``display_root`` (the checkout).
        """
        directory = directory.resolve()
        try:
            done = subprocess.run(
                [str(self.path), "build", "--load-restrictor", "LoadRestrictionsRootOnly", str(directory)],
                capture_output=True, env={**_SANDBOX_ENV, "HOME": str(directory)}, timeout=timeout,
                cwd=directory, check=False,
            )
        except subprocess.TimeoutExpired:
            raise errors.RenderError(f"kustomize build did not finish within {timeout:.0f} s") from None
        if done.returncode != 0:
            message = " ".join(done.stderr.decode(errors="replace").split())
            message = message.removeprefix("Error: ").replace(f"{display_root}/", "")
            raise errors.RenderError(f"kustomize build failed: {message or f'exit {done.returncode}'}")
        return done.stdout
