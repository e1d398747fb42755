"""Argo CD's build environment for a plugin, parsed once at the CLI entry point.

argocd-cmp-server starts ``generate`` with the Application's build environment
(https://argo-cd.readthedocs.io/en/stable/user-guide/build-environment/) plus plugin parameters as
``ARGOCD_ENV_<NAME>``. Which ones K8sTA uses, and for what:

- ``ARGOCD_APP_NAME`` / ``ARGOCD_APP_NAMESPACE``: the Application must be the one the branch was
  written for (``application`` in the metadata); a mismatch is refused, so pointing prod at the dev
  branch fails loudly instead of deploying dev's ticket.
- ``ARGOCD_APP_REVISION``: named in messages (which commit failed).
- ``ARGOCD_APP_SOURCE_PATH``: must be ``.`` (an app branch is rendered from its root).
- ``ARGOCD_APP_SOURCE_REPO_URL``, ``KUBE_VERSION``: read and reported by ``k8sta-cmp env``; they do
  not change the render (kustomize output does not depend on them, which keeps renders reproducible).
- ``ARGOCD_ENV_K8STA_STRICT_VERSIONS`` (``true``/``false``, default false): refuse to render when the
  branch was recorded with other renderer versions instead of rendering unverified with a warning.
Any other ``ARGOCD_ENV_K8STA_*`` is an error (a typo must not silently change nothing); other
``ARGOCD_ENV_*`` parameters are ignored.

Operator settings come from the sidecar's own environment, not from Applications:
``K8STA_KUSTOMIZE``, ``K8STA_MAX_INPUT_BYTES`` (default: what fits ``K8STA_CMP_TMP_BYTES`` for
``K8STA_CMP_RENDERS`` renders, inputs.py), ``K8STA_MAX_INPUT_FILES``, ``K8STA_RENDER_TIMEOUT``.
"""

from __future__ import annotations

from k8sta_cmp import errors

PARAM_PREFIX = "ARGOCD_ENV_"
KNOWN_PARAMS = {"K8STA_STRICT_VERSIONS"}
_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


class BuildEnvironment:
    """Immutable by convention; a plain class (not a NamedTuple) so the plugin's signed path, which
    reads it on every render, does not import ``typing``."""

    __slots__ = ("app_name", "app_namespace", "kube_version", "render_timeout", "repo_url", "revision",
                 "source_path", "strict_versions")

    def __init__(self, *, app_name: str | None, app_namespace: str | None, revision: str | None,
                 source_path: str | None, repo_url: str | None, kube_version: str | None,
                 strict_versions: bool, render_timeout: float) -> None:
        self.app_name, self.app_namespace, self.revision = app_name, app_namespace, revision
        self.source_path, self.repo_url, self.kube_version = source_path, repo_url, kube_version
        self.strict_versions, self.render_timeout = strict_versions, render_timeout

    def _asdict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BuildEnvironment) and self._asdict() == other._asdict()

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_environ(cls, environ: dict[str, str]) -> BuildEnvironment:
        params = {k[len(PARAM_PREFIX):]: v for k, v in environ.items() if k.startswith(PARAM_PREFIX)}
        unknown = sorted(p for p in params if p.startswith("K8STA_") and p not in KNOWN_PARAMS)
        if unknown:
            raise errors.K8staError(f"unknown plugin parameter {unknown[0]} (known: "
                                    f"{', '.join(sorted(KNOWN_PARAMS))})")
        strict_raw = params.get("K8STA_STRICT_VERSIONS", "false").strip().lower()
        if strict_raw not in _BOOL:
            raise errors.K8staError(f"plugin parameter K8STA_STRICT_VERSIONS must be true or false, "
                                    f"got {strict_raw!r}")
        timeout_raw = environ.get("K8STA_RENDER_TIMEOUT", "120")
        try:
            timeout = float(timeout_raw)
        except ValueError:
            timeout = -1.0
        if timeout <= 0:
            raise errors.K8staError(f"K8STA_RENDER_TIMEOUT must be a positive number of seconds, "
                                    f"got {timeout_raw!r}")
        return cls(
            app_name=environ.get("ARGOCD_APP_NAME") or None,
            app_namespace=environ.get("ARGOCD_APP_NAMESPACE") or None,
            revision=environ.get("ARGOCD_APP_REVISION") or None,
            source_path=environ.get("ARGOCD_APP_SOURCE_PATH") or None,
            repo_url=environ.get("ARGOCD_APP_SOURCE_REPO_URL") or None,
            kube_version=environ.get("KUBE_VERSION") or None,
            strict_versions=_BOOL[strict_raw],
            render_timeout=timeout,
        )

    def check_source_path(self) -> None:
        if self.source_path not in (None, ".", "", "./"):
            raise errors.ContractError(f"Application source path must be '.' for a K8sTA app branch, "
                                       f"got {self.source_path!r}")

    def check_application(self, namespace: str, name: str, application: object, ticket: object) -> None:
        if not self.application_matches(namespace, name):
            raise errors.ContractError(
                f"this branch was written for Application {application} (ticket {ticket}), "
                f"not for {self.app_name}; check the Application's targetRevision"
            )

    def application_matches(self, namespace: str, name: str) -> bool:
        """Argo CD names an Application ``name`` or, outside its control-plane namespace, ``ns_name``."""
        if self.app_name is None:
            return True
        return self.app_name in (name, f"{namespace}_{name}")
