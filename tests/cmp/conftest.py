"""Fixtures for the plugin's tests: real app branches on disk, rendered by the real pinned kustomize."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from k8sta_cmp import contract, generate, inputs, render, safety
from k8sta_cmp.kustomize import Kustomize

# The console script plugin.yaml names, from the same environment as the tests.
CMP = [str(Path(sys.executable).parent / "k8sta-cmp")]
DIGEST = "sha256:" + "ab" * 32
IMAGES = (contract.ImagePin("ghcr.io/acme/api", "1.4.2", DIGEST), contract.ImagePin("ghcr.io/acme/worker", "7"))

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: main
        image: {image}
"""


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_inputs(root: Path) -> None:
    """A small config repo: shared base plus the dev overlay."""
    write(root, "base/api.yaml", DEPLOYMENT.format(name="api", image="ghcr.io/acme/api:latest"))
    write(root, "base/worker.yaml", DEPLOYMENT.format(name="worker", image="ghcr.io/acme/worker"))
    write(root, "base/kustomization.yaml", "resources:\n- api.yaml\n- worker.yaml\n")
    write(root, "env/dev/kustomization.yaml",
          "resources:\n- ../../base\nnamespace: dev\ncommonLabels:\n  stage: dev\n")


@pytest.fixture(scope="session")
def kustomize() -> Kustomize:
    return Kustomize.locate(dict(os.environ))


def seal(root: Path, kustomize: Kustomize, images: tuple[contract.ImagePin, ...] = IMAGES,
         kustomization: str = "env/dev", key: bytes | None = None, **overrides: object) -> contract.BranchMetadata:
    """Render the inputs under root and write the .k8sta files, as the daemon does (signed with ``key``)."""
    rendered = render.render(root, kustomization, images, kustomize, safety.Limits())
    entries = [e for e in inputs.tree_entries(str(root)) if not e[2].startswith(".k8sta/")]
    fields: dict[str, object] = dict(
        ticket=contract.ObjectRef("k8sta", "api-42"), track="main-line", station="dev",
        application=contract.ObjectRef("argocd", "dev"),
        source=contract.Source("main", "1" * 40, "2" * 40), kustomization=kustomization,
        images=images, renderer=generate.running_versions(kustomize), rendered_sha256=rendered.sha256,
    )
    fields.update(overrides)
    meta = contract.BranchMetadata(**fields)  # type: ignore[arg-type]
    for rel, data in contract.branch_files(meta, rendered.manifests, input_entries=entries, key=key).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return meta


@pytest.fixture
def branch(tmp_path: Path, kustomize: Kustomize) -> Path:
    """A valid, sealed app branch checkout."""
    root = tmp_path / "branch"
    write_inputs(root)
    seal(root, kustomize)
    return root


def run_cmp(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the plugin the way argocd-cmp-server does: working directory = the checkout."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "K8STA_STRICT"))}
    environ.update(env or {})
    return subprocess.run([*CMP, *(args or ("generate",))], cwd=root, env=environ, capture_output=True,
                          check=False, timeout=120)


RunCmp = Callable[..., subprocess.CompletedProcess[bytes]]
