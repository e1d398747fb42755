"""Same commit in, byte-identical manifests out: across runs, clones, paths and environments."""

from __future__ import annotations

import subprocess
from pathlib import Path

from k8sta_cmp import contract
from k8sta_cmp.kustomize import Kustomize

from .conftest import run_cmp


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_clones_at_different_paths_render_identical_bytes(branch: Path, tmp_path: Path, kustomize: Kustomize) -> None:
    git(branch, "init", "-q", "-b", "env/dev")
    git(branch, "add", "-A")
    git(branch, "-c", "user.name=k8sta", "-c", "user.email=k8sta@example.com", "commit", "-qm", "seal")
    outputs = []
    other_machine = {"TZ": "Asia/Tokyo", "LANG": "de_DE.UTF-8", "HOME": "/nonexistent",
                     "K8STA_KUSTOMIZE": str(kustomize.path)}
    for i, env in enumerate([{}, other_machine]):
        clone = tmp_path / f"clone-{i}" / ("deeper/" * i) / "checkout"
        clone.parent.mkdir(parents=True)
        git(tmp_path, "clone", "-q", "--branch", "env/dev", str(branch), str(clone))
        for _ in range(2):
            done = run_cmp(clone, env=env)
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout)
    assert len(set(outputs)) == 1
    assert contract.sha256_hex(outputs[0]) == contract.read_metadata(branch).rendered_sha256
