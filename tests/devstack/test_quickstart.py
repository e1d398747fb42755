"""The README's Quickstart as the real-node tests run it (``node/quickstart``): its steps, and the two
operator lines replaced; a README the runner cannot follow is refused naming what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sta_devstack.node import quickstart

APPLY = "kubectl apply --server-side --force-conflicts -k /tmp/argocd-overlay"


def test_the_readme_quickstart_is_cut_into_its_numbered_steps() -> None:
    found = quickstart.steps(quickstart.readme_block(quickstart.default_readme()), "mirror.test/k8sta", "dev", APPLY)
    assert [s.number for s in found] == [0, 1, 2, 3, 4]
    for step in found:  # every step sees the images' names, as one shell session would
        assert "REGISTRY=mirror.test/k8sta TAG=dev" in step.script.splitlines(), step
    commands = [line for line in found[2].script.splitlines() if not line.startswith("#")]
    assert APPLY in commands and not any("kustomize/argocd-patch" in line for line in commands)
    assert "kubectl apply --server-side -k kustomize/install" in found[1].script
    assert "k8sta-argocd-token" in found[4].script and "k8sta-input-key" in found[3].script


def _readme(tmp_path: Path, block: str) -> Path:
    path = tmp_path / "README.md"
    path.write_text(f"# x\n\n{quickstart.SECTION}\n\n```bash\n{block}```\n")
    return path


def test_a_quickstart_without_the_image_names_is_refused(tmp_path: Path) -> None:
    block = "# 1. install\nkubectl apply --server-side -k kustomize/install\n" \
            "# 2. sidecar\nkubectl apply --server-side -k kustomize/argocd-patch\n"
    with pytest.raises(quickstart.QuickstartError, match=r"REGISTRY=\.\.\. TAG=\.\.\."):
        quickstart.steps(quickstart.readme_block(_readme(tmp_path, block)), "r", "t", APPLY)


def test_a_readme_without_the_section_is_refused(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# nothing here\n")
    with pytest.raises(quickstart.QuickstartError, match="Quickstart on a real cluster"):
        quickstart.readme_block(tmp_path / "README.md")
