"""K8sTA's Config Management Plugin and the app-branch contract it shares with the daemon.

The plugin (``k8sta-cmp``) runs inside Argo CD's ``argocd-cmp-server`` sidecar with an app branch
checked out as its working directory, renders it with the pinned kustomize and verifies the result
against the digest the daemon recorded. It imports nothing from the daemon.
"""

__version__ = "0.1.0"

# The one kustomize release K8sTA renders with. toolchain/versions.env holds the same pin for the
# build; tests/test_toolchain.py keeps the two equal.
PINNED_KUSTOMIZE_VERSION = "v5.7.1"
