"""Push several app branches in one all-or-nothing step, each guarded by the head we built on.

Why the git CLI here, when everything else uses pygit2: libgit2 (1.9) cannot push atomically. Its
smart transport never negotiates receive-pack's ``atomic`` capability, so a server applies each ref on
its own, and its local transport (paths and file:// URLs) writes the remote's refs one by one with
``git_reference_create`` without running hooks or checking the old value. ``git push --atomic`` gets
an all-or-nothing ref transaction from receive-pack, and ``--force-with-lease=<ref>:<old>`` makes
every ref update a compare-and-swap against the head our commit was built on (an empty ``<old>``
means "must not exist yet"), checked again by receive-pack under its ref lock.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from k8sta_daemon.adapters.git import credentials, errors, transport
from k8sta_daemon.adapters.git.mirror import Mirror

# Reasons git gives to the innocent refs of an atomic push that failed because of another ref.
_ATOMIC_COLLATERAL = ("atomic push failed", "atomic push failure", "atomic transaction failed")


@dataclass(frozen=True)
class RefUpdate:
    """Move ``branch`` to ``new`` only if it is still at ``expected`` (None: only if it is absent)."""

    branch: str
    new: str
    expected: str | None

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"


class Rejected(errors.PushRejected):
    """The server or the lease refused the push; ``reasons`` maps each refused branch to git's words."""

    def __init__(self, message: str, reasons: dict[str, str]) -> None:
        super().__init__(message)
        self.reasons = reasons


def push(mirror: Mirror, updates: Sequence[RefUpdate], *, timeout: float = 120.0) -> None:
    """Push all ``updates`` from the mirror in one go; raise Rejected or TransportFailed."""
    if not updates:
        return
    leases = [f"--force-with-lease={u.ref}:{u.expected or ''}" for u in updates]
    refspecs = [f"{u.new}:{u.ref}" for u in updates]
    atomic = ["--atomic"] if len(updates) > 1 else []
    with credentials.cli_auth(mirror.credentials, mirror.url) as auth:
        argv = ["git", *auth.config, "--git-dir", str(mirror.path), "push", "--porcelain", *atomic,
                *leases, mirror.url, *refspecs]
        try:
            done = subprocess.run(argv, capture_output=True, env=auth.env, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise errors.TransportFailed(f"push to {mirror.shown_url} did not finish within "
                                         f"{timeout:.0f} s") from None
    stdout = mirror.redact(done.stdout.decode(errors="replace"))
    stderr = mirror.redact(done.stderr.decode(errors="replace"))
    refused = _refused(stdout)
    if done.returncode == 0 and not refused:
        return
    if not refused:
        raise transport.failure("push to", mirror.url, mirror.shown_url, stderr)
    by_branch = {ref.removeprefix("refs/heads/"): reason for ref, reason in refused.items()}
    causes = {b: r for b, r in by_branch.items() if not r.endswith(_ATOMIC_COLLATERAL)} or by_branch
    remote_says = _remote_lines(stderr)
    detail = "; ".join(f"{b}: {r}" for b, r in sorted(causes.items()))
    raise Rejected(f"push to {mirror.shown_url} refused ({detail})" + (f": {remote_says}" if remote_says else ""),
                   by_branch)


def _refused(porcelain: str) -> dict[str, str]:
    """Refused refs from ``git push --porcelain``: ``!<TAB>src:dst<TAB>[rejected] (reason)``."""
    refused: dict[str, str] = {}
    for line in porcelain.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[0] == "!":
            dst = fields[1].rsplit(":", 1)[-1]
            summary = fields[2]
            reason = summary[summary.find("(") + 1:summary.rfind(")")] if "(" in summary else summary
            refused[dst] = reason.strip() or summary.strip()
    return refused


def _remote_lines(stderr: str) -> str:
    lines = [" ".join(line.removeprefix("remote:").split()) for line in stderr.splitlines()
             if line.startswith("remote:")]
    return _clip(" | ".join(line for line in lines if line))


def _clip(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
