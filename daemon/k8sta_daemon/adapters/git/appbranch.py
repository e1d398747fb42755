"""Write app branches: bring a ticket's pinned snapshot to a Station's branches, or re-render one.

The caller is the daemon's action layer, once the decision core has said which commit should
exist. Each app-branch commit holds shared config at the ticket's pinned config commit, the
Application's overlay from the newest source commit that touched it, and ``.k8sta/metadata.yaml`` +
``.k8sta/rendered.yaml`` (via the contract module); the first commit of a branch has no parent, so
an app branch never shares history with the source branch, which is never written.

A restarted daemon never makes a second commit: a head whose trailers name the same ticket and
Station and whose metadata holds the same pins is "already pushed", and its SHA is returned.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pygit2

from k8sta_cmp import contract, generate, render, safety
from k8sta_cmp import errors as cmp_errors
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters import retry
from k8sta_daemon.adapters.git import changes, errors, history, messages, push, trees
from k8sta_daemon.adapters.git.mirror import Mirror

DEFAULT_ATTEMPTS = 3


@dataclass(frozen=True)
class AppTarget:
    """One Argo CD Application: its app branch and the overlay directory it renders."""

    application: contract.ObjectRef
    branch: str
    overlay_dir: str

    @classmethod
    def by_convention(cls, application: contract.ObjectRef, branch: str) -> AppTarget:
        """The convention: the branch ``env/<name>`` renders the overlay ``env/<name>/``."""
        return cls(application=application, branch=branch, overlay_dir=branch)


@dataclass(frozen=True)
class Identity:
    """Author and committer of app-branch commits."""

    name: str = "K8sTA"
    email: str = "k8sta@users.noreply.k8sta.io"

    def signature(self) -> pygit2.Signature:
        return pygit2.Signature(self.name, self.email)


DEFAULT_IDENTITY = Identity()


class Head(NamedTuple):
    """An app branch's head commit (None if the branch does not exist) and its metadata."""

    sha: str | None
    metadata: contract.BranchMetadata | None


@dataclass(frozen=True)
class HeadFacts:
    """An existing branch head as git shows it, for the caller to judge (this adapter takes no side).

    ``metadata_problem`` says why ``.k8sta/metadata.yaml`` is missing or does not parse (None: it
    parses); ``newest_k8sta`` is the newest commit carrying both K8sTA trailers on the head's
    first-parent line (the head itself when it carries them), None when there is none."""

    branch: str
    sha: str
    ticket: str | None
    station: str | None
    metadata_problem: str | None
    newest_k8sta: str | None


@dataclass(frozen=True)
class Base:
    """The caller's verdict on a head: build on it. ``previous`` is the commit whose metadata the new
    commit's message compares with; ``hand_edit``: the head is not K8sTA's, and the message says so."""

    previous: str
    hand_edit: bool = False


Judge = Callable[[HeadFacts], Base]  # raises a GiveUp (e.g. NotAnAppBranch) to refuse the head


def only_readable_heads(facts: HeadFacts) -> Base:
    """The judge of a caller that has none: build on a head only where its metadata reads."""
    if facts.metadata_problem is not None:
        raise errors.NotAnAppBranch(f"branch {facts.branch} exists at {facts.sha} but K8sTA cannot build on it "
                                    f"({facts.metadata_problem}); app branches are orphan branches K8sTA owns: "
                                    "delete it, or point the Application at another branch")
    return Base(previous=facts.sha)


def read_head(mirror: Mirror, branch: str, *, fetch: bool = True) -> Head:
    """The head of ``branch`` and its parsed metadata (None: not a K8sTA commit).

    NotAnAppBranch if the metadata exists but does not parse (e.g. a newer contract version).
    """
    if fetch:
        mirror.fetch()
    sha = mirror.branch_head(branch)
    if sha is None:
        return Head(None, None)
    blob = trees.entry(history.commit(mirror.repo, sha, f"head of {branch}").tree, contract.METADATA_PATH)
    if not isinstance(blob, pygit2.Blob):
        return Head(sha, None)
    try:
        return Head(sha, contract.parse_metadata(blob.data))
    except cmp_errors.ContractError as exc:
        raise errors.NotAnAppBranch(f"branch {branch} at {sha}: {exc}") from None


