"""The explicit context every command receives: where to talk to, how to print, who is acting.

Callers: ``main`` builds one from the parsed flags and the environment (the only place that reads
them); commands never read ``os.environ`` or ``sys.stdout`` themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from k8sta_daemon.ops.store import Store


@dataclass(frozen=True)
class Context:
    namespace: str
    output: str  # "human", "json" or "yaml"
    stdout: TextIO
    colour: bool
    actor: str
    store_factory: Callable[[], Store] = field(repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)  # only ``--watch`` waits
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)  # ``diff``: cache dir, kustomize

    def store(self) -> Store:
        """The Kubernetes client is built on first use, so usage errors never need a kubeconfig."""
        return self.store_factory()


def wants_colour(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":  # set and non-empty, as the convention says
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
