"""Remove secrets from anything this package logs or raises (pure functions, no I/O).

Credentials can reach text two ways: as userinfo inside a URL (``https://user:token@host/…``), or
echoed back by libgit2 or git in an error message. Both are scrubbed here, in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# scheme://userinfo@ anywhere in a text; userinfo stops at the first '/', '@' or whitespace.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def url(value: str) -> str:
    """The URL with any userinfo replaced by the mask; what a human may see of a repository."""
    parts = urlsplit(value)
    if not parts.scheme or "@" not in parts.netloc:
        return value
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"{MASK}@{host}", parts.path, parts.query, parts.fragment))


def without_userinfo(value: str) -> str:
    """The URL with its userinfo dropped (the identity of a repository, used for cache keys)."""
    parts = urlsplit(value)
    if not parts.scheme or "@" not in parts.netloc:
        return value
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def text(value: str, secrets: Iterable[str] = ()) -> str:
    """``value`` without URL userinfo and without any of ``secrets`` (longest first)."""
    value = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", value)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        value = value.replace(secret, MASK)
    return value
