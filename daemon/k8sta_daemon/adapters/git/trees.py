"""Assemble app-branch trees in the object database, and materialise a tree for the renderer.

No work tree and no index: trees are built with TreeBuilder, so what is committed is exactly the
inputs plus the files K8sTA adds, whatever else lies around on disk. Used by appbranch.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

from k8sta_daemon.adapters.git import errors

RESERVED_DIR = ".k8sta"


def split(path: str) -> list[str]:
    """``a/b/c`` as its components; refuses empty, absolute and dot components."""
    parts = path.strip("/").split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise errors.InvalidRequest(f"{path!r} is not a relative path inside a repository")
    return parts


def entry(tree: pygit2.Tree, path: str) -> pygit2.Object | None:
    """The object at ``path`` inside ``tree``, or None."""
    try:
        return tree[path]
    except KeyError:
        return None


def set_path(repo: pygit2.Repository, tree: pygit2.Tree | None, parts: list[str],
             value: tuple[pygit2.Oid, int] | None) -> pygit2.Oid | None:
    """A copy of ``tree`` with ``parts`` set to ``(oid, filemode)`` or removed (None).

    Returns None when the result is an empty tree below the root, so no empty directories remain.
    """
    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    head, rest = parts[0], parts[1:]
    if not rest:
        if value is None:
            if builder.get(head) is not None:
                builder.remove(head)
        else:
            builder.insert(head, value[0], value[1])
    else:
        current = builder.get(head)
        child = repo[current.id] if current is not None and current.filemode == FileMode.TREE else None
        new_child = set_path(repo, child, rest, value)  # type: ignore[arg-type]
        if current is not None:
            builder.remove(head)
        if new_child is not None:
            builder.insert(head, new_child, FileMode.TREE)
    if len(builder) == 0:
        return None
    return builder.write()


def input_tree(repo: pygit2.Repository, config: pygit2.Tree, overlay: pygit2.Tree, overlay_dir: str,
               overlays_root: str = "env") -> pygit2.Oid:
    """Shared config (``config`` without ``overlays_root/``) plus ``overlay`` at ``overlay_dir``."""
    if entry(config, RESERVED_DIR) is not None:
        raise errors.RenderFailed(f"the source branch contains {RESERVED_DIR}/, which is reserved for "
                                  "K8sTA's own files on app branches; move it elsewhere")
    shared = set_path(repo, config, [overlays_root], None)
    base = repo[shared] if shared is not None else None
    result = set_path(repo, base, split(overlay_dir), (overlay.id, FileMode.TREE))  # type: ignore[arg-type]
    assert result is not None
    return result


def with_files(repo: pygit2.Repository, tree_id: pygit2.Oid, files: Mapping[str, bytes]) -> pygit2.Oid:
    """``tree_id`` plus regular files at the given paths (replacing what was there)."""
    current: pygit2.Oid | None = tree_id
    for path, data in sorted(files.items()):
        blob = repo.create_blob(data)
        current = set_path(repo, repo[current] if current else None,  # type: ignore[arg-type]
                           split(path), (blob, FileMode.BLOB))
    assert current is not None
    return current


def materialise(repo: pygit2.Repository, tree: pygit2.Tree, dest: Path, _prefix: str = "") -> None:
    """Write ``tree`` under ``dest`` as git would check it out (without filters such as eol)."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in tree:
        target = dest / item.name
        if item.filemode == FileMode.TREE:
            materialise(repo, repo[item.id], target, f"{_prefix}{item.name}/")  # type: ignore[arg-type]
        elif item.filemode == FileMode.LINK:
            os.symlink(repo[item.id].data, target)  # type: ignore[attr-defined]
        elif item.filemode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE):
            target.write_bytes(repo[item.id].data)  # type: ignore[attr-defined]
            if item.filemode == FileMode.BLOB_EXECUTABLE:
                target.chmod(0o755)
        else:
            raise errors.RenderFailed(f"{_prefix}{item.name}: git submodules are not supported in K8sTA "
                                      "inputs (an app branch must hold everything its render needs)")
