"""A local config repository served to Argo CD as ``file://``, written with git plumbing.

Commits are built from a dict of files through a throw-away index and work tree, so no checkout is
ever needed and a branch can be written while Argo CD reads the repository. Argo CD's repo-server
reads ``file://`` URLs itself (its own e2e suite uses them); no git server is needed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from k8sta_devstack import shell

_IDENTITY = {
    "GIT_AUTHOR_NAME": "K8sTA devstack", "GIT_AUTHOR_EMAIL": "devstack@k8sta.invalid",
    "GIT_COMMITTER_NAME": "K8sTA devstack", "GIT_COMMITTER_EMAIL": "devstack@k8sta.invalid",
}


@dataclass(frozen=True)
class ConfigRepo:
    """A bare repository on disk."""

    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    @classmethod
    def create(cls, path: Path) -> ConfigRepo:
        path.mkdir(parents=True, exist_ok=True)
        _git(["init", "--quiet", "--bare", "--initial-branch=main", str(path)])
        return cls(path)

    def git(self, args: list[str], *, env: Mapping[str, str] | None = None, stdin: bytes | None = None) -> str:
        return _git(["--git-dir", str(self.path), *args], env=env, stdin=stdin)

    def head(self, branch: str) -> str | None:
        """The commit ``branch`` points at, or None when it does not exist."""
        try:
            return self.git(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"]).strip() or None
        except RuntimeError:
            return None

    def commit(self, branch: str, files: Mapping[str, bytes], message: str) -> str:
        """Make ``files`` (path -> content) the whole tree of a new commit on ``branch``; return its id.

        The first commit of a branch is an orphan (app branches share no history with main).
        """
        parent = self.head(branch)
        with tempfile.TemporaryDirectory(prefix="k8sta-commit-") as tmp:
            work, index = Path(tmp) / "tree", Path(tmp) / "index"
            for rel, content in files.items():
                target = work / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            work.mkdir(exist_ok=True)
            env = {"GIT_INDEX_FILE": str(index), "GIT_WORK_TREE": str(work)}
            self.git(["add", "--all", "--force", "."], env=env)
            tree = self.git(["write-tree"], env=env).strip()
        args = ["commit-tree", tree, "-F", "-"] + (["-p", parent] if parent else [])
        commit = self.git(args, stdin=message.encode()).strip()
        # Compare-and-swap: fails if someone else moved the branch meanwhile.
        self.git(["update-ref", f"refs/heads/{branch}", commit, parent or "0" * 40])
        return commit


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, **_IDENTITY})
    env.update(extra or {})
    return env


def _git(args: list[str], *, env: Mapping[str, str] | None = None, stdin: bytes | None = None) -> str:
    try:
        return shell.sh.git(*args, _in=stdin, _env=_env(env), _cwd=(env or {}).get("GIT_WORK_TREE"))
    except shell.Failed as err:
        raise RuntimeError(f"git {' '.join(args)} failed: {err.stderr.decode(errors='replace').strip()}") from None
