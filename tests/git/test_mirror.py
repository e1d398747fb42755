"""Mirrors and credentials: one cached mirror per URL, fetched on use, secrets never shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpgit
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


def test_refused_credentials_are_retry_later_and_never_shown(
        http_base: str, cache_dir: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    creds = credentials.Credentials(username=USER, password=WRONG)
    mirror = Mirror.open(f"{http_base}/config.git", cache_dir=cache_dir, creds=creds)

    with pytest.raises(errors.TransportFailed) as fetch_error:
        mirror.fetch()
    with pytest.raises(errors.TransportFailed) as anonymous_error:
        Mirror.open(f"{http_base}/config.git", cache_dir=cache_dir).fetch()

    assert isinstance(fetch_error.value, errors.RetryLater)
    for caught in (fetch_error, anonymous_error):
        assert WRONG not in str(caught.value)
        assert f"{http_base}/config.git" in str(caught.value)
    assert WRONG not in repr(creds)


def test_secrets_in_url_userinfo_are_redacted_everywhere(
        http_base: str, remote: Remote, cache_dir: Path) -> None:
    host = http_base.removeprefix("http://")
    mirror = Mirror.open(f"http://{USER}:{WRONG}@{host}/config.git", cache_dir=cache_dir)

    with pytest.raises(errors.TransportFailed) as caught:
        mirror.fetch()
    good = Mirror.open(f"{http_base}/config.git", cache_dir=cache_dir,
                       creds=credentials.Credentials(username=USER, password=PASSWORD))
    good.fetch()
    sha = good.branch_head("main")
    assert sha
    with pytest.raises(errors.TransportFailed) as push_error:
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
