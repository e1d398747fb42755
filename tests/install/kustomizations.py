"""Build every kustomization under ``kustomize/`` with the pinned kustomize, offline.

Callers: this package's fixtures. The tree is copied to a temporary directory first, where the only
remote resource we allow (Argo CD's release manifest at the pinned ``ARGOCD_VERSION``) is replaced by
the same file from the pinned Argo CD Go module; a Component, which cannot be built alone, is built
as a component of that Argo CD install (it patches Argo CD's repo-server), or of K8sTA's base with the
install's settings (``COMPONENTS_ON_THE_INSTALL``). kustomize runs with an
empty environment, so it could not reach the network even if a remote reference were left.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from k8sta_devstack import binaries

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_DIR = ROOT / "kustomize"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ARGOCD_RELEASE = re.compile(
    r"^https://raw\.githubusercontent\.com/argoproj/argo-cd/(?P<version>v[^/]+)/manifests/(?P<file>[\w.-]+\.yaml)$")

Obj = dict[str, Any]
# Components that change K8sTA's install (the others patch Argo CD's: built on its release manifest).
COMPONENTS_ON_THE_INSTALL = ("components/argocd-namespace",)


def versions() -> dict[str, str]:
    return binaries.read_versions()


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def discover() -> list[str]:
    """Every directory under kustomize/ holding a kustomization, relative to kustomize/, sorted."""
    found = {str(path.parent.relative_to(KUSTOMIZE_DIR)) for name in KUSTOMIZATION_FILES
             for path in KUSTOMIZE_DIR.rglob(name)}
    return sorted(found)


def kustomization(directory: Path) -> Obj:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return yaml.safe_load((directory / name).read_text()) or {}
    raise FileNotFoundError(f"no kustomization in {directory}")


def remote_resources(doc: Obj) -> list[str]:
    return [r for r in (*doc.get("resources", []), *doc.get("components", [])) if "://" in r or r.startswith("git@")]


@dataclass(frozen=True)
class Built:
    """One kustomization's output."""

    directory: str  # relative to kustomize/
    kind: str  # Kustomization or Component
    objects: tuple[Obj, ...]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str) -> Obj:
        matches = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(matches) == 1, f"{self.directory}: expected one {kind} {name}, found {len(matches)}"
        return matches[0]


class Builder:
    """A writable copy of kustomize/ whose Argo CD release references point at the pinned module."""

    def __init__(self, kustomize: Path, work: Path) -> None:
        self.kustomize = kustomize
        self.work = work
        self.tree = work / "kustomize"
        shutil.copytree(KUSTOMIZE_DIR, self.tree)
        self.argocd_manifests = binaries.argocd_module_dir(versions()["ARGOCD_VERSION"]) / "manifests"
        self._built: dict[str, Built] = {}
        for name in discover():
            self._localize(self.tree / name)

    def _upstream(self, file: str) -> Path:
        """A directory kustomization holding Argo CD's ``manifests/<file>`` (files outside a
        kustomization's root are refused by kustomize; directories are not)."""
        directory = self.work / "argocd-upstream" / file.removesuffix(".yaml")
        if not directory.exists():
            directory.mkdir(parents=True)
            shutil.copyfile(self.argocd_manifests / file, directory / file)
            (directory / "kustomization.yaml").write_text(yaml.safe_dump({"resources": [file]}))
        return directory

    def argocd_objects(self, file: str = "install.yaml") -> list[Obj]:
        """Argo CD's ``manifests/<file>`` at the pinned release, parsed."""
        return [doc for doc in yaml.safe_load_all((self.argocd_manifests / file).read_text()) if doc]

    def _localize(self, directory: Path) -> None:
        doc = kustomization(directory)
        remote = remote_resources(doc)
        if not remote:
            return
        pinned = versions()["ARGOCD_VERSION"]
        local = []
        for resource in doc.get("resources", []):
            match = ARGOCD_RELEASE.match(resource)
            if resource in remote:
                assert match, f"{directory.name}: remote resource {resource} is not Argo CD's release manifest"
                assert match["version"] == pinned, f"{directory.name}: Argo CD {match['version']}, pinned {pinned}"
                resource = os.path.relpath(self._upstream(match["file"]), directory)
            local.append(resource)
        doc["resources"] = local
        assert not remote_resources(doc), f"{directory.name}: remote components cannot be built offline"
        for name in KUSTOMIZATION_FILES:
            (directory / name).unlink(missing_ok=True)
        (directory / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))

    def build(self, name: str) -> Built:
        """``kustomize build`` of kustomize/<name> (once per builder)."""
        if name not in self._built:
            self._built[name] = self._build(name)
        return self._built[name]

    def _build(self, name: str) -> Built:
        directory = self.tree / name
        kind = kustomization(directory).get("kind", "Kustomization")
        target = directory
        if kind == "Component" and name in COMPONENTS_ON_THE_INSTALL:
            # A component of K8sTA's own install: built as kustomize/install uses it (base + settings.yaml).
            target = self.work / "components-on-install" / name
            target.mkdir(parents=True)
            shutil.copyfile(self.tree / "install" / "settings.yaml", target / "settings.yaml")
            (target / "kustomization.yaml").write_text(yaml.safe_dump({
                "resources": [os.path.relpath(self.tree / "base", target), "settings.yaml"],
                "components": [os.path.relpath(directory, target)],
            }))
        elif kind == "Component":
            target = self.work / "components-on-argocd" / name
            target.mkdir(parents=True)
            (target / "kustomization.yaml").write_text(yaml.safe_dump({
                "namespace": "argocd",
                "resources": [os.path.relpath(self._upstream("install.yaml"), target)],
                "components": [os.path.relpath(directory, target)],
            }))
        done = subprocess.run([str(self.kustomize), "build", str(target)], capture_output=True, text=True,
                              env={"HOME": str(self.work)}, timeout=120, check=False)
        assert done.returncode == 0, f"kustomize build {name} failed: {done.stderr}"
        objects = tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)
        return Built(directory=name, kind=kind, objects=objects)
