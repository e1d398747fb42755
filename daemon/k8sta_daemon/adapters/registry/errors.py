"""Registry failures, named by what the caller should say and do (``reason`` is the condition reason).

Each subclass names its reason in its class line (``class X(RegistryError, reason="...")``), so a new
failure cannot forget one.
"""

from __future__ import annotations


class RegistryError(Exception):
    """A read of the registry failed; ``reason`` is the Subscription condition reason it maps to."""

    reason = "RegistryUnavailable"

    def __init_subclass__(cls, *, reason: str, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.reason = reason


class Unauthorized(RegistryError, reason="Unauthorized"):
    """The registry refused our credentials (or wants some and we have none)."""


class RegistryUnavailable(RegistryError, reason="RegistryUnavailable"):
    """No answer, a TLS failure, or a 5xx: retry later."""


class RepositoryNotFound(RegistryError, reason="RepositoryNotFound"):
    """The registry does not know the repository (NAME_UNKNOWN)."""


class TagNotFound(RegistryError, reason="NoMatchingTag"):
    """A listed tag vanished before its manifest was read (MANIFEST_UNKNOWN)."""


class PlatformNotFound(RegistryError, reason="NoMatchingTag"):
    """An image index without the Subscription's platform."""
