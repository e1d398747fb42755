"""The plugin's signed path: render a branch whose ``.k8sta/inputs`` the input key signed.

Run by the CLI before anything heavy is imported: no YAML, no ``typing``/``pathlib``. The checks are
the ones the daemon already ran on exactly these bytes (inputs.py proves the checkout is that tree),
plus those that depend on where the render happens (the Application, the source path, the
operator's limits) and on the render itself (non-empty, sha256 equal to the signed one). The
verdicts and messages below are shared with the full path (generate.py, verify.py, render.py).
"""

from __future__ import annotations

import os

from k8sta_cmp import early, errors, inputs, pins
from k8sta_cmp.environment import BuildEnvironment


class Result:
    __slots__ = ("manifests", "sha256", "warnings")

    def __init__(self, manifests: bytes, sha256: str, warnings: tuple[str, ...]) -> None:
        self.manifests, self.sha256, self.warnings = manifests, sha256, warnings


def generate(root: str, environ: dict[str, str] | os._Environ[str]) -> Result | str:
    """The render, or why the branch is not on the signed path (the caller runs the full checks then).

    kustomize starts only once the checkout is proven to be the tree the daemon checked and signed.
    Raises K8staError for a refusal (edited after signing, wrong Application, bad render, and under
    ``K8STA_REQUIRE_SIGNED_INPUTS`` anything the input key did not sign)."""
    signed = verified(root, environ)
    if isinstance(signed, str):
        return signed
    env = BuildEnvironment.from_environ(dict(environ))
    env.check_source_path()
    namespace, _, name = signed.application.partition("/")
    env.check_application(namespace, name, signed.application, signed.ticket, signed=True)
    started = early.start(root, environ)
    if started is None:  # no wrapper or no kustomize: the full path names the problem
        return "kustomize could not be started on the signed tree"
    try:
        finished = started.wait(env.render_timeout)
    finally:
        started.kill()  # a no-op after a normal finish
    if finished is None:
        raise errors.RenderError(timeout_message(env.render_timeout))
    code, out, err = finished
    if code != 0:
        from pathlib import Path  # only on failure

        from k8sta_cmp.kustomize import build_error

        raise build_error(code, err, Path(root).resolve())
    check_not_empty(out, signed.kustomization)
    sha = inputs.sha256_hex(out)
    running = environ.get("K8STA_KUSTOMIZE_VERSION") or pins.kustomize_version()
    _, warnings = compare(signed.ticket, signed.rendered, (signed.kustomize, signed.scheme), sha,
                          (running, inputs.RENDER_SCHEME), env.strict_versions)
    return Result(out, sha, warnings)


def verified(root: str, environ: dict[str, str] | os._Environ[str]) -> inputs.Signed | str:
    """What the input key signed in ``root``, or why nothing was (then the full checks run). Under
    ``K8STA_REQUIRE_SIGNED_INPUTS`` that "why" is a refusal instead: fail closed, never fall back."""
    required = inputs.require_signed(environ)
    keys = inputs.read_keys(environ)
    if not keys:
        if required:
            where = environ.get(inputs.KEY_ENV) or "unset"
            raise errors.RefusedInput(f"refused: {inputs.REQUIRE_ENV} is on but there is no input key "
                                      f"({inputs.KEY_ENV}: {where}); only branches K8sTA signed render")
        return f"{inputs.KEY_ENV} is not set"
    max_bytes, max_files = inputs.limits(environ)
    signed = inputs.verify(root, keys, max_files, max_bytes)
    if isinstance(signed, str) and required:
        raise errors.RefusedInput(f"refused: {signed}; {inputs.REQUIRE_ENV} is on, so only branches K8sTA "
                                  "signed with the input key render")
    return signed


# -- shared with the full path -----------------------------------------------------------------------


def timeout_message(timeout: float) -> str:
    return f"kustomize build did not finish within {timeout:.0f} s"


def check_not_empty(manifests: bytes, kustomization: str) -> None:
    """Refuse an empty render (with prune it would delete everything)."""
    for line in manifests.splitlines():
        stripped = line.strip()
        if stripped and stripped not in (b"---", b"{}", b"[]") and not stripped.startswith(b"#"):
            return
    raise errors.RenderError(f"kustomization {kustomization} rendered no objects; refusing empty "
                             "output (with prune it would delete everything)")


def compare(ticket: str, recorded_sha: str, recorded: tuple[str, int], fresh_sha: str, running: tuple[str, int],
            strict: bool) -> tuple[bool, tuple[str, ...]]:
    """(verified, warnings): the exact digest check when the renderer versions match; otherwise a
    warning (or a refusal when strict)."""
    if recorded == running:
        if fresh_sha != recorded_sha:
            raise errors.VerificationError(
                f"ticket {ticket}: rendered sha256 {fresh_sha} does not match recorded "
                f"{recorded_sha}; the inputs were edited outside K8sTA or tampered with"
            )
        return True, ()
    difference = (f"branch recorded kustomize {recorded[0]} scheme {recorded[1]}, this plugin "
                  f"runs kustomize {running[0]} scheme {running[1]}")
    if strict:
        raise errors.VerificationError(f"ticket {ticket}: {difference} (K8STA_STRICT_VERSIONS is on)")
    return False, (f"ticket {ticket}: {difference}; rendered without verifying",)
