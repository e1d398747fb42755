"""The operator surface's error types, named by what the caller should do next.

Callers: ``store``, ``operations`` and the CLI commands raise these; the CLI's ``main`` catches
``K8staError`` in one place (one line on stderr, exit 1) and the web part maps each subclass to an
HTTP status.
"""

from __future__ import annotations


class K8staError(Exception):
    """A user-facing failure; its message is the whole story (no traceback is shown)."""


class NotFound(K8staError):
    """A named Track, Station or Ticket does not exist (HTTP 404)."""


class Invalid(K8staError):
    """The request itself is malformed: a bad image reference, a missing field (HTTP 400)."""


class Refused(K8staError):
    """The request is well-formed but the object's state forbids it (HTTP 409)."""


class Denied(K8staError):
    """The API server refused the caller's credentials or RBAC (HTTP 401/403): a human must grant or log in."""


class Unavailable(K8staError):
    """The Kubernetes API did not answer or failed; the same request may work later (HTTP 503)."""


class Conflict(K8staError):
    """The object changed between our read and our write (HTTP 409): read it again and decide again."""
