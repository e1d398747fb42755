"""How the daemon reaches app repositories: one value shared by the reactor's units and the intake.

The push and drift units and the config Subscription poller (``watch/config``) all open mirrors under
``mirrors`` with ``credentials(url, project)`` (Argo CD-format repository Secrets in production, scoped
to the Application's Argo CD project) and render with
``kustomize`` inside ``limits``; ``default_source_branch`` is where an Application's app branches are
cut from when its spec does not say (the intake does not need it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from k8sta_cmp import safety
from k8sta_cmp.kustomize import Kustomize

from .credentials import Credentials


class CredentialsLookup(Protocol):
    """``(url, project) -> Credentials``: a project's own credentials or global ones (no project: global only)."""

    def __call__(self, url: str, project: str | None = None, /) -> Credentials: ...


@dataclass(frozen=True)
class GitSettings:
    """How a Station is pushed: where the mirrors live, whose credentials, which kustomize and limits."""

    mirrors: Path
    credentials: CredentialsLookup
    kustomize: Kustomize
    limits: safety.Limits
    default_source_branch: str
    input_key: bytes | None = field(default=None, repr=False)  # sign app branches' inputs (contract v3)
    # The current input key (a mounted Secret re-read when rotated); None: ``input_key``, fixed.
    input_key_source: Callable[[], bytes | None] | None = field(default=None, repr=False, compare=False)

    def signing_key(self) -> bytes | None:
        """The key a push signs with now."""
        return self.input_key_source() if self.input_key_source is not None else self.input_key
