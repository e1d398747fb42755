"""Compare a fresh render with what the daemon recorded for the ticket."""

from __future__ import annotations

from typing import NamedTuple

from k8sta_cmp import contract, errors, signed


class Outcome(NamedTuple):
    verified: bool
    warnings: tuple[str, ...]


def verify(meta: contract.BranchMetadata, rendered_sha256: str, paper_trail: bytes | None,
           running: contract.RendererVersions, strict_versions: bool) -> Outcome:
    """Exact digest check when renderer versions match; otherwise warn (or refuse when strict).

    The paper trail (``.k8sta/rendered.yaml``) must always carry the recorded digest: it is what a
    reviewer reads, so an edited copy is as much a tampering as an edited input.
    """
    ticket = str(meta.ticket)
    if paper_trail is None:
        raise errors.VerificationError(f"ticket {ticket}: {contract.RENDERED_PATH} is missing from the branch")
    trail_sha = contract.sha256_hex(paper_trail)
    if trail_sha != meta.rendered_sha256:
        raise errors.VerificationError(
            f"ticket {ticket}: {contract.RENDERED_PATH} has sha256 {trail_sha} but the recorded one is "
            f"{meta.rendered_sha256}; the branch was edited outside K8sTA"
        )
    recorded = meta.renderer
    verified, warnings = signed.compare(ticket, meta.rendered_sha256, (recorded.kustomize, recorded.scheme),
                                        rendered_sha256, (running.kustomize, running.scheme), strict_versions)
    return Outcome(verified=verified, warnings=warnings)
