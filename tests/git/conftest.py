"""Fixtures for the git adapter's tests: real repositories and a mirror cache.

Nothing is mocked; see gitrepos.py for the repositories. ``kustomize`` (the pinned binary) comes
from k8sta_devstack.pytest_plugin.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import BASE_FILES, Human, Remote, git

from k8sta_cmp import safety
from k8sta_daemon.adapters.git.mirror import Mirror


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    path = tmp_path / "config.git"
    git("init", "-q", "--bare", "-b", "main", str(path))
    return Remote(path)


@pytest.fixture
def human(tmp_path: Path, remote: Remote) -> Human:
    path = tmp_path / "human"
    git("init", "-q", "-b", "main", str(path))
    git("remote", "add", "origin", remote.url, cwd=path)
    person = Human(path)
    person.commit(BASE_FILES, "Initial config")
    return person


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def mirror(remote: Remote, human: Human, cache_dir: Path) -> Mirror:
    return Mirror.open(remote.url, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def limits() -> safety.Limits:
    return safety.Limits()
