"""The plugin's one job: render the checked-out app branch and verify it against its metadata.

Every check below runs before kustomize starts (``early.start``): a refusal leaves nothing to stop,
and a remote resource never reaches kustomize's loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from k8sta_cmp import __version__, contract, early, errors, render, safety, verify
from k8sta_cmp.environment import BuildEnvironment
from k8sta_cmp.kustomize import Kustomize, build_error, timeout_error


class Result(NamedTuple):
    manifests: bytes
    metadata: contract.BranchMetadata
    outcome: verify.Outcome
    sha256: str


def running_versions(kustomize: Kustomize) -> contract.RendererVersions:
    return contract.RendererVersions(k8sta=__version__, kustomize=kustomize.version,
                                     scheme=contract.RENDER_SCHEME)


def generate(root: Path, env: BuildEnvironment, environ: dict[str, str], limits: safety.Limits) -> Result:
    started: early.Started | None = None
    try:
        env.check_source_path()
        meta = contract.read_metadata(root)
        env.check_application(meta.application.namespace, meta.application.name, meta.application, meta.ticket)
        render.check_wrapper(root, meta)
        render.check_inputs(root, meta.kustomization, limits)
        kustomize = Kustomize.locate(environ)
        started = early.start(str(root), environ)
        if started is None:  # cannot happen after the checks above; kept as a clear error
            raise errors.RenderError("kustomize could not be started")
        finished = started.wait(env.render_timeout)
        if finished is None:
            raise timeout_error(env.render_timeout)
        code, out, err = finished
        if code != 0:
            raise build_error(code, err, root.resolve())
        rendered = render.finish(out, meta.kustomization)
    finally:
        if started is not None:
            started.kill()  # a no-op after a normal finish; stops it after any refusal
    trail_path = root / contract.RENDERED_PATH
    trail = trail_path.read_bytes() if trail_path.is_file() and not trail_path.is_symlink() else None
    outcome = verify.verify(meta, rendered.sha256, trail, running_versions(kustomize), env.strict_versions)
    return Result(manifests=rendered.manifests, metadata=meta, outcome=outcome, sha256=rendered.sha256)
