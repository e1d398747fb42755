"""The kustomize version K8sTA records is the binary's own answer, cached by (path, size, mtime)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from k8sta_cmp import errors
from k8sta_cmp.kustomize import Kustomize


def wrapper(path: Path, real: Kustomize, version: str) -> Kustomize:
    """A second kustomize: execs the real one, but says it is ``version``."""
    path.write_text(f'#!/bin/sh\nif [ "$1" = version ]; then echo {version}; exit 0; fi\nexec {real.path} "$@"\n')
    path.chmod(0o755)
    return Kustomize(path=path)


def test_the_version_is_asked_of_the_binary_not_the_pin_or_a_label(
        tmp_path: Path, kustomize: Kustomize, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8STA_KUSTOMIZE_VERSION", "v0.0.0-label")
    binary = wrapper(tmp_path / "kustomize", kustomize, "v9.9.9-other")
    located = Kustomize.locate({"K8STA_KUSTOMIZE": str(binary.path), "K8STA_KUSTOMIZE_VERSION": "v0.0.0-label"})
    assert located.version == "v9.9.9-other"


def test_a_replaced_binary_is_asked_again(tmp_path: Path, kustomize: Kustomize) -> None:
    binary = wrapper(tmp_path / "kustomize", kustomize, "v9.9.1")
    assert binary.version == "v9.9.1"
    stat = os.stat(binary.path)

    wrapper(binary.path, kustomize, "v9.9.2")  # same size: only the mtime tells the two apart
    os.utime(binary.path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert binary.version == "v9.9.1"  # cached: (path, size, mtime) did not change
    os.utime(binary.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert binary.version == "v9.9.2"


def test_a_binary_that_prints_no_version_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "kustomize"
    path.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    path.chmod(0o755)
    with pytest.raises(errors.ToolMissing, match=r"did not print a version \(exit 3: broken\)"):
        _ = Kustomize(path=path).version
