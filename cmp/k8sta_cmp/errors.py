"""Expected failures, each carrying the one line a user sees (in the Argo CD UI for the plugin).

The CLI turns any of these into ``k8sta: <message>`` on stderr and a non-zero exit; anything else
is a bug and keeps its traceback.
"""


class K8staError(Exception):
    """An expected, explainable failure."""


class ContractError(K8staError):
    """An app branch or its metadata does not follow the app-branch contract."""


class RefusedInput(K8staError):
    """The inputs ask for something the plugin never does (network, user code, escaping paths)."""


class RenderError(K8staError):
    """kustomize could not render the inputs, or rendered nothing."""


class VerificationError(K8staError):
    """The render does not match the digest recorded for the ticket."""


class ToolMissing(K8staError):
    """The pinned kustomize binary is not where it is expected."""
