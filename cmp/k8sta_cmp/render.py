"""Deterministic rendering of an app branch: pinned images over the branch's kustomization.

kustomize builds the wrapper kustomization at ``.k8sta/kustomization.yaml`` (contract.WRAPPER_PATH):
the branch's kustomization as its only resource plus the ticket's image pins. Its fixed place keeps
any path kustomize records identical across clones. The daemon writes it (``write_wrapper``) and
commits it; the plugin refuses a branch whose wrapper differs from what the metadata implies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from k8sta_cmp import contract, errors, safety, signed
from k8sta_cmp.kustomize import Kustomize


class Rendered(NamedTuple):
    manifests: bytes
    sha256: str


def write_wrapper(root: Path, kustomization: str, images: Sequence[contract.ImagePin]) -> None:
    path = root / contract.WRAPPER_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(contract.wrapper_kustomization(kustomization, tuple(images)))


def check_wrapper(root: Path, meta: contract.BranchMetadata) -> None:
    """The committed wrapper must be exactly what the metadata implies (pins edited by hand are refused)."""
    path = root / contract.WRAPPER_PATH
    if path.is_symlink() or not path.is_file():
        raise errors.ContractError(f"{contract.WRAPPER_PATH} is missing: the branch was not written by K8sTA "
                                   f"(ticket {meta.ticket})")
    expected = contract.wrapper_kustomization(meta.kustomization, meta.images).encode()
    if path.read_bytes() != expected:
        raise errors.VerificationError(f"ticket {meta.ticket}: {contract.WRAPPER_PATH} does not match the pins in "
                                       f"{contract.METADATA_PATH}; the branch was edited outside K8sTA")


def check_inputs(root: Path, kustomization: str, limits: safety.Limits) -> None:
    safety.check_tree(root, limits)
    safety.check_kustomizations(root, kustomization)


def finish(manifests: bytes, kustomization: str) -> Rendered:
    """Refuse an empty render (with prune it would delete everything), digest the rest."""
    signed.check_not_empty(manifests, kustomization)
    return Rendered(manifests=manifests, sha256=contract.sha256_hex(manifests))


def render(root: Path, kustomization: str, images: Sequence[contract.ImagePin], kustomize: Kustomize,
           limits: safety.Limits, timeout: float = 120.0) -> Rendered:
    """Check the inputs, write the wrapper, render with pinned images (the daemon's path, sequential)."""
    check_inputs(root, kustomization, limits)
    write_wrapper(root, kustomization, images)
    manifests = kustomize.build(root / contract.WRAPPER_PATH.rsplit("/", 1)[0], timeout, display_root=root.resolve())
    return finish(manifests, kustomization)

