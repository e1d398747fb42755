"""Errors of the git adapter, named by what the caller should do next.

The reactor's execution (not this package) decides backoff: ``RetryLater`` means "the same request may work
later" (network, a busy remote, a branch that kept moving), ``GiveUp`` means "retrying the same
request cannot help" (missing commit, inputs that do not render, a push the server refuses).
Every message is already redacted (no credentials, no userinfo in URLs): safe to log and to show.
"""

from __future__ import annotations


class GitError(Exception):
    """Base of every error this package raises on purpose."""


class RetryLater(GitError):
    """Transient: try the same request again after ``delay`` seconds."""

    def __init__(self, message: str, *, delay: float = 10.0) -> None:
        super().__init__(message)
        self.delay = delay


class GiveUp(GitError):
    """Permanent for this request: retrying it unchanged cannot succeed."""


class TransportFailed(RetryLater):
    """The remote could not be reached, or refused our credentials."""


class BranchMoved(RetryLater):
    """Another writer moved an app branch every time we tried; our bounded retries ran out."""

    def __init__(self, message: str, *, delay: float = 1.0) -> None:
        super().__init__(message, delay=delay)


class CredentialsRefused(GiveUp):
    """The remote refused our credentials (or wants some we do not have): final, never retried.

    Retrying with the same credentials cannot succeed and would only lock the account or fill logs;
    the ticket fails with this message, and a retry after the Secret is fixed pushes again.
    """


_REFUSALS = ("authentication failed", "credentials refused", "returned error: 401", "returned error: 403",
             "status code: 401", "status code: 403", "permission denied (publickey", "access denied",
             "could not read username", "terminal prompts disabled")


def refuses_credentials(message: str) -> bool:
    """Whether a git/libgit2 error message says the remote refused who we are (HTTP 401/403, SSH key)."""
    lowered = message.lower()
    return any(r in lowered for r in _REFUSALS)


class NotFound(GiveUp):
    """A branch, commit or overlay directory the request names does not exist."""


class NotAnAppBranch(GiveUp):
    """The target branch exists but K8sTA did not write it (no or unreadable metadata)."""


class InvalidRequest(GiveUp):
    """The request itself is malformed (e.g. a target that would write the source branch)."""


class RenderFailed(GiveUp):
    """The inputs do not render or break the app-branch contract (a k8sta_cmp error)."""


class PushRejected(GiveUp):
    """The server refused the push for a reason other than a moved branch (hook, protection)."""


KNOWN_HOSTS_DOCS = "https://argo-cd.readthedocs.io/en/stable/user-guide/private-repositories/#ssh-known-host-public-keys"
TLS_CERTS_DOCS = ("https://argo-cd.readthedocs.io/en/stable/user-guide/private-repositories/"
                  "#self-signed-untrusted-tls-certificates")


class HostKeyRejected(GiveUp):
    """An SSH server is not in Argo CD's known hosts, or presented another key than the one listed.

    Final until an operator changes ``argocd-ssh-known-hosts-cm``: retrying would only ask the same
    server again. Nothing was fetched or pushed.
    """


class CertificateRejected(GiveUp):
    """An HTTPS server's certificate did not verify against the CAs configured for its host name."""
