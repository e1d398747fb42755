"""Real git repositories for the git adapter's tests: a bare "remote" and a human's clone.

The human side uses the git CLI (what people do); the daemon side is the code under test.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from k8sta_cmp import contract
from k8sta_daemon.adapters.git import appbranch

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Human", "GIT_AUTHOR_EMAIL": "human@example.com",
    "GIT_COMMITTER_NAME": "Human", "GIT_COMMITTER_EMAIL": "human@example.com",
    "GIT_TERMINAL_PROMPT": "0",
    "LANG": "C", "LC_ALL": "C",
}

BASE_FILES = {
    "README.md": "Config of the api service.\n",
    "base/kustomization.yaml": "resources:\n- deployment.yaml\n",
    "base/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: ghcr.io/acme/api:0.0.0
""",
    "env/dev/kustomization.yaml": "resources:\n- ../../base\nnamespace: dev\n",
    "env/prod/kustomization.yaml": "resources:\n- ../../base\nnamespace: prod\n",
}

API = "ghcr.io/acme/api"


def git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


@dataclass
class Remote:
    """A bare repository standing in for the config repository on a forge."""

    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"  # as Argo CD's repoURL spells a local repository

    def git(self, *args: str, check: bool = True) -> str:
        return git("--git-dir", str(self.path), *args, check=check)

    def head(self, branch: str) -> str | None:
        out = self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
        return out or None

    def refs(self) -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)")
        return dict(line.split(" ", 1) for line in out.splitlines()) if out else {}

    def files(self, rev: str) -> set[str]:
        return set(self.git("ls-tree", "-r", "--name-only", rev).splitlines())

    def show(self, rev: str, path: str) -> str:
        return self.git("show", f"{rev}:{path}")

    def count(self, rev: str) -> int:
        return int(self.git("rev-list", "--count", rev))

    def hook(self, name: str, script: str) -> None:
        path = self.path / "hooks" / name
        path.write_text("#!/bin/sh\n" + script)
        path.chmod(0o755)


@dataclass
class Human:
    """A person's clone of the source branch: edits, commits and pushes ``main``."""

    path: Path

    def commit(self, files: Mapping[str, str | None], message: str) -> str:
        for name, text in files.items():
            target = self.path / name
            if text is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git("add", "-A", cwd=self.path)
        git("commit", "-q", "-m", message, cwd=self.path)
        git("push", "-q", "origin", "main", cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path)


APP_NS = "argocd"
DEV = appbranch.AppTarget.by_convention(contract.ObjectRef(APP_NS, "api-dev"), "env/dev")
PROD = appbranch.AppTarget.by_convention(contract.ObjectRef(APP_NS, "api-prod"), "env/prod")


def ticket(name: str) -> contract.ObjectRef:
    return contract.ObjectRef("k8sta", name)


def pin(tag: str) -> contract.ImagePin:
    return contract.ImagePin(name=API, tag=tag)
