"""Helpers shared by the git-server tests: a seeded bare repository and a git CLI with no user config."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from k8sta_devstack.node import gitservers


@dataclass(frozen=True)
class Served:
    https: gitservers.HttpsServer
    ssh: gitservers.SshServer
    repos: Path


def git_env(**extra: str) -> dict[str, str]:
    """An environment for the git CLI that no user or system config can change."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent", "LANG": "C", "LC_ALL": "C",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
           "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    env.update(extra)
    return env


def git(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, env=env, check=True).stdout.strip()


def seed(bare: Path, work: Path) -> str:
    """A bare repository ``bare`` whose main holds one commit; returns that commit."""
    env = git_env()
    git("init", "-q", "--bare", "-b", "main", str(bare), env=env)
    git("init", "-q", "-b", "main", str(work), env=env)
    (work / "kustomization.yaml").write_text("resources: []\n")
    git("-C", str(work), "add", ".", env=env)
    git("-C", str(work), "commit", "-qm", "seed", env=env)
    git("-C", str(work), "push", "-q", str(bare), "main", env=env)
    return git("-C", str(work), "rev-parse", "HEAD", env=env)
