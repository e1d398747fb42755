"""Refuse inputs that would make a render reach the network, run user code or read outside the checkout.

Runs before kustomize starts, on the checked-out app branch (the plugin starts kustomize only once these
checks passed, or once the signed tree is proven to be one the daemon checked). Every path of every
kustomization the render reads is checked against kustomize's own idea of a remote (remote.py), so a
git or HTTP remote is refused here, naming the file, the field and the value, instead of being left
to kustomize's sandbox (no PATH, so no git; proxies on a closed port, which Go ignores for loopback).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from k8sta_cmp import errors, inputs, remote

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
BUILTIN_PLUGIN_KINDS = frozenset({
    "AnnotationsTransformer", "ConfigMapGenerator", "HashTransformer", "IAMPolicyGenerator",
    "ImageTagTransformer", "LabelTransformer", "NamespaceTransformer", "PatchJson6902Transformer",
    "PatchStrategicMergeTransformer", "PatchTransformer", "PrefixSuffixTransformer", "PrefixTransformer",
    "ReplacementTransformer", "ReplicaCountTransformer", "SecretGenerator", "SortOrderTransformer",
    "SuffixTransformer", "ValueAddTransformer",
})
FUNCTION_ANNOTATIONS = ("config.kubernetes.io/function", "config.k8s.io/function")
REFUSED_FIELDS = {
    "helmCharts": "helm chart inflation",
    "helmChartInflationGenerator": "helm chart inflation",
    "helmGlobals": "helm chart inflation",
}
# Generator fields kustomize loads as files (so, through its loader, also as URLs).
_PLUGIN_FILE_LISTS = ("files", "envs")


class Limits(NamedTuple):
    """Caps on what one render may read; set by the operator on the sidecar, not by Applications."""

    max_bytes: int = inputs.DEFAULT_MAX_BYTES
    max_files: int = inputs.DEFAULT_MAX_FILES

    @classmethod
    def from_environ(cls, environ: dict[str, str]) -> Limits:
        return cls(*inputs.limits(environ))




def check_tree(root: Path, limits: Limits) -> None:
    """Refuse symlinks that leave the checkout, and trees over the size or file-count cap."""
    root_real = os.path.realpath(root)
    total = files = 0
    for dirpath, dirnames, filenames in os.walk(root_real):
        if ".git" in dirnames and dirpath == root_real:
            dirnames.remove(".git")
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not _inside(target, root_real):
                    rel = os.path.relpath(full, root_real)
                    raise errors.RefusedInput(f"refused: symlink {rel} points outside the checkout")
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                continue
            files += 1
            total += os.lstat(full).st_size
            if files > limits.max_files:
                raise errors.RefusedInput(inputs.too_many(limits.max_files))
            if total > limits.max_bytes:
                raise errors.RefusedInput(inputs.too_large(limits.max_bytes))


def check_kustomizations(root: Path, entry: str) -> None:
    """Walk every kustomization reachable from ``entry`` and refuse remote or executable inputs."""
    _Walker(Path(os.path.realpath(root))).visit_dir(entry, "metadata kustomization")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


class _Walker:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: set[Path] = set()

    # -- path resolution --------------------------------------------------------------------------

    def _resolve(self, base: Path, value: str, where: str) -> Path:
        if not isinstance(value, str) or not value:
            raise errors.RefusedInput(f"refused: {where}: expected a path, got {value!r}")
        form = remote.remote_form(value)
        if form is not None:
            raise errors.RefusedInput(f"refused: {where}: remote input {value!r} ({form}; the plugin "
                                      "never reaches the network)")
        if os.path.isabs(value):
            raise errors.RefusedInput(f"refused: {where}: absolute path {value!r}")
        target = Path(os.path.realpath(base / value))
        if not _inside(str(target), str(self.root)):
            raise errors.RefusedInput(f"refused: {where}: path {value!r} escapes the checkout")
        return target

    def _rel(self, path: Path) -> str:
        return os.path.relpath(path, self.root)

    # -- kustomizations ---------------------------------------------------------------------------

    def visit_dir(self, value: str, where: str, base: Path | None = None) -> None:
        directory = self._resolve(base or self.root, value, where)
        if not directory.is_dir():
            raise errors.RefusedInput(f"refused: {where}: {value!r} is not a directory in the checkout "
                                      "(remote bases are refused)")
        self._visit_kustomization(directory, where)

    def _visit_kustomization(self, directory: Path, where: str) -> None:
        if directory in self.seen:
            return
        self.seen.add(directory)
        found = [directory / n for n in KUSTOMIZATION_NAMES if (directory / n).is_file()]
        if not found:
            raise errors.RefusedInput(f"refused: {where}: {self._rel(directory)}/ has no kustomization file")
        if len(found) > 1:
            raise errors.RefusedInput(f"refused: {self._rel(directory)}/ has more than one kustomization file")
        kfile = found[0]
        label = self._rel(kfile)
        doc = _load_one(kfile, label)
        if doc is None:
            return
        if not isinstance(doc, dict):
            raise errors.RefusedInput(f"refused: {label}: not a kustomization mapping")
        for key, what in REFUSED_FIELDS.items():
            if key in doc:
                raise errors.RefusedInput(f"refused: {label}: {key} ({what} can fetch charts)")
        for key in ("resources", "bases", "components"):
            for i, value in enumerate(_as_list(doc.get(key), f"{label}: {key}")):
                field = f"{label}: {key}[{i}]"
                target = self._resolve(directory, value, field)
                if target.is_dir():
                    self._visit_kustomization(target, field)
                elif not target.is_file():
                    raise errors.RefusedInput(f"refused: {field}: {value!r} not found in the checkout "
                                              "(remote resources are refused)")
        for key in ("crds", "configurations"):
            for i, value in enumerate(_as_list(doc.get(key), f"{label}: {key}")):
                self._file(directory, value, f"{label}: {key}[{i}]")
        openapi = doc.get("openapi")
        if isinstance(openapi, dict) and "path" in openapi:
            self._file(directory, openapi["path"], f"{label}: openapi.path")
        for key in ("patches", "patchesJson6902", "replacements"):
            for i, item in enumerate(_as_list(doc.get(key), f"{label}: {key}")):
                if isinstance(item, dict) and "path" in item:
                    self._file(directory, item["path"], f"{label}: {key}[{i}].path")
        for i, item in enumerate(_as_list(doc.get("patchesStrategicMerge"), f"{label}: patchesStrategicMerge")):
            self._patch_or_file(directory, item, f"{label}: patchesStrategicMerge[{i}]")
        for key in ("configMapGenerator", "secretGenerator"):
            for i, gen in enumerate(_as_list(doc.get(key), f"{label}: {key}")):
                if isinstance(gen, dict):
                    self._generator_sources(directory, gen, f"{label}: {key}[{i}]")
        for key in ("generators", "transformers", "validators"):
            for i, item in enumerate(_as_list(doc.get(key), f"{label}: {key}")):
                self._plugin_config(directory, item, f"{label}: {key}[{i}]")

    def _patch_or_file(self, base: Path, item: Any, where: str) -> None:
        """A strategic-merge patch entry: inline YAML (left alone) or a file path (checked)."""
        if isinstance(item, str) and "\n" not in item and not item.lstrip().startswith("{") and ": " not in item:
            self._file(base, item, where)

    def _generator_sources(self, base: Path, gen: dict[Any, Any], where: str) -> None:
        """configMapGenerator/secretGenerator (and their builtin plugin configs): files, envs, env."""
        for fkey in _PLUGIN_FILE_LISTS:
            for j, value in enumerate(_as_list(gen.get(fkey), f"{where}.{fkey}")):
                path = value.split("=", 1)[-1] if isinstance(value, str) else value
                self._file(base, path, f"{where}.{fkey}[{j}]")
        if "env" in gen:
            self._file(base, gen["env"], f"{where}.env")

    def _file(self, base: Path, value: Any, where: str) -> Path:
        target = self._resolve(base, value, where)
        if not target.is_file():
            raise errors.RefusedInput(f"refused: {where}: {value!r} is not a file in the checkout")
        return target

    def _plugin_config(self, base: Path, item: Any, where: str) -> None:
        """Generators/transformers/validators: only kustomize's builtin plugins, never functions."""
        if isinstance(item, str) and "\n" not in item:
            target = self._resolve(base, item, where)
            if target.is_dir():
                raise errors.RefusedInput(f"refused: {where}: plugin configuration directories are not "
                                          "allowed (only builtin plugin configs in files or inline)")
            if not target.is_file():
                raise errors.RefusedInput(f"refused: {where}: {item!r} not found in the checkout")
            docs = list(_load_all(target, self._rel(target)))
        else:
            try:
                docs = list(yaml.load_all(item, Loader=_Loader)) if isinstance(item, str) else [item]
            except yaml.YAMLError:
                raise errors.RefusedInput(f"refused: {where}: inline plugin config is not valid YAML") from None
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise errors.RefusedInput(f"refused: {where}: plugin config is not a mapping")
            annotations = (doc.get("metadata") or {}).get("annotations") or {}
            if isinstance(annotations, dict) and any(a in annotations for a in FUNCTION_ANNOTATIONS):
                raise errors.RefusedInput(f"refused: {where}: KRM function (exec/container plugins run "
                                          "user code)")
            kind, api = doc.get("kind"), doc.get("apiVersion")
            if api != "builtin" or kind not in BUILTIN_PLUGIN_KINDS:
                raise errors.RefusedInput(f"refused: {where}: plugin {api}/{kind} is not a kustomize "
                                          "builtin (external plugins run user code)")
            self._plugin_files(base, doc, f"{where} ({kind})")

    def _plugin_files(self, base: Path, doc: dict[Any, Any], where: str) -> None:
        """The fields a builtin plugin config loads as files: local files in the checkout only."""
        if isinstance(doc.get("path"), str):
            self._file(base, doc["path"], f"{where}.path")
        for j, item in enumerate(_as_list(doc.get("paths"), f"{where}.paths")):
            self._patch_or_file(base, item, f"{where}.paths[{j}]")
        for j, item in enumerate(_as_list(doc.get("replacements"), f"{where}.replacements")):
            if isinstance(item, dict) and "path" in item:
                self._file(base, item["path"], f"{where}.replacements[{j}].path")
        self._generator_sources(base, doc, where)


def _as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.RefusedInput(f"refused: {where}: expected a list")
    return value


def _read(path: Path, label: str) -> bytes:
    with path.open("rb") as handle:
        return handle.read()


def _load_one(path: Path, label: str) -> Any:
    try:
        return yaml.load(_read(path, label), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise errors.RenderError(f"{label}: not valid YAML ({' '.join(str(exc).split())})") from None


def _load_all(path: Path, label: str) -> Iterator[Any]:
    try:
        yield from yaml.load_all(_read(path, label), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise errors.RenderError(f"{label}: not valid YAML ({' '.join(str(exc).split())})") from None


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
