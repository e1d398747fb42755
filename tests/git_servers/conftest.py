"""A config repository served over HTTPS and SSH by the devstack's git servers, for one test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from k8sta_devstack import processes
from k8sta_devstack.node import gitservers

from .servers import Served, seed


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    supervisor = processes.Supervisor(tmp_path / "logs")
    repos = tmp_path / "repos"
    seed(repos / "config.git", tmp_path / "seed")
    try:
        yield Served(https=gitservers.start_https(tmp_path / "https", supervisor, repos=repos),
                     ssh=gitservers.start_ssh(tmp_path / "ssh", supervisor, repos=repos), repos=repos)
    finally:
        supervisor.stop_all()
