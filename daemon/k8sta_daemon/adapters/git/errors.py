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
