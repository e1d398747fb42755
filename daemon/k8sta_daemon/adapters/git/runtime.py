"""Process-wide libgit2 settings, applied once by the daemon's entry point (never at import time).

libgit2 keeps these globally: network timeouts (without them a silent server blocks a worker for
ever) and the config search path (so a ``~/.gitconfig`` with ``url.insteadOf`` or proxies on the
daemon's machine cannot change where a mirror fetches from).
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2
from pygit2.enums import ConfigLevel


@dataclass(frozen=True)
class Libgit2Settings:
    connect_timeout: float = 15.0   # seconds to open a connection
    io_timeout: float = 60.0        # seconds a read or write may stall
    ignore_user_config: bool = True


def apply(settings: Libgit2Settings) -> None:
    """Apply ``settings`` to this process's libgit2."""
    pygit2.settings.server_connect_timeout = int(settings.connect_timeout * 1000)
    pygit2.settings.server_timeout = int(settings.io_timeout * 1000)
    if settings.ignore_user_config:
        for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM, ConfigLevel.PROGRAMDATA):
            pygit2.settings.search_path[level] = ""
