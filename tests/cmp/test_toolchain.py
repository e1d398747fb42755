"""The kustomize pin is one version everywhere: versions.env, the package, the binary, the images."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sta_cmp import PINNED_KUSTOMIZE_VERSION, early, pins
from k8sta_cmp.kustomize import Kustomize

ROOT = Path(__file__).resolve().parents[2]


def versions_env() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (ROOT / "toolchain/versions.env").read_text().splitlines()
             if line and not line.startswith("#"))
    return dict(pairs)


def test_package_pin_matches_versions_env() -> None:
    assert versions_env()["KUSTOMIZE_VERSION"] == PINNED_KUSTOMIZE_VERSION == pins.kustomize_version()
    # The plugin's early start looks for exactly that build in the cache.
    assert early.kustomize_path({"K8STA_CACHE": "/c"}) == f"/c/bin/kustomize-{PINNED_KUSTOMIZE_VERSION}/kustomize"


def test_the_binary_is_the_pinned_version(kustomize: Kustomize) -> None:
    assert kustomize.reported_version() == PINNED_KUSTOMIZE_VERSION
    assert kustomize.version == PINNED_KUSTOMIZE_VERSION


@pytest.mark.parametrize("name", ["Dockerfile.cmp", "Dockerfile.daemon"])
def test_dockerfile_builds_the_pinned_version(name: str) -> None:
    """The image builds kustomize with toolchain/build.sh (which reads versions.env) and writes no pin itself."""
    text = (ROOT / name).read_text()
    assert "toolchain/build.sh kustomize" in text
    assert "COPY toolchain/versions.env toolchain/" in text  # the pins the wheel carries
    assert PINNED_KUSTOMIZE_VERSION not in text
    assert "KUSTOMIZE_VERSION" not in text


def test_the_package_carries_versions_env() -> None:
    """``k8sta_cmp/versions.env`` is toolchain/versions.env (a symlink, copied into the wheel)."""
    assert (ROOT / "cmp/k8sta_cmp/versions.env").resolve() == (ROOT / "toolchain/versions.env").resolve()
    assert pins.read() == versions_env()
