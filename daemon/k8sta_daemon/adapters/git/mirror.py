"""One cached bare mirror per repository URL: fetched (never re-cloned) each time it is used.

Callers (appbranch.py, the intake of source commits) read and write objects here and push from here;
its ``refs/heads/*`` mirror the remote's as of the last fetch. The remote URL is never stored in the
mirror's config (an anonymous remote is used for each fetch), so userinfo in a URL never lands on
disk, and one inter-process file lock serialises everything that uses one mirror.

Mirrors stay bounded: every fetch adds a pack and every app-branch commit adds loose objects, so
every ``GC_EVERY`` pushes to a mirror (counted per process) a background thread runs
``git gc --auto`` on it: off the push's path, and a no-op until git's thresholds (``gc.auto`` loose
objects, set to ``GC_AUTO_LOOSE`` in a new mirror's config; ``gc.autoPackLimit`` packs) are passed.
git's gc takes its own lock (``gc.pid``) and keeps unreachable objects younger than
``gc.pruneExpire`` (two weeks), so a concurrent commit that is not yet pushed is never pruned.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pygit2
from pygit2.enums import FetchPrune

from k8sta_daemon.adapters.git import credentials, errors, redact, transport

HEADS_REFSPEC = "+refs/heads/*:refs/heads/*"
GC_EVERY = 50  # pushes per mirror between two `git gc --auto` runs
# git's default gc.auto (6,700 loose objects) is ~1,000 app-branch commits of loose objects, each
# taking a file-system block: a mirror packs at a tenth of that.
GC_AUTO_LOOSE = 700
GC_TIMEOUT = 600.0
NETWORK_TIMEOUT = 120.0  # seconds a git CLI fetch or ls-remote may take (libgit2 has its own timeouts)
log = logging.getLogger("k8sta.git")
_pushes: dict[Path, int] = {}  # per mirror path, in this process
_gc_running: set[Path] = set()
_gc_lock = threading.Lock()
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
                repo.config["gc.auto"] = str(GC_AUTO_LOOSE)
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
        """Bring every branch of the remote here (pruning deleted ones); raise TransportFailed,
        CredentialsRefused, HostKeyRejected or CertificateRejected."""
        with self.lock():
            if transport.needs_cli(self.url, self.credentials):
                self._git_cli("fetching", ["fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head",
                                           self.url, HEADS_REFSPEC])
                return
            remote = self.repo.remotes.create_anonymous(self.url)
            try:
                remote.fetch([HEADS_REFSPEC], callbacks=credentials.remote_callbacks(self.credentials, self.url),
                             prune=FetchPrune.PRUNE, proxy=True)
            except errors.GitError as exc:
                raise type(exc)(self.redact(str(exc))) from None
            except (pygit2.GitError, OSError) as exc:
                raise transport.failure("fetching", self.url, self.shown_url, self.redact(_one_line(exc))) from None

    def ls_remote(self, branch: str) -> str | None:
        """What ``branch`` points at on the remote now (``git ls-remote``: no objects are fetched), or None
        when the remote has no such branch; raise TransportFailed (or a trust or credentials error)."""
        wanted = f"refs/heads/{branch}"
        if transport.needs_cli(self.url, self.credentials):
            out = self._git_cli("listing", ["ls-remote", "--heads", self.url, wanted])
            return next((line.split("\t")[0] for line in out.splitlines() if line.endswith(f"\t{wanted}")), None)
        remote = self.repo.remotes.create_anonymous(self.url)
        try:
            heads = remote.list_heads(callbacks=credentials.remote_callbacks(self.credentials, self.url), proxy=True)
        except errors.GitError as exc:
            raise type(exc)(self.redact(str(exc))) from None
        except (pygit2.GitError, OSError) as exc:
            raise transport.failure("listing", self.url, self.shown_url, self.redact(_one_line(exc))) from None
        return next((str(head.oid) for head in heads if head.name == wanted), None)

    def _git_cli(self, what: str, args: list[str]) -> str:
        """Run ``git <args>`` on this mirror with the repository's credentials and trust; its stdout."""
        with credentials.cli_auth(self.credentials, self.url) as auth:
            try:
                done = subprocess.run(["git", *auth.config, "--git-dir", str(self.path), *args], capture_output=True,
                                      env=auth.env, timeout=NETWORK_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise errors.TransportFailed(f"{what} {self.shown_url} did not finish within "
                                             f"{NETWORK_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            raise transport.failure(what, self.url, self.shown_url, self.redact(done.stderr.decode(errors="replace")))
        return done.stdout.decode(errors="replace")

    def branch_head(self, branch: str) -> str | None:
        """The commit ``branch`` points at as of the last fetch, or None if it does not exist."""
        ref = self.repo.references.get(f"refs/heads/{branch}")
        return None if ref is None else str(ref.resolve().target)

    def record_push(self, branch: str, sha: str) -> None:
        """Mirror a successful push locally, so reads before the next fetch see it."""
        self.repo.references.create(f"refs/heads/{branch}", pygit2.Oid(hex=sha), force=True)

    def pushed(self, every: int = GC_EVERY) -> threading.Thread | None:
        """Count one push; every ``every`` pushes start ``collect_garbage`` in a background thread
        (returned, for tests), unless one is still running on this mirror."""
        with _gc_lock:
            count = _pushes[self.path] = _pushes.get(self.path, 0) + 1
            if count % every or self.path in _gc_running:
                return None
            _gc_running.add(self.path)

        def run() -> None:
            try:
                self.collect_garbage()
            except Exception as exc:  # best effort: a failed gc never takes the daemon down
                log.warning("git gc --auto on the mirror of %s failed: %s", self.shown_url, exc)
            finally:
                with _gc_lock:
                    _gc_running.discard(self.path)

        thread = threading.Thread(target=run, name=f"gc-{self.path.stem[:8]}", daemon=True)
        thread.start()
        return thread

    def collect_garbage(self, timeout: float = GC_TIMEOUT) -> None:
        """``git gc --auto`` in the foreground of the calling thread (it repacks only past git's
        thresholds); GitError if git fails."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.path), "LANG": "C", "LC_ALL": "C",
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0"}
        done = subprocess.run(["git", "--git-dir", str(self.path), "-c", "gc.autoDetach=false", "gc", "--auto",
                               "--quiet"], capture_output=True, env=env, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            stderr = " ".join(done.stderr.decode(errors="replace").split())
            raise errors.GitError(f"git gc --auto in {self.path} failed: {self.redact(stderr)}")


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