def promote(mirror: Mirror, *, source_branch: str, config_commit: str | None, targets: Sequence[AppTarget],
            ticket: contract.ObjectRef, track: str, station: str, images: Sequence[contract.ImagePin],
            kustomize: Kustomize, limits: safety.Limits, note: str = "",
            identity: Identity = DEFAULT_IDENTITY, max_attempts: int = DEFAULT_ATTEMPTS,
            input_key: bytes | None = None, judge: Judge = only_readable_heads) -> dict[str, str]:
    """Bring the ticket's snapshot to every target branch in one atomic push; return branch -> SHA.

    ``config_commit`` None pins the source branch's tip. Targets already at this ticket and Station
    with the same pins are returned as they are; if all are, nothing is pushed. Every other existing
    head is shown to ``judge`` (each attempt, under the mirror's lock, so a head that moves is judged
    again), which says what to build on or refuses; the new commit's parent is always the head. With
    ``input_key`` each commit carries the signed ``.k8sta/inputs`` (contract v3: Application, ticket,
    Station and the branch's sequence, one more than the head's), so the plugin skips re-validating.
    """
    _check_targets(targets, source_branch)
    pins = tuple(images)
    renders = _RenderCache(kustomize, limits, input_key)

    def plan(tip: pygit2.Commit, target: AppTarget) -> _Planned:
        repo = mirror.repo
        config = history.commit(repo, config_commit or str(tip.id), "config commit")
        if not history.contains(repo, tip, config):
            raise errors.NotFound(f"config commit {config.id} is not on branch {source_branch}")
        facts, head = _inspect(repo, target.branch, mirror.branch_head(target.branch))
        if facts is None:
            base, previous, over = None, None, None
        else:
            if _already_there(repo, head, target, ticket, station, str(config.id), pins):
                return _Planned(target.branch, facts.sha, None)
            base = judge(facts)
            previous = head.metadata if base.previous == facts.sha else _metadata_at(repo, base.previous)
            over = history.commit(repo, facts.sha, f"head of {target.branch}") if base.hand_edit else None
        return _commit(mirror, renders, identity, target=target, tip=tip, config=config, head=head,
                       source_branch=source_branch, ticket=ticket, track=track, station=station, images=pins,
                       message=lambda meta: messages.promotion(meta, previous, note, over=_edit(over)))

    return _write(mirror, source_branch, targets, plan, max_attempts)


def rerender(mirror: Mirror, *, source_branch: str, target: AppTarget, kustomize: Kustomize,
             limits: safety.Limits, identity: Identity = DEFAULT_IDENTITY,
             max_attempts: int = DEFAULT_ATTEMPTS, input_key: bytes | None = None) -> str | None:
    """Re-render one app branch for an overlay-only source change, keeping its ticket and pins.

    Returns the branch's SHA afterwards (unchanged when its overlay is already the newest), or None
    when the branch has no K8sTA commit yet (nothing to re-render: the first ticket will write it).
    """
    _check_targets([target], source_branch)
    renders = _RenderCache(kustomize, limits, input_key)

    def plan(tip: pygit2.Commit, target: AppTarget) -> _Planned | None:
        head = read_head(mirror, target.branch, fetch=False)
        if head.sha is None:
            return None
        meta = head.metadata
        if meta is None:
            raise _foreign(target.branch, head.sha)
        overlay_commit = history.newest_touching(tip, target.overlay_dir)
        if str(overlay_commit.id) == meta.source.overlay_commit:
            return _Planned(target.branch, head.sha, None)
        config = history.commit(mirror.repo, meta.source.config_commit, "pinned config commit")
        previous = meta
        return _commit(mirror, renders, identity, target=target, tip=tip, config=config, head=head,
                       source_branch=source_branch, ticket=meta.ticket, track=meta.track, station=meta.station,
                       images=meta.images, message=lambda new: messages.rerender(new, previous))

    result = _write(mirror, source_branch, [target], plan, max_attempts)
    return result.get(target.branch)


