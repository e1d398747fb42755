"""Argo CD's build environment for a plugin, parsed once at the CLI entry point.

argocd-cmp-server starts ``generate`` with the Application's build environment
(https://argo-cd.readthedocs.io/en/stable/user-guide/build-environment/) plus plugin parameters as
``ARGOCD_ENV_<NAME>``. Which ones K8sTA uses, and for what:

- ``ARGOCD_APP_NAME``: the Application must be exactly the one the branch was written (or signed) for
  (``application`` in the metadata); a mismatch is refused, so pointing prod at the dev branch fails
  loudly instead of deploying dev's ticket. Argo CD gives ``<name>`` for an Application in its
  control-plane namespace and ``<namespace>_<name>`` for one elsewhere (``Application.InstanceName``,
  v3.6.2 reposerver ``newEnv``), so the namespace is the control plane's (``K8STA_ARGOCD_NAMESPACE``,
  the sidecar's own pod namespace in the install; default ``argocd``) unless the name carries one.
  ``ARGOCD_APP_NAMESPACE`` is the Application's *destination* namespace, not its own: not used.
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
``K8STA_CMP_RENDERS`` renders, inputs.py), ``K8STA_MAX_INPUT_FILES``, ``K8STA_RENDER_TIMEOUT``,
``K8STA_ARGOCD_NAMESPACE``, ``K8STA_INPUT_KEY_FILE``, ``K8STA_REQUIRE_SIGNED_INPUTS`` (inputs.py).
"""

from __future__ import annotations

from k8sta_cmp import errors

PARAM_PREFIX = "ARGOCD_ENV_"
ARGOCD_NAMESPACE_ENV = "K8STA_ARGOCD_NAMESPACE"
DEFAULT_ARGOCD_NAMESPACE = "argocd"
KNOWN_PARAMS = {"K8STA_STRICT_VERSIONS"}
_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


class BuildEnvironment:
    """Immutable by convention; a plain class (not a NamedTuple) so the plugin's signed path, which
    reads it on every render, does not import ``typing``."""

    __slots__ = ("app_name", "app_namespace", "argocd_namespace", "kube_version", "render_timeout", "repo_url",
                 "revision", "source_path", "strict_versions")

    def __init__(self, *, app_name: str | None, app_namespace: str | None, revision: str | None,
                 source_path: str | None, repo_url: str | None, kube_version: str | None,
                 strict_versions: bool, render_timeout: float, argocd_namespace: str = DEFAULT_ARGOCD_NAMESPACE,
                 ) -> None:
        self.argocd_namespace = argocd_namespace
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
            argocd_namespace=environ.get(ARGOCD_NAMESPACE_ENV) or DEFAULT_ARGOCD_NAMESPACE,
        )

    def check_source_path(self) -> None:
        if self.source_path not in (None, ".", "", "./"):
            raise errors.ContractError(f"Application source path must be '.' for a K8sTA app branch, "
                                       f"got {self.source_path!r}")

    def check_application(self, namespace: str, name: str, application: object, ticket: object,
                          signed: bool = False) -> None:
        """Refuse a branch written for another Application: the namespace counts, not only the name."""
        rendering = self.rendering_application()
        if rendering is not None and rendering != (namespace, name):
            how = "signed" if signed else "written"
            raise errors.ContractError(
                f"refused: this branch was {how} for Application {application} (ticket {ticket}), "
                f"rendered for {rendering[0]}/{rendering[1]}; check the Application's targetRevision"
            )

    def rendering_application(self) -> tuple[str, str] | None:
        """(namespace, name) of the Application Argo CD renders for; None outside Argo CD (no
        ``ARGOCD_APP_NAME``). ``ns_name`` outside the control-plane namespace: neither a namespace nor a
        name may hold ``_``, so the split is unambiguous."""
        if self.app_name is None:
            return None
        namespace, sep, name = self.app_name.partition("_")
        return (namespace, name) if sep else (self.argocd_namespace, self.app_name)
