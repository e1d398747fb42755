"""Secrets in mounted files, re-read when they change, so rotating one needs no restart.

Callers: ``settings`` (the Argo CD token, the input key) and the web part's settings (webhook secrets).
The kubelet updates a mounted Secret within about a minute by pointing a symlink at a new directory.
Every use stats the file (a few microseconds) and reads it again only when what the stat shows (device,
inode, size, modification and change times) differs from the last read. New content that cannot be used
(unreadable, malformed) is refused: the last good value stays in use, and one error names the file and
the cause, never the content. So a bad edit of a Secret neither takes a running component down nor
silently turns signing off. A file that is removed counts as content: ``parse(None)`` says what that
means (no input key: nothing is signed; no webhook secrets: webhooks are off).
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Stamp = tuple[int, int, int, int, int] | None  # (device, inode, size, mtime_ns, ctime_ns); None: no file
MAX_BYTES = 1 << 20  # no mounted secret of ours is larger; a bigger file is refused, not read whole


class SecretFileError(Exception):
    """The file cannot be used: the message names what it is, its path and the cause (never its content)."""


class SecretFile(Generic[T]):
    """The parsed content of one mounted file, read at construction and again whenever the file changes.

    ``parse(content)`` gets the bytes, or None when the file does not exist (only with ``missing_ok``),
    and raises ``ValueError`` with the cause when they cannot be used. ``what`` names the file in errors.
    """

    def __init__(self, path: Path | str, parse: Callable[[bytes | None], T], *, what: str,
                 missing_ok: bool = True) -> None:
        self.path = Path(path)
        self.what = what
        self.missing_ok = missing_ok  # False: a missing file is an error, as an unreadable one
        self._parse = parse
        self._lock = threading.Lock()
        stamp = _stamp(self.path)
        self._value: T = self._read(stamp)  # at start, an unusable file is an error for the caller
        self._stamp: Stamp = stamp
        self._refused: Stamp = None

    def get(self) -> T:
        """The current value: the file's content if it changed and is usable, else the last good one."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return self._value
        with self._lock:
            if stamp == self._stamp or (stamp is not None and stamp == self._refused):
                return self._value
            try:
                value = self._read(stamp)
            except SecretFileError as exc:
                self._refused = stamp  # said once per version of the file, not on every use
                log.error("%s; keeping the previous one until the file changes again", exc)
                return self._value
            self._value, self._stamp, self._refused = value, stamp, None
            log.info("re-read %s from %s", self.what, self.path)
            return value

    def _read(self, stamp: Stamp) -> T:
        content: bytes | None = None
        if stamp is None and not self.missing_ok:
            raise SecretFileError(f"cannot read {self.what} {self.path}: {os.strerror(errno.ENOENT)}")
        if stamp is not None:
            try:
                with open(self.path, "rb") as handle:
                    content = handle.read(MAX_BYTES + 1)
            except FileNotFoundError:
                if not self.missing_ok:
                    raise SecretFileError(f"cannot read {self.what} {self.path}: {os.strerror(errno.ENOENT)}") from None
            except OSError as exc:
                raise SecretFileError(f"cannot read {self.what} {self.path}: {exc.strerror}") from None
            if content is not None and len(content) > MAX_BYTES:
                raise SecretFileError(f"{self.what} {self.path} is larger than {MAX_BYTES} bytes")
        try:
            return self._parse(content)
        except ValueError as exc:
            raise SecretFileError(f"{self.what} {self.path}: {exc}") from None


def _stamp(path: Path) -> Stamp:
    try:
        st = os.stat(path)  # follows the kubelet's symlinks to the current version
    except FileNotFoundError:
        return None
    except OSError:
        return (-1, -1, -1, -1, -1)  # unreadable: try to read, which names the cause
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