# -- shared machinery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    branch: str
    sha: str
    update: push.RefUpdate | None  # None: the branch already holds ``sha``


class _Moved(Exception):
    """Another writer moved a target branch between our fetch and our push: plan again."""


def _write(mirror: Mirror, source_branch: str, targets: Sequence[AppTarget],
           plan: Callable[[pygit2.Commit, AppTarget], _Planned | None], max_attempts: int) -> dict[str, str]:
    """Fetch, plan every target, push the new commits at once; re-plan when another writer won.

    Re-planning goes through ``adapters.retry`` (a short jittered pause, so two writers racing for one
    branch do not collide again in lockstep), at most ``max_attempts`` times.
    """
    with mirror.lock():
        fetched = False
        last: list[push.Rejected] = []

        def attempt() -> dict[str, str]:
            nonlocal fetched
            if not fetched:
                mirror.fetch()
            tip = history.commit(mirror.repo, history.source_head(mirror, source_branch, fetch=False),
                                 f"head of {source_branch}")
            planned = [p for p in (plan(tip, t) for t in targets) if p is not None]
            updates = [p.update for p in planned if p.update is not None]
            try:
                push.push(mirror, updates)
            except push.Rejected as exc:
                mirror.fetch()
                fetched = True
                if not any(mirror.branch_head(u.branch) != u.expected for u in updates):
                    raise  # nothing moved: the server refuses this push itself
                last.append(exc)
                raise _Moved() from None
            for update in updates:
                mirror.record_push(update.branch, update.new)
            if updates:
                mirror.pushed()  # every GC_EVERY pushes: `git gc --auto` in the background
            return {p.branch: p.sha for p in planned}

        try:
            return retry.retrying(attempt, on=_Moved, attempts=max(1, max_attempts), initial=0.05, maximum=1.0)
        except _Moved:
            raise errors.BranchMoved(f"{', '.join(t.branch for t in targets)} in {mirror.shown_url} moved under "
                                     f"us {max_attempts} times in a row (last: {last[-1]}); will try again") from None


def _commit(mirror: Mirror, renders: _RenderCache, identity: Identity, *, target: AppTarget,
            tip: pygit2.Commit, config: pygit2.Commit, head: Head, source_branch: str,
            ticket: contract.ObjectRef, track: str, station: str, images: Sequence[contract.ImagePin],
            message: Callable[[contract.BranchMetadata], str]) -> _Planned:
    """Build (without a work tree) and store one app-branch commit on top of ``head``."""
    repo = mirror.repo
    overlay_commit = history.newest_touching(tip, target.overlay_dir)
    overlay = trees.entry(overlay_commit.tree, target.overlay_dir)
    if not isinstance(overlay, pygit2.Tree):
        raise errors.NotFound(f"{target.overlay_dir} is not a directory at source commit {overlay_commit.id}")
    inputs = trees.input_tree(repo, config.tree, overlay, target.overlay_dir, changes.OVERLAYS_ROOT)
    rendered = renders.get(repo, inputs, target, tuple(images))
    try:
        meta = contract.BranchMetadata(
            ticket=ticket, track=track, station=station, application=target.application,
            source=contract.Source(branch=source_branch, config_commit=str(config.id),
                                   overlay_commit=str(overlay_commit.id)),
            kustomization=target.overlay_dir, images=tuple(images),
            renderer=generate.running_versions(renders.kustomize), rendered_sha256=rendered.sha256,
            sequence=_next_sequence(repo, head.sha),
        )
        entries = trees.signed_entries(repo, repo[inputs]) if renders.input_key else None  # type: ignore[arg-type]
        files = contract.branch_files(meta, rendered.manifests, input_entries=entries, key=renders.input_key)
    except cmp_errors.K8staError as exc:
        raise errors.RenderFailed(f"{target.branch}: {exc}") from None
    tree = trees.with_files(repo, inputs, files)
    signature = identity.signature()
    parents = [pygit2.Oid(hex=head.sha)] if head.sha else []
    sha = str(repo.create_commit(None, signature, signature, message(meta), tree, parents))
    return _Planned(target.branch, sha, push.RefUpdate(branch=target.branch, new=sha, expected=head.sha))


