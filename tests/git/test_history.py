"""Source-branch reads and tree assembly on real repositories."""

from __future__ import annotations

import threading
from pathlib import Path

import pygit2
import pytest
from gitrepos import DEV, PROD, Human, Remote, git, pin, ticket

from k8sta_cmp import safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import appbranch, errors, history, runtime, trees
from k8sta_daemon.adapters.git.mirror import Mirror


def test_newest_touching_follows_the_first_parent_line(mirror: Mirror, remote: Remote, human: Human) -> None:
    git("checkout", "-q", "-b", "feature", cwd=human.path)
    (human.path / "env/dev/patch.yaml").write_text("a: 1\n")
    git("add", "-A", cwd=human.path)
    git("commit", "-qm", "dev change on a side branch", cwd=human.path)
    git("checkout", "-q", "main", cwd=human.path)
    human.commit({"README.md": "meanwhile on main\n"}, "readme")
    git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature", cwd=human.path)
    git("push", "-q", "origin", "main", cwd=human.path)
    merge = git("rev-parse", "HEAD", cwd=human.path)
    later = human.commit({"env/prod/other.yaml": "b: 2\n"}, "prod only")
    mirror.fetch()
    tip = mirror.repo[later]

    assert str(history.newest_touching(tip, "env/dev").id) == merge
    assert str(history.newest_touching(tip, "env/prod").id) == later
    with pytest.raises(errors.NotFound):
        history.newest_touching(tip, "env/staging")


def test_set_path_leaves_no_empty_directories(mirror: Mirror) -> None:
    repo = mirror.repo
    blob = repo.create_blob(b"x")
    one = trees.set_path(repo, None, ["a", "b", "c.txt"], (blob, pygit2.enums.FileMode.BLOB))
    assert one is not None
    two = trees.set_path(repo, repo[one], ["a", "d.txt"], (blob, pygit2.enums.FileMode.BLOB))
    assert two is not None
    three = trees.set_path(repo, repo[two], ["a", "b", "c.txt"], None)
    assert three is not None

    assert [e.name for e in repo[three]["a"]] == ["d.txt"]
    assert trees.set_path(repo, repo[one], ["a", "b", "c.txt"], None) is None
    with pytest.raises(errors.InvalidRequest):
        trees.split("env/../main")


def test_two_workers_on_one_mirror_cache_are_serialised(
        remote: Remote, human: Human, cache_dir: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    results: dict[str, dict[str, str]] = {}
    failures: list[BaseException] = []

    def work(target: appbranch.AppTarget, name: str) -> None:
        try:
            mirror = Mirror.open(remote.url, cache_dir=cache_dir)  # each worker its own handle
            results[name] = appbranch.promote(
                mirror, source_branch="main", config_commit=None, targets=[target], ticket=ticket(name),
                track="main", station=target.branch.split("/")[1], images=[pin("1.0.0")],
                kustomize=kustomize, limits=limits)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(t, n)) for t, n in ((DEV, "api-1"), (PROD, "api-2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert remote.head("env/dev") == results["api-1"]["env/dev"]
    assert remote.head("env/prod") == results["api-2"]["env/prod"]


def test_runtime_settings_apply() -> None:
    before = (pygit2.settings.server_connect_timeout, pygit2.settings.server_timeout)
    try:
        runtime.apply(runtime.Libgit2Settings(connect_timeout=2, io_timeout=3, ignore_user_config=False))
        assert (pygit2.settings.server_connect_timeout, pygit2.settings.server_timeout) == (2000, 3000)
    finally:
        pygit2.settings.server_connect_timeout, pygit2.settings.server_timeout = before
