"""Deterministic rendering of an app branch: pinned images over the branch's kustomization.

The renderer writes a small wrapper kustomization at a fixed place inside the checkout
(``.k8sta/build/``), whose only content is the branch's kustomization as its resource and the
ticket's image pins. A fixed place keeps any path kustomize records identical across clones.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from k8sta_cmp import contract, errors, safety
from k8sta_cmp.kustomize import Kustomize


@dataclass(frozen=True)
class Rendered:
    manifests: bytes
    sha256: str


def wrapper_kustomization(kustomization: str, images: Sequence[contract.ImagePin]) -> str:
    """The wrapper's text; a pure function of the pins, so byte-identical everywhere."""
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        f"- ../../{kustomization}" if kustomization != "." else "- ../..",
    ]
    if images:
        lines.append("images:")
        for pin in images:
            lines.append(f"- name: {pin.name}")
            lines.append(f"  newTag: {_quote(pin.tag)}")
            if pin.digest:
                lines.append(f"  digest: {pin.digest}")
    return "\n".join(lines) + "\n"


def render(root: Path, kustomization: str, images: Sequence[contract.ImagePin], kustomize: Kustomize,
           limits: safety.Limits, timeout: float = 120.0) -> Rendered:
    """Check the inputs, render them with pinned images, refuse an empty result."""
    safety.check_tree(root, limits)
    safety.check_kustomizations(root, kustomization)
    build_dir = root / contract.RESERVED_BUILD_DIR
    if build_dir.exists() or build_dir.is_symlink():
        raise errors.ContractError(f"{contract.RESERVED_BUILD_DIR} is reserved for the renderer; "
                                   "the branch must not contain it")
    build_dir.mkdir(parents=True)
    try:
        (build_dir / "kustomization.yaml").write_text(wrapper_kustomization(kustomization, images))
        manifests = kustomize.build(build_dir, timeout, display_root=root.resolve())
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    if not _has_objects(manifests):
        raise errors.RenderError(f"kustomization {kustomization} rendered no objects; refusing empty "
                                 "output (with prune it would delete everything)")
    return Rendered(manifests=manifests, sha256=contract.sha256_hex(manifests))


def _has_objects(manifests: bytes) -> bool:
    for line in manifests.splitlines():
        stripped = line.strip()
        if stripped and stripped not in (b"---", b"{}", b"[]") and not stripped.startswith(b"#"):
            return True
    return False


def _quote(value: str) -> str:
    # Tags such as 1.20 or 010 must stay strings; JSON-style quoting is valid YAML.
    return '"' + value + '"'
