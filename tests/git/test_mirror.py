"""Mirrors and credentials: one cached mirror per URL, fetched on use, secrets never shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpgit
import pygit2
import pytest
from gitrepos import DEV, Human, Remote, pin, ticket

from k8sta_cmp import safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import appbranch, credentials, errors, push
from k8sta_daemon.adapters.git.mirror import Mirror, cache_key

USER = "k8sta-bot"
PASSWORD = "s3cret-Passw0rd-42"
WRONG = "wr0ng-Passw0rd-99"


@pytest.fixture
def http_base(remote: Remote, human: Human) -> Iterator[str]:
    with httpgit.serve(remote.path.parent, username=USER, password=PASSWORD) as base:
        yield base


def test_one_mirror_per_repository_fetched_not_cloned(
        remote: Remote, human: Human, cache_dir: Path) -> None:
    first = Mirror.open(remote.url, cache_dir=cache_dir)
    first.fetch()
    assert first.branch_head("main") == remote.head("main")

    new = human.commit({"README.md": "v2\n"}, "second")
    human_branch = "feature"
    remote.git("branch", human_branch, new)
    again = Mirror.open(remote.url, cache_dir=cache_dir)
    again.fetch()

    assert again.path == first.path
    assert sorted(p.name for p in cache_dir.glob("*.git")) == [first.path.name]
    assert again.branch_head("main") == new and again.branch_head(human_branch) == new
    remote.git("branch", "-D", human_branch)
    again.fetch()
    assert again.branch_head(human_branch) is None  # deleted branches are pruned
    assert "url" not in (first.path / "config").read_text()  # no remote (and no URL) stored


def test_local_paths_work_like_file_urls(remote: Remote, human: Human, cache_dir: Path,
                                         kustomize: Kustomize, limits: safety.Limits) -> None:
    by_path = Mirror.open(str(remote.path), cache_dir=cache_dir)
    result = appbranch.promote(by_path, source_branch="main", config_commit=None, targets=[DEV],
                               ticket=ticket("api-1"), track="main", station="dev", images=[pin("1.0.0")],
                               kustomize=kustomize, limits=limits)
    assert by_path.branch_head("main") == remote.head("main")
    assert remote.head("env/dev") == result["env/dev"]
    assert cache_key("https://user:pw@example.com/acme/config.git") == cache_key("https://example.com/acme/config.git")
    assert cache_key("https://example.com/acme/config.git") != cache_key("https://example.com/acme/other.git")


def test_http_credentials_fetch_and_push(http_base: str, cache_dir: Path, kustomize: Kustomize,
                                         limits: safety.Limits, remote: Remote) -> None:
    creds = credentials.Credentials(username=USER, password=PASSWORD)
    mirror = Mirror.open(f"{http_base}/config.git", cache_dir=cache_dir, creds=creds)

    result = appbranch.promote(mirror, source_branch="main", config_commit=None, targets=[DEV],
                               ticket=ticket("api-1"), track="main", station="dev", images=[pin("1.0.0")],
                               kustomize=kustomize, limits=limits)

    assert remote.head("env/dev") == result["env/dev"]


def test_refused_credentials_are_final_and_never_shown(
        http_base: str, cache_dir: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    """A 401 is not "try again later": the same credentials cannot succeed (the ticket fails, clearly)."""
    creds = credentials.Credentials(username=USER, password=WRONG)
    mirror = Mirror.open(f"{http_base}/config.git", cache_dir=cache_dir, creds=creds)

    with pytest.raises(errors.CredentialsRefused) as fetch_error:
        mirror.fetch()
    with pytest.raises(errors.CredentialsRefused) as anonymous_error:
        Mirror.open(f"{http_base}/config.git", cache_dir=cache_dir).fetch()

    assert isinstance(fetch_error.value, errors.GiveUp) and not isinstance(fetch_error.value, errors.RetryLater)
    assert "credentials refused" in str(fetch_error.value)
    assert "has none of" in str(anonymous_error.value)
    for caught in (fetch_error, anonymous_error):
        assert WRONG not in str(caught.value)
        assert f"{http_base}/config.git" in str(caught.value)
    assert WRONG not in repr(creds)


def test_secrets_in_url_userinfo_are_redacted_everywhere(
        http_base: str, remote: Remote, cache_dir: Path) -> None:
    host = http_base.removeprefix("http://")
    mirror = Mirror.open(f"http://{USER}:{WRONG}@{host}/config.git", cache_dir=cache_dir)

    with pytest.raises(errors.CredentialsRefused) as caught:
        mirror.fetch()
    good = Mirror.open(f"{http_base}/config.git", cache_dir=cache_dir,
                       creds=credentials.Credentials(username=USER, password=PASSWORD))
    good.fetch()
    sha = good.branch_head("main")
    assert sha
    with pytest.raises(errors.CredentialsRefused) as push_error:  # the git CLI's 401: final as well
        push.push(mirror, [push.RefUpdate("env/dev", sha, None)])

    assert good.path == mirror.path  # one mirror per repository, whatever the userinfo
    for text in (str(caught.value), str(push_error.value), mirror.shown_url,
                 *(p.read_text(errors="replace") for p in mirror.path.iterdir() if p.is_file())):
        assert WRONG not in text
    assert mirror.url == f"{http_base}/config.git"  # the secret moved into the credentials
    assert remote.head("env/dev") is None


def test_unreachable_remote_is_retry_later_without_secrets(cache_dir: Path) -> None:
    creds = credentials.Credentials.token("ghp_TOPSECRETTOKEN")
    mirror = Mirror.open("https://x-access-token:ghp_TOPSECRETTOKEN@127.0.0.1:1/acme/config.git",
                         cache_dir=cache_dir, creds=creds)

    with pytest.raises(errors.RetryLater) as fetch_error:
        mirror.fetch()
    with pytest.raises(errors.RetryLater) as push_error:
        push.push(mirror, [push.RefUpdate("env/dev", "1" * 40, None)])

    for text in (str(fetch_error.value), str(push_error.value), repr(creds), repr(mirror.credentials)):
        assert "TOPSECRET" not in text


def test_credentials_in_url_userinfo_work(http_base: str, remote: Remote, cache_dir: Path,
                                          kustomize: Kustomize, limits: safety.Limits) -> None:
    host = http_base.removeprefix("http://")
    mirror = Mirror.open(f"http://{USER}:{PASSWORD}@{host}/config.git", cache_dir=cache_dir)

    result = appbranch.promote(mirror, source_branch="main", config_commit=None, targets=[DEV],
                               ticket=ticket("api-1"), track="main", station="dev", images=[pin("1.0.0")],
                               kustomize=kustomize, limits=limits)

    assert remote.head("env/dev") == result["env/dev"]
    assert PASSWORD not in mirror.url and PASSWORD not in repr(mirror.credentials)


def _loose_objects(mirror: Mirror) -> int:
    return sum(1 for d in (mirror.path / "objects").glob("[0-9a-f][0-9a-f]") for _ in d.iterdir())


def test_garbage_collection_packs_the_mirror_and_it_keeps_working(
        remote: Remote, human: Human, cache_dir: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    mirror = Mirror.open(remote.url, cache_dir=cache_dir)
    mirror.fetch()
    repo, parent = mirror.repo, None
    signature = pygit2.Signature("t", "t@example.com")
    i = 0
    # What pushed app-branch commits leave behind: loose blobs, trees, commits. git estimates the
    # loose count from objects/17/ alone, so make sure that directory holds a few.
    while len(list((mirror.path / "objects/17").glob("*"))) < 3:
        i += 1
        builder = repo.TreeBuilder()
        builder.insert("f", repo.create_blob(f"object {i}\n".encode()), pygit2.enums.FileMode.BLOB)
        parent = repo.create_commit(None, signature, signature, f"c{i}", builder.write(), [parent] if parent else [])
    mirror.record_push("env/gc", str(parent))
    repo.config["gc.auto"] = "256"  # git's threshold (default 6700), lowered: 2+ objects in objects/17
    assert _loose_objects(mirror) > 20

    assert mirror.pushed(every=2) is None  # the first push of two: nothing yet
    thread = mirror.pushed(every=2)
    assert thread is not None
    thread.join(timeout=120)
    assert not thread.is_alive()

    assert _loose_objects(mirror) == 0  # all reachable: packed
    assert list((mirror.path / "objects/pack").glob("*.pack"))
    result = appbranch.promote(mirror, source_branch="main", config_commit=None, targets=[DEV],
                               ticket=ticket("api-1"), track="main", station="dev", images=[pin("1.0.0")],
                               kustomize=kustomize, limits=limits)
    assert remote.head("env/dev") == result["env/dev"]
    new = human.commit({"README.md": "after gc\n"}, "after gc")
    mirror.fetch()
    assert mirror.branch_head("main") == new


def test_garbage_collection_below_git_thresholds_changes_nothing(remote: Remote, cache_dir: Path) -> None:
    mirror = Mirror.open(remote.url, cache_dir=cache_dir)
    mirror.fetch()
    mirror.repo.create_blob(b"one loose object\n")
    before = _loose_objects(mirror)
    mirror.collect_garbage()
    assert _loose_objects(mirror) == before
