"""A stack that is stopped leaves no credentials behind: Argo CD's controller writes the kubeconfig of
each apply to /dev/shm (gitops-engine's ``TempDir``) and, stopped mid-apply, never deletes it."""

from __future__ import annotations

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
    removed = stack.remove_apply_kubeconfigs(OURS, shm=tmp_path)
    assert removed == [tmp_path / "3834977278"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1111", "a-dir", "libpod_lock"]


def test_no_shared_memory_directory_is_not_an_error(tmp_path: Path) -> None:
    assert stack.remove_apply_kubeconfigs(OURS, shm=tmp_path / "absent") == []
