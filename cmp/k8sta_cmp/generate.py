"""The plugin's one job: render the checked-out app branch and verify it against its metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from k8sta_cmp import __version__, contract, errors, render, safety, verify
from k8sta_cmp.environment import BuildEnvironment
from k8sta_cmp.kustomize import Kustomize


@dataclass(frozen=True)
class Result:
    manifests: bytes
    metadata: contract.BranchMetadata
    outcome: verify.Outcome
    sha256: str


def running_versions(kustomize: Kustomize) -> contract.RendererVersions:
    return contract.RendererVersions(k8sta=__version__, kustomize=kustomize.version,
                                     scheme=contract.RENDER_SCHEME)


def generate(root: Path, env: BuildEnvironment, kustomize: Kustomize, limits: safety.Limits) -> Result:
    if env.source_path not in (None, ".", "", "./"):
        raise errors.ContractError(f"Application source path must be '.' for a K8sTA app branch, "
                                   f"got {env.source_path!r}")
    meta = contract.read_metadata(root)
    if not env.application_matches(meta.application.namespace, meta.application.name):
        raise errors.ContractError(
            f"this branch was written for Application {meta.application} (ticket {meta.ticket}), "
            f"not for {env.app_name}; check the Application's targetRevision"
        )
    rendered = render.render(root, meta.kustomization, meta.images, kustomize, limits, env.render_timeout)
    trail_path = root / contract.RENDERED_PATH
    trail = trail_path.read_bytes() if trail_path.is_file() and not trail_path.is_symlink() else None
    outcome = verify.verify(meta, rendered.sha256, trail, running_versions(kustomize), env.strict_versions)
    return Result(manifests=rendered.manifests, metadata=meta, outcome=outcome, sha256=rendered.sha256)
