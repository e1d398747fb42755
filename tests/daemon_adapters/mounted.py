"""A directory laid out as the kubelet lays out a mounted Secret, and updated as the kubelet updates it.

Each key is a symlink ``<key> -> ..data/<key>``; ``..data`` points at a timestamped directory holding
the files. An update writes a new directory and swaps ``..data`` in one rename, so a reader sees the
old files or the new ones, never a mix (Kubernetes' ``AtomicWriter``).
"""

from __future__ import annotations

import os
from pathlib import Path


class MountedSecret:
    def __init__(self, directory: Path, data: dict[str, bytes]) -> None:
        self.directory = directory
        self.version = 0
        directory.mkdir(parents=True, exist_ok=True)
        self.update(data)

    def path(self, key: str) -> Path:
        return self.directory / key

    def update(self, data: dict[str, bytes]) -> None:
        """Replace every key's content (keys missing from ``data`` disappear), atomically."""
        self.version += 1
        version = self.directory / f"..v{self.version}"
        version.mkdir()
        for key, value in data.items():
            (version / key).write_bytes(value)
        staged = self.directory / "..data_tmp"
        os.symlink(version.name, staged)
        os.replace(staged, self.directory / "..data")
        for key in data:
            link = self.directory / key
            if not link.is_symlink():
                os.symlink(f"..data/{key}", link)
        for link in self.directory.iterdir():
            if not link.name.startswith("..") and link.name not in data:
                link.unlink()
