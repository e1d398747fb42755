"""The pinned versions of the external binaries: ``toolchain/versions.env``, the one place they are written.

The file ships inside this package as ``versions.env`` (a symlink in the source tree, a copy in the
wheel and so in both images), so the plugin, the daemon and the devstack read the same pins that
``toolchain/build.sh`` builds. On the plugin's hot path: only ``os`` is imported, one small file read.
"""

from __future__ import annotations

import os

PATH = os.path.join(os.path.dirname(__file__), "versions.env")


def parse(text: str) -> dict[str, str]:
    """The ``KEY=value`` lines of a versions.env (shell syntax: comments and blanks ignored, quotes dropped)."""
    versions: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip().strip("'\"")
    return versions


def read(path: str = PATH) -> dict[str, str]:
    with open(path, encoding="utf-8") as handle:
        return parse(handle.read())


def kustomize_version() -> str:
    """The pinned kustomize release (``KUSTOMIZE_VERSION``); read when asked (once or twice a process)."""
    return read()["KUSTOMIZE_VERSION"]
