"""``k8sta_devstack.node.images``: the index the node code reads, and the names the build script takes from it.
A missing or damaged index fails naming ``make node-images``; no images are built here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from k8sta_devstack.node import images


def write_index(cache: Path, shorts: tuple[str, ...] = images.SHORTS) -> Path:
    node = cache / "images" / "node"
    node.mkdir(parents=True)
    entries = []
    for n, short in enumerate(shorts):
        archive = node / f"{short}.oci.tar"
        archive.write_bytes(b"")
        entries.append({"short": short, "ref": f"{images.REGISTRY}/{short}:t", "archive": str(archive),
                        "input_hash": f"h{n}", "bytes": 0, "seconds": 0})
    index = images.index_path(cache)
    index.write_text(json.dumps({"images": list(reversed(entries))}))
    return index


def test_load_returns_every_image_in_a_fixed_order(tmp_path: Path) -> None:
    loaded = images.load(write_index(tmp_path))
    assert [i.short for i in loaded] == list(images.SHORTS)
    assert images.by_short(loaded, images.PAUSE).ref == f"{images.REGISTRY}/pause:t"
    assert images.argocd_ref("v3.6.2") == "registry.k8sta.test/argoproj/argocd:v3.6.2"


@pytest.mark.parametrize("damage,says", [
    ("absent", "no node image index at"),
    ("not json", "is damaged"),
    ("lacks pause", "lacks pause"),
    ("archive gone", "argocd.oci.tar of registry.k8sta.test/argocd:t is missing"),
])
def test_a_missing_or_damaged_index_names_the_cause_and_the_command(tmp_path: Path, damage: str, says: str) -> None:
    if damage == "absent":
        index = images.index_path(tmp_path)
    elif damage == "lacks pause":
        index = write_index(tmp_path, tuple(s for s in images.SHORTS if s != images.PAUSE))
    else:
        index = write_index(tmp_path)
        if damage == "not json":
            index.write_text("{")
        else:
            (index.parent / "argocd.oci.tar").unlink()
    with pytest.raises(images.NodeImagesMissing, match="run make node-images") as raised:
        images.load(index)
    assert says in str(raised.value)


def test_the_build_script_reads_the_same_names_with_a_bare_python() -> None:
    done = subprocess.run([sys.executable, "-I", images.__file__, "--shell"], capture_output=True, text=True,
                          check=True)
    names = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert names == {"K8STA_REGISTRY": images.REGISTRY, "ARGOCD_REPO": images.ARGOCD_REPO,
                     "REDIS_REPO": images.REDIS_REPO, "PAUSE_REPO": images.PAUSE_REPO,
                     "K8STA_REF": images.K8STA_REF, "K8STA_CMP_REF": images.K8STA_CMP_REF}
