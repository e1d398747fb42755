"""K8sTA's Config Management Plugin and the app-branch contract it shares with the daemon.

The plugin (``k8sta-cmp``) runs inside Argo CD's ``argocd-cmp-server`` sidecar with an app branch
checked out as its working directory, renders it with the pinned kustomize and verifies the result
against the digest the daemon recorded. It imports nothing from the daemon.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> str:
    """``PINNED_KUSTOMIZE_VERSION``: the one kustomize release K8sTA renders with, as
    toolchain/versions.env pins it (``pins``), read on first use rather than at import."""
    if name == "PINNED_KUSTOMIZE_VERSION":
        from k8sta_cmp import pins

        return pins.kustomize_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
