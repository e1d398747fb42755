"""Read what app-branch commits and the config history hold, for ``k8sta diff`` (nothing is written).

Caller: ``ops.diff``, with mirrors it opened and fetched. Everything takes full commit ids and answers
with plain values; ``errors.NotFound`` names what was missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2
from pygit2.enums import SortMode

from k8sta_cmp import contract
from k8sta_cmp import errors as cmp_errors
from k8sta_daemon.adapters.git import errors, history, messages, trees
from k8sta_daemon.adapters.git.mirror import Mirror

MAX_COMMITS = 200  # config commits listed per direction; a longer gap is cut (the newest are kept)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    subject: str
    author: str
    time: float


def rendered_at(mirror: Mirror, sha: str, what: str) -> str:
    """The ``.k8sta/rendered.yaml`` of app-branch commit ``sha`` (``what``: how to name it in errors)."""
    blob = trees.entry(history.commit(mirror.repo, sha, what).tree, contract.RENDERED_PATH)
    if not isinstance(blob, pygit2.Blob):
        raise errors.NotFound(f"{what} {sha} has no {contract.RENDERED_PATH} (not a K8sTA app-branch commit)")
    return blob.data.decode(errors="replace")


def metadata_at(mirror: Mirror, sha: str, what: str) -> contract.BranchMetadata | None:
    """The ``.k8sta/metadata.yaml`` of ``sha`` (None: there is none, or this version cannot read it)."""
    blob = trees.entry(history.commit(mirror.repo, sha, what).tree, contract.METADATA_PATH)
    if not isinstance(blob, pygit2.Blob):
        return None
    try:
        return contract.parse_metadata(blob.data)
    except cmp_errors.ContractError:
        return None


def replaced_by(mirror: Mirror, sha: str, what: str) -> str | None:
    """The K8sTA commit that ``sha`` replaced on its branch: the newest one below it whose trailers name
    another visit (None: ``sha`` was the branch's first)."""
    found = history.commit(mirror.repo, sha, what)
    mine = messages.trailers(found.message)
    current = found.parents[0] if found.parents else None
    while current is not None:
        below = history.newest_with_trailers(mirror.repo, current)
        if below is None:
            return None
        said = messages.trailers(below.message)
        if (said.ticket, said.station) != (mine.ticket, mine.station):
            return str(below.id)
        current = below.parents[0] if below.parents else None
    return None


def between(mirror: Mirror, old: str, new: str) -> tuple[list[CommitInfo], list[CommitInfo]]:
    """The commits ``new`` has that ``old`` lacks, and those ``old`` has that ``new`` lacks (newest first)."""
    repo = mirror.repo
    history.commit(repo, old, "config commit")
    history.commit(repo, new, "config commit")
    return _walk(repo, new, old), _walk(repo, old, new)


def _walk(repo: pygit2.Repository, tip: str, hidden: str) -> list[CommitInfo]:
    walker = repo.walk(pygit2.Oid(hex=tip), SortMode.TOPOLOGICAL | SortMode.TIME)
    walker.hide(pygit2.Oid(hex=hidden))
    out = []
    for commit in walker:
        if len(out) == MAX_COMMITS:
            break
        out.append(CommitInfo(sha=str(commit.id), subject=(commit.message.splitlines() or [""])[0],
                              author=f"{commit.author.name} <{commit.author.email}>", time=float(commit.commit_time)))
    return out
