"""Build the files of one app-branch commit the way the daemon will: inputs, render, metadata.

Test tooling: it uses the plugin's own renderer and contract (``k8sta_cmp.render``,
``k8sta_cmp.contract``), so what the tests push is exactly what the plugin must accept.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from k8sta_cmp import contract, generate, render, safety
from k8sta_cmp import inputs as k8sta_inputs
from k8sta_cmp.kustomize import Kustomize


def metadata(*, application: contract.ObjectRef, rendered_sha256: str, kustomization: str,
             source_commit: str, kustomize: Kustomize, images: Sequence[contract.ImagePin] = (),
             ticket: contract.ObjectRef | None = None, track: str = "devstack",
             station: str = "dev") -> contract.BranchMetadata:
    return contract.BranchMetadata(
        ticket=ticket or contract.ObjectRef(application.namespace, f"{application.name}-ticket"),
        track=track,
        station=station,
        application=application,
        source=contract.Source(branch="main", config_commit=source_commit, overlay_commit=source_commit),
        kustomization=kustomization,
        images=tuple(images),
        renderer=generate.running_versions(kustomize),
        rendered_sha256=rendered_sha256,
    )


def build(inputs: Mapping[str, bytes], *, application: contract.ObjectRef, kustomization: str,
          source_commit: str, kustomize: Kustomize, images: Sequence[contract.ImagePin] = (),
          key: bytes | None = None) -> dict[str, bytes]:
    """Render ``inputs`` with the pinned kustomize and return inputs + metadata + paper trail (and,
    with the input ``key``, the signed ``.k8sta/inputs`` of contract v3, as the daemon writes it)."""
    with tempfile.TemporaryDirectory(prefix="k8sta-appbranch-") as tmp:
        root = Path(tmp)
        for rel, content in inputs.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        rendered = render.render(root, kustomization, images, kustomize, safety.Limits())
    meta = metadata(application=application, rendered_sha256=rendered.sha256, kustomization=kustomization,
                    source_commit=source_commit, kustomize=kustomize, images=images)
    entries = [k8sta_inputs.entry("file", content, rel) for rel, content in inputs.items()]
    return {**inputs, **contract.branch_files(meta, rendered.manifests, input_entries=entries, key=key)}


def unrendered(inputs: Mapping[str, bytes], *, application: contract.ObjectRef, kustomization: str,
               source_commit: str, kustomize: Kustomize) -> dict[str, bytes]:
    """A branch whose inputs cannot be rendered (e.g. hostile ones): valid metadata, empty paper trail."""
    empty = b""
    meta = metadata(application=application, rendered_sha256=contract.sha256_hex(empty),
                    kustomization=kustomization, source_commit=source_commit, kustomize=kustomize)
    return {**inputs, **contract.branch_files(meta, empty)}
