"""Heads of app branches, and restoring K8sTA's content on top of a hand edit (history keeps the edit).

Callers: the reactor's drift watcher (``heads``: one fetch per repository, trailers of each head) and
its ``RepairDrift`` unit (``restore_over``). Whether a head is drift is the core's rule
(``core.drift.judge_head``); this module only reads and writes git.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pygit2

from k8sta_daemon.adapters.git import errors, history, messages, push
from k8sta_daemon.adapters.git.appbranch import DEFAULT_IDENTITY, Identity
from k8sta_daemon.adapters.git.mirror import Mirror


@dataclass(frozen=True)
class BranchHead:
    """A branch's head as of the last fetch (``sha`` None: no such branch) and its K8sTA trailers."""

    branch: str
    sha: str | None
    trailers: messages.Trailers


_NONE = messages.Trailers(None, None, None, None)


def heads(mirror: Mirror, branches: Iterable[str], *, fetch: bool = True) -> list[BranchHead]:
    """Each branch's head and the trailers of its commit message (one fetch for all of them)."""
    if fetch:
        mirror.fetch()
    found = []
    for branch in branches:
        sha = mirror.branch_head(branch)
        said = _NONE if sha is None else messages.trailers(
            history.commit(mirror.repo, sha, f"head of {branch}").message)
        found.append(BranchHead(branch, sha, said))
    return found


MAX_LINEAGE = 1000  # first-parent commits walked to find the recorded commit below a head


def lineage(mirror: Mirror, head: str, recorded: str) -> tuple[bool, bool]:
    """(same tree, descends): whether ``head`` holds exactly ``recorded``'s tree, and whether
    ``recorded`` is on ``head``'s first-parent line (within ``MAX_LINEAGE`` commits). A recorded
    commit the mirror does not hold (a branch rewritten and collected) is neither."""
    repo = mirror.repo
    found = history.commit(repo, head, "branch head")
    try:
        old = repo[recorded]
    except (KeyError, ValueError):
        return False, False
    if not isinstance(old, pygit2.Commit):
        return False, False
    same_tree = found.tree_id == old.tree_id
    current: pygit2.Commit | None = found
    for _ in range(MAX_LINEAGE):
        if current is None:
            break
        if str(current.id) == recorded:
            return same_tree, True
        current = current.parents[0] if current.parents else None
    return same_tree, False


def newest_k8sta_commit(repo: pygit2.Repository, head: str) -> pygit2.Commit | None:
    """The newest commit on ``head``'s first-parent line that carries K8sTA's trailers."""
    return history.newest_with_trailers(repo, history.commit(repo, head, "branch head"))


def restore_over(mirror: Mirror, branch: str, *, head: str, restore: str | None,
                 identity: Identity = DEFAULT_IDENTITY) -> str | None:
    """Commit ``restore``'s tree on top of ``head`` and push it, only if ``branch`` is still at ``head``.

    ``restore`` None restores the newest K8sTA commit below ``head``. The new commit repeats the
    restored commit's trailers (so it counts as that ticket's push at that Station) and names the
    hand edit it covers. Returns the new commit; a repeat after it landed returns it again (the branch
    is at a K8sTA commit on top of ``head`` with ``restore``'s tree: idempotent, like a push); None
    when the branch moved elsewhere (a newer edit: the watcher reports the new head). NotAnAppBranch
    when the branch holds no K8sTA commit to restore.
    """
    with mirror.lock():
        mirror.fetch()
        now = mirror.branch_head(branch)
        repo = mirror.repo
        if now != head:
            return now if now is not None and _repairs(repo, now, head, restore) else None
        human = history.commit(repo, head, f"head of {branch}")
        source = (history.commit(repo, restore, "commit to restore") if restore is not None
                  else newest_k8sta_commit(repo, head))
        if source is None:
            raise errors.NotAnAppBranch(f"branch {branch} at {head} holds no K8sTA commit to restore")
        message = restoration(branch, source, human, unchanged=source.tree_id == human.tree_id)
        signature = identity.signature()
        sha = str(repo.create_commit(None, signature, signature, message, source.tree_id, [human.id]))
        try:
            push.push(mirror, [push.RefUpdate(branch=branch, new=sha, expected=head)])
        except push.Rejected:
            mirror.fetch()
            if mirror.branch_head(branch) != head:
                return None  # compare-and-swap lost: a newer edit is a new drift
            raise
        mirror.record_push(branch, sha)
        return sha


def _repairs(repo: pygit2.Repository, sha: str, head: str, restore: str | None) -> bool:
    """Whether ``sha`` is a K8sTA commit right on top of ``head`` restoring ``restore`` (any, if None)."""
    current = history.commit(repo, sha, "branch head")
    said = messages.trailers(current.message)
    if not (said.ticket and said.station) or [str(p) for p in current.parent_ids] != [head]:
        return False
    return restore is None or current.tree_id == history.commit(repo, restore, "commit to restore").tree_id


def restoration(branch: str, source: pygit2.Commit, human: pygit2.Commit, *, unchanged: bool = False) -> str:
    """The message of a repair commit: what it restored, over whose edit, and the restored trailers."""
    said = messages.trailers(source.message)
    author = human.author
    head = f"k8sta: restore {branch} to {messages.short(str(source.id))} over a hand edit"
    body = [f"Commit {messages.short(str(human.id))} by {author.name} <{author.email}> "
            f"(\"{human.message.strip().splitlines()[0] if human.message.strip() else ''}\") is not K8sTA's;",
            f"this commit restores the content of {messages.short(str(source.id))} on top of it "
            "(history keeps the edit)."]
    if unchanged:
        body.append("The edit left the tree as it was; this commit only marks the branch as K8sTA's again.")
    trailer_lines = [f"{messages.TICKET}: {said.ticket}", f"{messages.STATION}: {said.station}"]
    if said.track:
        trailer_lines.append(f"{messages.TRACK}: {said.track}")
    return "\n\n".join([head, "\n".join(body), "\n".join(trailer_lines)]) + "\n"
