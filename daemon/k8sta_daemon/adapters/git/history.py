"""Read-only questions about the source branch: its head, a pinned commit, who last touched an overlay.

The daemon never writes the source branch; everything here only reads the mirror. Callers:
appbranch.py (what to put on an app branch) and the intake of source commits (what changed).
"""

from __future__ import annotations

import pygit2

from k8sta_daemon.adapters.git import errors, messages, trees
from k8sta_daemon.adapters.git.mirror import Mirror


def source_head(mirror: Mirror, branch: str, *, fetch: bool = True) -> str:
    """The commit the source branch points at (after a fetch unless ``fetch=False``)."""
    if fetch:
        mirror.fetch()
    sha = mirror.branch_head(branch)
    if sha is None:
        raise errors.NotFound(f"branch {branch!r} not found in {mirror.shown_url}")
    return sha


def commit(repo: pygit2.Repository, sha: str, what: str) -> pygit2.Commit:
    """The commit ``sha`` (a full id); NotFound names ``what`` it was supposed to be."""
    try:
        obj = repo[sha]
    except (KeyError, ValueError):
        raise errors.NotFound(f"{what} {sha} not found in the repository") from None
    if not isinstance(obj, pygit2.Commit):
        raise errors.NotFound(f"{what} {sha} is not a commit")
    return obj


def contains(repo: pygit2.Repository, tip: pygit2.Commit, candidate: pygit2.Commit) -> bool:
    """Whether ``candidate`` is ``tip`` or one of its ancestors (it is on the branch)."""
    return tip.id == candidate.id or repo.descendant_of(tip.id, candidate.id)


def newest_touching(tip: pygit2.Commit, path: str) -> pygit2.Commit:
    """The newest commit on ``tip``'s first-parent line whose ``path`` differs from its parent's.

    First-parent, because a merge into the source branch is the source-branch commit that brought
    the change, whatever the side branch did. NotFound if ``path`` does not exist at ``tip``.
    """
    here = trees.entry(tip.tree, path)
    if here is None:
        raise errors.NotFound(f"{path}/ does not exist at source commit {tip.id}")
    current = tip
    while current.parents:
        parent = current.parents[0]
        before = trees.entry(parent.tree, path)
        if before is None or before.id != here.id:
            return current
        current = parent
    return current


def newest_with_trailers(repo: pygit2.Repository, head: pygit2.Commit) -> pygit2.Commit | None:
    """The newest commit on ``head``'s first-parent line (``head`` included) carrying K8sTA's trailers."""
    current: pygit2.Commit | None = head
    while current is not None:
        said = messages.trailers(current.message)
        if said.ticket and said.station:
            return current
        current = current.parents[0] if current.parents else None
    return None


def touched_paths(mirror: Mirror, old: str | None, new: str) -> list[str]:
    """Paths (files) that differ between source commits ``old`` and ``new`` (None: everything in ``new``)."""
    repo = mirror.repo
    after = commit(repo, new, "source commit").tree
    if old is None:
        return sorted(_all_files(repo, after, ""))
    before = commit(repo, old, "source commit").tree
    paths: set[str] = set()
    for delta in repo.diff(before, after).deltas:
        paths.add(delta.old_file.path)
        paths.add(delta.new_file.path)
    return sorted(paths)


def _all_files(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str) -> list[str]:
    out: list[str] = []
    for item in tree:
        if isinstance(item, pygit2.Tree):
            out += _all_files(repo, item, f"{prefix}{item.name}/")
        else:
            out.append(f"{prefix}{item.name}")
    return out
