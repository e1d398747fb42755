"""A stack that is stopped leaves nothing behind in /dev/shm: Argo CD's controller writes the kubeconfig and
the manifest of each apply there (gitops-engine's ``TempDir``) and, stopped mid-apply, never deletes them."""

from __future__ import annotations

import os
import time
from pathlib import Path

from k8sta_devstack import stack

OURS = "https://127.0.0.1:40353"


def kubeconfig(server: str) -> str:
    return (f"apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: AAAA\n    server: {server}\n"
            f"  name: {server}\nusers:\n- name: {server}\n  user:\n    client-key-data: BBBB\n")


def test_only_this_stacks_apply_kubeconfigs_are_removed(tmp_path: Path) -> None:
    (tmp_path / "3834977278").write_text(kubeconfig(OURS))
    (tmp_path / "1111").write_text(kubeconfig("https://127.0.0.1:4035"))  # another stack (a prefix of ours)
    (tmp_path / "libpod_lock").write_bytes(b"\0" * 128)  # podman's
    (tmp_path / "a-dir").mkdir()
    removed = stack.remove_apply_leftovers(OURS, shm=tmp_path)
    assert removed == [tmp_path / "3834977278"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1111", "a-dir", "libpod_lock"]


def test_no_shared_memory_directory_is_not_an_error(tmp_path: Path) -> None:
    assert stack.remove_apply_leftovers(OURS, shm=tmp_path / "absent") == []


def test_manifests_written_while_the_stack_ran_are_removed(tmp_path: Path) -> None:
    began = time.time()
    manifest = '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev-e55d86-ns"},"spec":{},"status":{}}'
    (tmp_path / "2050471575").write_text(manifest)  # an apply cut short while this stack ran
    (tmp_path / "4444").write_text(manifest)  # the same, from before this stack started
    os.utime(tmp_path / "4444", (began - 60, began - 60))
    (tmp_path / "5555").write_text('{"not": "a manifest"}')
    (tmp_path / "notdigits").write_text(manifest)
    removed = stack.remove_apply_leftovers(OURS, since=began, shm=tmp_path)
    assert removed == [tmp_path / "2050471575"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["4444", "5555", "notdigits"]
    (tmp_path / "6666").write_text(manifest)
    assert stack.remove_apply_leftovers(OURS, shm=tmp_path) == []  # without a start time: kubeconfigs only
