"""The kustomize pin is one version everywhere: versions.env, the package, the binary, the images."""

from __future__ import annotations

from pathlib import Path

from k8sta_cmp import PINNED_KUSTOMIZE_VERSION, early
from k8sta_cmp.kustomize import Kustomize

ROOT = Path(__file__).resolve().parents[2]


def versions_env() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (ROOT / "toolchain/versions.env").read_text().splitlines()
             if line and not line.startswith("#"))
    return dict(pairs)


def test_package_pin_matches_versions_env() -> None:
    assert versions_env()["KUSTOMIZE_VERSION"] == PINNED_KUSTOMIZE_VERSION == early.PINNED_KUSTOMIZE_VERSION


def test_the_binary_is_the_pinned_version(kustomize: Kustomize) -> None:
    assert kustomize.reported_version() == PINNED_KUSTOMIZE_VERSION
    assert kustomize.version == PINNED_KUSTOMIZE_VERSION


def test_dockerfile_builds_the_pinned_version() -> None:
    text = (ROOT / "Dockerfile.cmp").read_text()
    assert f"ARG KUSTOMIZE_VERSION={PINNED_KUSTOMIZE_VERSION}" in text
