"""Registry failures, named by what the caller should say and do (``reason`` is the condition reason)."""

from __future__ import annotations


class RegistryError(Exception):
    """A read of the registry failed; ``reason`` is the Subscription condition reason it maps to."""

    reason = "RegistryUnavailable"


class Unauthorized(RegistryError):
    """The registry refused our credentials (or wants some and we have none)."""

    reason = "Unauthorized"


class RegistryUnavailable(RegistryError):
    """No answer, a TLS failure, or a 5xx: retry later."""

    reason = "RegistryUnavailable"


class RepositoryNotFound(RegistryError):
    """The registry does not know the repository (NAME_UNKNOWN)."""

    reason = "RepositoryNotFound"


class TagNotFound(RegistryError):
    """A listed tag vanished before its manifest was read (MANIFEST_UNKNOWN)."""

    reason = "NoMatchingTag"


class PlatformNotFound(RegistryError):
    """An image index without the Subscription's platform."""

    reason = "NoMatchingTag"
