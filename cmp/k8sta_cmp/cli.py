"""``k8sta-cmp``: the command argocd-cmp-server runs. Stdout carries only manifests.

Every expected failure is one ``k8sta: ...`` line on stderr and exit code 1 (Argo CD shows that line
in the Application's conditions); usage errors exit 2. Anything else is a bug and keeps its traceback.

Imports are deliberately late: a render of a signed branch (signed.py) never imports YAML. kustomize
starts only after the checks passed (the signed tree proven, or the full checks of safety.py): never
on inputs nobody checked, since a remote resource reaches the network even in kustomize's sandbox.
"""

from __future__ import annotations

import os
import sys

EXIT_OK = 0
EXIT_FAILED = 1


def _parser():  # type: ignore[no-untyped-def]  # argparse is imported late on purpose
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="k8sta-cmp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="render the app branch in the working directory to stdout")
    ver = sub.add_parser("verify", help="render and verify, print a one-line summary instead of manifests")
    for p in (gen, ver):
        p.add_argument("--path", type=Path, default=Path("."), help="app branch checkout (default: .)")
    sub.add_parser("env", help="print the build environment as the plugin reads it")
    return parser


def main(argv: list[str] | tuple[str, ...] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The plugin's own invocation (plugin.yaml: `k8sta-cmp generate`) tries the signed path first.
    if argv == ["generate"]:
        done = _signed()
        if done is not None:
            return done
    return _run(argv)


def _signed() -> int | None:
    """The signed path (contract v3): an exit code, or None to run the full checks (no key, or the
    branch carries no valid signature; a present but invalid one is named in a warning)."""
    from k8sta_cmp import errors, inputs, signed

    try:
        result = signed.generate(".", os.environ)
    except errors.K8staError as exc:
        revision = os.environ.get("ARGOCD_APP_REVISION", "")
        print(f"k8sta: {exc}" + (f" at revision {revision[:12]}" if revision else ""), file=sys.stderr)
        return EXIT_FAILED
    if isinstance(result, str):
        if result != inputs.ABSENT and not result.startswith(inputs.KEY_ENV):
            print(f"k8sta: warning: {result}; running the full checks", file=sys.stderr)
        return None
    for warning in result.warnings:
        print(f"k8sta: warning: {warning}", file=sys.stderr)
    sys.stdout.buffer.write(result.manifests)
    sys.stdout.buffer.flush()
    return EXIT_OK


def _run(argv: list[str]) -> int:
    from k8sta_cmp import errors, inputs, safety, signed
    from k8sta_cmp.environment import BuildEnvironment
    from k8sta_cmp.generate import generate

    args = _parser().parse_args(argv)
    environ = dict(os.environ)
    env: BuildEnvironment | None = None
    try:
        env = BuildEnvironment.from_environ(environ)
        if args.command == "env":
            for key, value in sorted(env._asdict().items()):
                print(f"{key}={'' if value is None else value}")
            return EXIT_OK
        if inputs.require_signed(environ):  # the signed path did not run (`verify`, `generate --path`)
            signed.verified(str(args.path), environ)  # refuses what the key did not sign
        result = generate(args.path, env, environ, safety.Limits.from_environ(environ))
    except errors.K8staError as exc:
        revision = f" at revision {env.revision[:12]}" if env is not None and env.revision else ""
        print(f"k8sta: {exc}{revision}", file=sys.stderr)
        return EXIT_FAILED
    for warning in result.outcome.warnings:
        print(f"k8sta: warning: {warning}", file=sys.stderr)
    if args.command == "generate":
        sys.stdout.buffer.write(result.manifests)
        sys.stdout.buffer.flush()
    else:
        state = "verified" if result.outcome.verified else "rendered (not verified)"
        print(f"{state}: ticket {result.metadata.ticket} station {result.metadata.station} "
              f"sha256 {result.sha256}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
