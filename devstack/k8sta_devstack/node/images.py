"""The images a real node runs, by the names it knows them under, and where their archives are.

``toolchain/node-images.sh`` (``make node-images``) builds each image as an OCI archive that
``ctr -n k8s.io images import`` loads and lists them in ``$K8STA_CACHE/images/node/index.json``; the node
code reads that index with :func:`load`. The names are those an operator mirroring the images into an
air-gapped registry would give them: the script reads them from here (``python3 images.py --shell``), so
this module imports nothing beyond the standard library.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "registry.k8sta.test"
ARGOCD_REPO = f"{REGISTRY}/argoproj/argocd"  # tagged ARGOCD_VERSION (short argocd), ARGOCD_COMPAT_VERSION
REDIS_REPO = f"{REGISTRY}/library/redis"  # tagged with Debian's redis-server upstream version
PAUSE_REPO = f"{REGISTRY}/pause"  # tagged with the pause TAG of KUBERNETES_VERSION's build/pause
K8STA_REF = f"{REGISTRY}/k8sta/k8sta:dev"
K8STA_CMP_REF = f"{REGISTRY}/k8sta/k8sta-cmp:dev"

# The short names index.json uses, one archive each (<short>.oci.tar).
ARGOCD, ARGOCD_COMPAT, REDIS, PAUSE = "argocd", "argocd-compat", "redis", "pause"
K8STA, K8STA_CMP = "k8sta", "k8sta-cmp"
SHORTS = (ARGOCD, ARGOCD_COMPAT, REDIS, PAUSE, K8STA, K8STA_CMP)
BUILD_COMMAND = "make node-images"


class NodeImagesMissing(RuntimeError):
    """The archives are not built (or the index is damaged); the message names the command that builds them."""


@dataclass(frozen=True)
class NodeImage:
    """One archive: import it, then refer to the image by ``ref``."""

    short: str
    ref: str
    archive: Path
    input_hash: str


def index_path(cache: Path) -> Path:
    """Where ``toolchain/node-images.sh`` writes the index, under the project cache (``binaries.cache_dir()``)."""
    return cache / "images" / "node" / "index.json"


def load(index: Path) -> list[NodeImage]:
    """Every image of the index, each archive checked present, in SHORTS order."""
    try:
        entries = json.loads(index.read_text())["images"]
        images = {e["short"]: NodeImage(e["short"], e["ref"], Path(e["archive"]), e["input_hash"])
                  for e in entries}
    except FileNotFoundError:
        raise NodeImagesMissing(f"no node image index at {index}: run {BUILD_COMMAND}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise NodeImagesMissing(f"node image index {index} is damaged ({exc!r}): run {BUILD_COMMAND}") from None
    missing = [s for s in SHORTS if s not in images]
    if missing:
        raise NodeImagesMissing(f"node image index {index} lacks {', '.join(missing)}: run {BUILD_COMMAND}")
    for image in images.values():
        if not image.archive.is_file():
            raise NodeImagesMissing(f"archive {image.archive} of {image.ref} is missing: run {BUILD_COMMAND}")
    return [images[s] for s in SHORTS]


def argocd_ref(version: str) -> str:
    """Argo CD's reference in the node for that release (``binaries.read_versions()["ARGOCD_VERSION"]``)."""
    return f"{ARGOCD_REPO}:{version}"


def by_short(images: list[NodeImage], short: str) -> NodeImage:
    """The image of that short name (e.g. ``PAUSE``, for containerd's sandbox image)."""
    for image in images:
        if image.short == short:
            return image
    raise KeyError(f"no node image {short!r}; known: {', '.join(i.short for i in images)}")


def _shell() -> str:
    """The names as shell assignments, for toolchain/node-images.sh."""
    names = {"K8STA_REGISTRY": REGISTRY, "ARGOCD_REPO": ARGOCD_REPO, "REDIS_REPO": REDIS_REPO,
             "PAUSE_REPO": PAUSE_REPO, "K8STA_REF": K8STA_REF, "K8STA_CMP_REF": K8STA_CMP_REF}
    return "".join(f"{key}={value}\n" for key, value in names.items())


if __name__ == "__main__":
    if sys.argv[1:] != ["--shell"]:
        sys.exit("usage: images.py --shell")
    sys.stdout.write(_shell())
