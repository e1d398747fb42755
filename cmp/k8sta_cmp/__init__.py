"""K8sTA's Config Management Plugin and the app-branch contract it shares with the daemon.

The plugin (``k8sta-cmp``) runs inside Argo CD's ``argocd-cmp-server`` sidecar with an app branch
checked out as its working directory, renders it with the pinned kustomize and verifies the result
against the digest the daemon recorded. It imports nothing from the daemon.
"""

from k8sta_cmp import pins

__version__ = "0.1.0"

# The one kustomize release K8sTA renders with, as toolchain/versions.env pins it for the build.
PINNED_KUSTOMIZE_VERSION = pins.read()["KUSTOMIZE_VERSION"]
