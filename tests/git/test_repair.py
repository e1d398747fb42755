"""Hand edits of app branches: heads() shows who wrote the head, restore_over() repairs on top of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import DEV, Remote, git, pin, ticket

from k8sta_cmp import contract, safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import appbranch, errors, messages, repair
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.core import drift, model, sources


def promote(mirror: Mirror, kustomize: Kustomize, limits: safety.Limits, name: str = "api-42") -> str:
    heads = appbranch.promote(mirror, source_branch="main", config_commit=None, targets=[DEV], ticket=ticket(name),
                              track="main", station="dev", images=[pin("1.2.3")], kustomize=kustomize,
                              limits=limits)
    return heads["env/dev"]


def hand_edit(remote: Remote, tmp_path: Path, path: str, text: str, name: str = "edit") -> str:
    """A person clones the app branch, changes one file and pushes: the drift K8sTA must notice."""
    work = tmp_path / f"hand-{name}"
    git("clone", "-q", "-b", "env/dev", remote.url, str(work))
    (work / path).parent.mkdir(parents=True, exist_ok=True)
    (work / path).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", f"hotfix by hand ({name})", cwd=work)
    git("push", "-q", "origin", "env/dev", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


SOURCE = sources.AppSource(app=model.AppRef(DEV.application.namespace, DEV.application.name), repo_url="",
                           branch="env/dev", overlay_dir="env/dev", source_branch="main")


def judged(mirror: Mirror) -> model.Drift | None:
    (head,) = repair.heads(mirror, ["env/dev"])
    return drift.judge_head(SOURCE, head.sha, head.trailers.ticket, head.trailers.station)


def test_a_k8sta_head_is_not_drift_a_human_commit_on_top_is(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    ours = promote(mirror, kustomize, limits)
    assert judged(mirror) is None

    human = hand_edit(remote, tmp_path, "README.md", "harmless note\n")

    assert judged(mirror) == model.Drift(app=SOURCE.app, branch="env/dev", head=human)
    assert remote.git("rev-parse", f"{human}^") == ours


def test_a_branch_that_does_not_exist_is_not_drift(mirror: Mirror) -> None:
    assert judged(mirror) is None


def test_restore_puts_our_tree_on_top_of_the_human_commit_with_our_trailers(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    ours = promote(mirror, kustomize, limits)
    human = hand_edit(remote, tmp_path, contract.RENDERED_PATH, "kind: Broken\n")

    sha = repair.restore_over(mirror, "env/dev", head=human, restore=ours)

    assert sha is not None and remote.head("env/dev") == sha
    assert remote.git("rev-list", "--first-parent", "env/dev").splitlines()[:3] == [sha, human, ours]
    assert remote.git("rev-parse", f"{sha}^{{tree}}") == remote.git("rev-parse", f"{ours}^{{tree}}")
    said = messages.trailers(remote.git("log", "-1", "--format=%B", sha))
    assert (said.ticket, said.station, said.track) == (str(ticket("api-42")), "dev", "main")
    assert human[:12] in remote.git("log", "-1", "--format=%B", sha)
    assert judged(mirror) is None  # the watcher stops reporting it


def test_a_repaired_branch_counts_as_that_tickets_push(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    ours = promote(mirror, kustomize, limits)
    human = hand_edit(remote, tmp_path, "README.md", "note\n")
    sha = repair.restore_over(mirror, "env/dev", head=human, restore=ours)

    assert promote(mirror, kustomize, limits) == sha  # the trailers make the ticket's push a no-op
    assert remote.head("env/dev") == sha


def test_without_a_commit_to_restore_the_newest_k8sta_commit_below_the_edits_is_used(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    ours = promote(mirror, kustomize, limits)
    hand_edit(remote, tmp_path, "README.md", "one\n", name="one")
    second = hand_edit(remote, tmp_path, "README.md", "two\n", name="two")

    sha = repair.restore_over(mirror, "env/dev", head=second, restore=None)

    assert sha is not None
    assert remote.git("rev-parse", f"{sha}^{{tree}}") == remote.git("rev-parse", f"{ours}^{{tree}}")
    assert remote.count(sha) == 4  # ours, two human commits, the repair: nothing rewritten


def test_a_branch_that_moved_since_the_drift_was_seen_is_left_alone(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    ours = promote(mirror, kustomize, limits)
    first = hand_edit(remote, tmp_path, "README.md", "one\n", name="one")
    second = hand_edit(remote, tmp_path, "README.md", "two\n", name="two")

    assert repair.restore_over(mirror, "env/dev", head=first, restore=ours) is None
    assert remote.head("env/dev") == second


def test_a_repeated_repair_returns_the_commit_it_made(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    ours = promote(mirror, kustomize, limits)
    human = hand_edit(remote, tmp_path, "README.md", "one\n")
    sha = repair.restore_over(mirror, "env/dev", head=human, restore=ours)
    assert repair.restore_over(mirror, "env/dev", head=human, restore=ours) == sha
    assert remote.count("env/dev") == 3


def test_a_branch_with_no_k8sta_commit_cannot_be_restored(mirror: Mirror, remote: Remote, tmp_path: Path) -> None:
    work = tmp_path / "foreign"
    git("init", "-q", "-b", "env/dev", str(work))
    (work / "x").write_text("x\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "not ours", cwd=work)
    git("push", "-q", remote.url, "env/dev", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work)

    with pytest.raises(errors.NotAnAppBranch, match="no K8sTA commit to restore"):
        repair.restore_over(mirror, "env/dev", head=head, restore=None)
    assert remote.head("env/dev") == head


def test_the_branch_records_the_version_of_the_kustomize_that_rendered(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    """Item 14: a second kustomize binary (a wrapper that execs the pinned one) is what the metadata names."""
    other = tmp_path / "kustomize-other"
    other.write_text(f'#!/bin/sh\nif [ "$1" = version ]; then echo v9.8.7-wrapper; exit 0; fi\n'
                     f'exec {kustomize.path} "$@"\n')
    other.chmod(0o755)
    sha = promote(mirror, Kustomize(path=other), limits)
    meta = contract.parse_metadata(remote.show(sha, contract.METADATA_PATH) + "\n")
    assert meta.renderer.kustomize == "v9.8.7-wrapper"
    assert promote(mirror, kustomize, limits, name="api-43") != sha
    meta = contract.parse_metadata(remote.show("env/dev", contract.METADATA_PATH) + "\n")
    assert meta.renderer.kustomize == kustomize.reported_version()
