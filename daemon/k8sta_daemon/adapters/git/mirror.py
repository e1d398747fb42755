"""One cached bare mirror per repository URL: fetched (never re-cloned) each time it is used.

Callers (appbranch.py, the intake of source commits) read and write objects here and push from here;
its ``refs/heads/*`` mirror the remote's as of the last fetch. The remote URL is never stored in the
mirror's config (an anonymous remote is used for each fetch), so userinfo in a URL never lands on
disk, and one inter-process file lock serialises everything that uses one mirror.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pygit2
from pygit2.enums import FetchPrune

from k8sta_daemon.adapters.git import credentials, errors, redact

HEADS_REFSPEC = "+refs/heads/*:refs/heads/*"
_SCP_LIKE = re.compile(r"^(?:[^/@:]+@)?[^/:]+:(?!//)")


def normalise_url(url: str) -> str:
    """A stable spelling of ``url``: local paths become absolute, URLs are kept as given."""
    if "://" in url or _SCP_LIKE.match(url):
        return url
    return os.path.abspath(url)


def cache_key(url: str) -> str:
    """The mirror's directory name: a hash of the URL without userinfo (one mirror per repository)."""
    identity = redact.without_userinfo(normalise_url(url))
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


class Mirror:
    """A bare repository mirroring one remote's branches, plus the credentials to reach it."""

    def __init__(self, url: str, path: Path, repo: pygit2.Repository, creds: credentials.Credentials) -> None:
        self.url = url
        self.path = path
        self.repo = repo
        self.credentials = creds
        self._guard = threading.RLock()
        self._depth = 0
        self._lock_file: int | None = None

    @classmethod
    def open(cls, url: str, *, cache_dir: Path,
             creds: credentials.Credentials = credentials.ANONYMOUS) -> Mirror:
        """Open the mirror of ``url`` under ``cache_dir``, creating it (empty) on first use.

        HTTP(S) userinfo in ``url`` is moved into the credentials (unless explicit ones are given),
        so the URL this object keeps and passes to libgit2 and git never carries a secret.
        """
        url, creds = _split_userinfo(normalise_url(url), creds)
        cache_dir.mkdir(parents=True, exist_ok=True)
        key = cache_key(url)
        path = cache_dir / f"{key}.git"
        with _flock(cache_dir / f"{key}.lock"):
            if not (path / "HEAD").is_file():
                repo = pygit2.init_repository(str(path), bare=True)
                (path / "description").write_text(f"K8sTA mirror of {redact.url(url)}\n")
            else:
                repo = pygit2.Repository(str(path))
        return cls(url, path, repo, creds)

    @property
    def shown_url(self) -> str:
        """The URL as it may appear in logs, events and errors."""
        return redact.url(self.url)

    def redact(self, text: str) -> str:
        return redact.text(text, self.credentials.secrets)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the mirror for one fetch-decide-push sequence; re-entrant within this object."""
        with self._guard:
            if self._depth == 0:
                lock_path = self.path.parent / f"{self.path.stem}.lock"
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_file = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_file is not None:
                    os.close(self._lock_file)  # closing releases the flock
                    self._lock_file = None

    def fetch(self) -> None:
        """Bring every branch of the remote here (pruning deleted ones); raise TransportFailed."""
        with self.lock():
            remote = self.repo.remotes.create_anonymous(self.url)
            try:
                remote.fetch([HEADS_REFSPEC], callbacks=credentials.remote_callbacks(self.credentials, self.url),
                             prune=FetchPrune.PRUNE, proxy=True)
            except errors.GitError as exc:
                raise type(exc)(self.redact(str(exc))) from None
            except (pygit2.GitError, OSError) as exc:
                raise errors.TransportFailed(
                    f"fetching {self.shown_url} failed: {self.redact(_one_line(exc))}"
                ) from None

    def branch_head(self, branch: str) -> str | None:
        """The commit ``branch`` points at as of the last fetch, or None if it does not exist."""
        ref = self.repo.references.get(f"refs/heads/{branch}")
        return None if ref is None else str(ref.resolve().target)

    def record_push(self, branch: str, sha: str) -> None:
        """Mirror a successful push locally, so reads before the next fetch see it."""
        self.repo.references.create(f"refs/heads/{branch}", pygit2.Oid(hex=sha), force=True)


def _split_userinfo(url: str, creds: credentials.Credentials) -> tuple[str, credentials.Credentials]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, creds
    userinfo = parts.netloc.rsplit("@", 1)[0]
    user, has_password, password = userinfo.partition(":")
    if creds == credentials.ANONYMOUS and has_password:
        creds = credentials.Credentials(username=unquote(user), password=unquote(password))
    return redact.without_userinfo(url), creds


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