class _RenderCache:
    """Renders of one request, keyed by input tree and pins, so a retry after a lost race is cheap."""

    def __init__(self, kustomize: Kustomize, limits: safety.Limits, input_key: bytes | None = None) -> None:
        self.kustomize = kustomize
        self.limits = limits
        self.input_key = input_key  # signs only what get() rendered after the full safety checks
        self._done: dict[tuple[str, str, tuple[contract.ImagePin, ...]], render.Rendered] = {}

    def get(self, repo: pygit2.Repository, inputs: pygit2.Oid, target: AppTarget,
            images: tuple[contract.ImagePin, ...]) -> render.Rendered:
        key = (str(inputs), target.overlay_dir, images)
        if key not in self._done:
            with tempfile.TemporaryDirectory(prefix="k8sta-render-") as tmp:
                root = Path(tmp) / "branch"
                trees.materialise(repo, repo[inputs], root)  # type: ignore[arg-type]
                try:
                    self._done[key] = render.render(root, target.overlay_dir, images, self.kustomize,
                                                    self.limits)
                except cmp_errors.K8staError as exc:
                    raise errors.RenderFailed(f"{target.branch}: {exc}") from None
        return self._done[key]


def _already_there(repo: pygit2.Repository, head: Head, target: AppTarget, ticket: contract.ObjectRef,
                   station: str, config_commit: str, images: Sequence[contract.ImagePin]) -> bool:
    """The head already carries this ticket at this Station with these pins (a push we made before)."""
    meta = head.metadata
    if meta is None or head.sha is None:
        return False
    said = messages.trailers(history.commit(repo, head.sha, f"head of {target.branch}").message)
    return (said.ticket == str(ticket) and said.station == station
            and meta.ticket == ticket and meta.station == station and meta.application == target.application
            and meta.source.config_commit == config_commit and frozenset(meta.images) == frozenset(images))


def _inspect(repo: pygit2.Repository, branch: str, sha: str | None) -> tuple[HeadFacts | None, Head]:
    """What git says about ``branch``'s head (None facts: no such branch), never raising for what it finds."""
    if sha is None:
        return None, Head(None, None)
    found = history.commit(repo, sha, f"head of {branch}")
    said = messages.trailers(found.message)
    blob = trees.entry(found.tree, contract.METADATA_PATH)
    metadata, problem = None, None
    if not isinstance(blob, pygit2.Blob):
        problem = f"no {contract.METADATA_PATH}"
    else:
        try:
            metadata = contract.parse_metadata(blob.data)
        except cmp_errors.ContractError as exc:
            problem = str(exc)
    newest = history.newest_with_trailers(repo, found)
    facts = HeadFacts(branch=branch, sha=sha, ticket=said.ticket, station=said.station, metadata_problem=problem,
                      newest_k8sta=None if newest is None else str(newest.id))
    return facts, Head(sha, metadata)


MAX_SEQUENCE_WALK = 1000  # first-parent commits looked at for the branch's last sequence


def _next_sequence(repo: pygit2.Repository, head: str | None) -> int:
    """One more than the sequence of the newest commit below ``head`` (included) whose metadata reads:
    the branch's order, signed in ``.k8sta/inputs`` (a hand edit's own metadata counts too, so the
    sequence never goes back because of one). 1 for a new branch or one written before contract v3."""
    current = None if head is None else history.commit(repo, head, "branch head")
    for _ in range(MAX_SEQUENCE_WALK):
        if current is None:
            break
        blob = trees.entry(current.tree, contract.METADATA_PATH)
        if isinstance(blob, pygit2.Blob):
            try:
                return contract.parse_metadata(blob.data).sequence + 1
            except cmp_errors.ContractError:
                pass
        current = current.parents[0] if current.parents else None
    return 1


def _metadata_at(repo: pygit2.Repository, sha: str) -> contract.BranchMetadata | None:
    """The metadata of commit ``sha`` (None when it has none this daemon can read)."""
    blob = trees.entry(history.commit(repo, sha, "previous K8sTA commit").tree, contract.METADATA_PATH)
    if not isinstance(blob, pygit2.Blob):
        return None
    try:
        return contract.parse_metadata(blob.data)
    except cmp_errors.ContractError:
        return None


def _edit(human: pygit2.Commit | None) -> messages.HandEdit | None:
    if human is None:
        return None
    first = human.message.strip().splitlines()[0] if human.message.strip() else ""
    return messages.HandEdit(sha=str(human.id), author=f"{human.author.name} <{human.author.email}>", subject=first)


def _check_targets(targets: Sequence[AppTarget], source_branch: str) -> None:
    """Refuse requests that could write the source branch, or one branch twice."""
    if not targets:
        raise errors.InvalidRequest("no target Applications")
    branches = [t.branch for t in targets]
    if len(set(branches)) != len(branches):
        raise errors.InvalidRequest(f"a branch is targeted twice: {sorted(branches)}")
    for target in targets:
        if target.branch == source_branch:
            raise errors.InvalidRequest(f"{target.application}: its branch {target.branch} is the source branch, "
                                        "which K8sTA never writes; point targetRevision at an app branch")
        if not pygit2.reference_is_valid_name(f"refs/heads/{target.branch}"):
            raise errors.InvalidRequest(f"{target.application}: {target.branch!r} is not a valid branch name")
        parts = trees.split(target.overlay_dir)
        if parts[0] != changes.OVERLAYS_ROOT or len(parts) < 2:
            raise errors.InvalidRequest(f"{target.application}: overlay {target.overlay_dir!r} must be a "
                                        "directory under env/ (everything outside env/ is shared config)")


def _foreign(branch: str, sha: str) -> errors.NotAnAppBranch:
    return errors.NotAnAppBranch(f"branch {branch} exists at {sha} but was not written by K8sTA (no "
                                 f"{contract.METADATA_PATH}); app branches are orphan branches K8sTA owns: "
                                 "delete it, or point the Application at another branch")


def preview(mirror: Mirror, *, source_branch: str, config_commit: str | None, target: AppTarget,
            images: Sequence[contract.ImagePin], kustomize: Kustomize, limits: safety.Limits) -> bytes:
    """What ``promote`` would write as ``target``'s rendered manifests, without committing anything (``k8sta
    diff`` of a ticket not yet at the Station): the same inputs, the plugin's same renderer. Reads the mirror
    as last fetched."""
    repo = mirror.repo
    tip = history.commit(repo, history.source_head(mirror, source_branch, fetch=False), f"head of {source_branch}")
    config = history.commit(repo, config_commit or str(tip.id), "config commit")
    if not history.contains(repo, tip, config):
        raise errors.NotFound(f"config commit {config.id} is not on branch {source_branch}")
    overlay_commit = history.newest_touching(tip, target.overlay_dir)
    overlay = trees.entry(overlay_commit.tree, target.overlay_dir)
    if not isinstance(overlay, pygit2.Tree):
        raise errors.NotFound(f"{target.overlay_dir} is not a directory at source commit {overlay_commit.id}")
    inputs = trees.input_tree(repo, config.tree, overlay, target.overlay_dir, changes.OVERLAYS_ROOT)
    return _RenderCache(kustomize, limits).get(repo, inputs, target, tuple(images)).manifests
