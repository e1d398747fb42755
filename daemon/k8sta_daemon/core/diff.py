"""What a promotion would change: two versions of a Station compared, purely (``k8sta diff``, the board).

Callers: ``ops.diff`` reads both ends (snapshots, the rendered manifests of each app branch commit or of
the plugin's own render, the shared-config commits in between) and hands them here; the CLI and the
board show the ``Diff`` this returns (as ``to_json``, one shape for both).

The rules:

- **Image pins** are matched by repository: added, removed, or changed (tag or digest) from old to new.
- **Shared config**: the commits the new config commit has that the old lacks (``ahead``) and, for a
  step back such as a rollback, the ones it drops (``behind``); the caller lists them from git.
- **Rendered objects** are keyed by API group, kind, namespace and name (rendered manifests carry no
  namespace unless the overlay sets one, so two Stations' renders compare). A name that differs only by
  kustomize's generated hash suffix (``shared-5g2k7mc9tb``) is the same object changed, not one removed
  and one added. A changed object gets a unified diff of its YAML (keys sorted, stable).
- **Secrets are never shown.** A Secret's ``data``/``stringData`` values are replaced before anything is
  compared or printed; what changed there is named by its keys only ("data changed (keys: ...)"). This
  holds for the JSON form too, which is made from the same values.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from k8sta_daemon.core import model

HIDDEN = "(hidden)"  # what a Secret value is replaced with before any comparison or output
SECRET_FIELDS = ("data", "stringData")
_GENERATED = re.compile(r"^(?P<base>.+)-[a-z0-9]{10}$")  # kustomize's content-hash suffix


class Change(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class ConfigCommit:
    """One shared-config commit between the two ends, as ``git log`` shows it."""

    sha: str
    subject: str
    author: str
    time: float


@dataclass(frozen=True)
class Side:
    """One end of the comparison: what it is called, its snapshot, and its rendered manifests (one YAML
    stream per Application; empty: nothing rendered, e.g. nothing ran before)."""

    label: str
    snapshot: model.Snapshot
    rendered: tuple[str, ...] = field(default=(), repr=False)  # may hold a Secret's values: never shown


@dataclass(frozen=True)
class ObjectKey:
    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


@dataclass(frozen=True)
class ImageChange:
    name: str
    change: Change
    old: model.ImagePin | None
    new: model.ImagePin | None


@dataclass(frozen=True)
class ConfigChange:
    old: str | None
    new: str | None
    ahead: tuple[ConfigCommit, ...] = ()
    behind: tuple[ConfigCommit, ...] = ()


@dataclass(frozen=True)
class ObjectChange:
    """One rendered object that differs. ``old_name``: its name before, when only kustomize's hash suffix
    changed; ``diff``: a unified diff (changed objects; a Secret's values replaced); ``secret_keys``: the
    keys of a Secret's data/stringData whose values differ (None: not a Secret)."""

    key: ObjectKey
    change: Change
    old_name: str | None = None
    diff: str = ""
    secret_keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Diff:
    """The comparison; ``old``/``new`` keep each end's label and snapshot, not its rendered text."""

    old: Side
    new: Side
    images: tuple[ImageChange, ...]
    config: ConfigChange
    objects: tuple[ObjectChange, ...]

    @property
    def empty(self) -> bool:
        return not self.images and self.config.old == self.config.new and not self.objects


class UnreadableManifests(ValueError):
    """A rendered stream that does not parse as YAML objects (names which end)."""


def compute(old: Side, new: Side, *, ahead: Sequence[ConfigCommit] = (),
            behind: Sequence[ConfigCommit] = ()) -> Diff:
    """What changes from ``old`` to ``new`` (``ahead``/``behind``: config commits, newest first)."""
    return Diff(old=Side(old.label, old.snapshot), new=Side(new.label, new.snapshot),
                images=image_changes(old.snapshot.images, new.snapshot.images),
                config=ConfigChange(old.snapshot.config_commit, new.snapshot.config_commit, tuple(ahead),
                                    tuple(behind)),
                objects=object_changes(_objects(old), _objects(new), old.label, new.label))


def image_changes(old: Iterable[model.ImagePin], new: Iterable[model.ImagePin]) -> tuple[ImageChange, ...]:
    before = {p.name: p for p in old}
    after = {p.name: p for p in new}
    out = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        change = Change.ADDED if was is None else Change.REMOVED if now is None else Change.CHANGED
        out.append(ImageChange(name, change, was, now))
    return tuple(out)


def _objects(side: Side) -> dict[ObjectKey, dict[str, Any]]:
    found: dict[ObjectKey, dict[str, Any]] = {}
    for text in side.rendered:
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise UnreadableManifests(f"the rendered manifests of {side.label} are not YAML: "
                                      f"{' '.join(str(exc).split())}") from None
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, Mapping):
                raise UnreadableManifests(f"the rendered manifests of {side.label} hold a {type(doc).__name__}, "
                                          "not an object")
            key = key_of(doc)
            base, n = key, 1
            while key in found:  # the same object from two Applications (other destinations): keep both
                n += 1
                key = ObjectKey(base.group, base.kind, base.namespace, f"{base.name} ({n})")
            found[key] = hide_secret(doc)
    return found


def key_of(doc: Mapping[str, Any]) -> ObjectKey:
    api_version = str(doc.get("apiVersion") or "")
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), Mapping) else {}
    return ObjectKey(group=api_version.rpartition("/")[0], kind=str(doc.get("kind") or "?"),
                     namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or "?"))


def is_secret(doc: Mapping[str, Any]) -> bool:
    return doc.get("kind") == "Secret" and str(doc.get("apiVersion") or "") == "v1"


def hide_secret(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with every Secret value replaced by a fingerprint-free placeholder, and the values kept
    apart only as a private mapping for comparison (``_values``), never shown."""
    if not is_secret(doc):
        return dict(doc)
    shown = dict(doc)
    values: dict[str, Any] = {}
    for name in SECRET_FIELDS:
        entries = doc.get(name)
        if isinstance(entries, Mapping):
            shown[name] = {str(k): HIDDEN for k in entries}
            values.update({f"{name}.{k}": v for k, v in entries.items()})
        elif entries is not None:
            shown[name] = HIDDEN
            values[name] = entries
    shown[_VALUES] = values
    return shown


_VALUES = "\x00values"  # where hide_secret keeps the values for comparison; stripped before any output


def object_changes(old: Mapping[ObjectKey, dict[str, Any]], new: Mapping[ObjectKey, dict[str, Any]],
                   old_label: str = "old", new_label: str = "new") -> tuple[ObjectChange, ...]:
    removed = [k for k in old if k not in new]
    added = [k for k in new if k not in old]
    renamed = _renamed(removed, added)
    out: list[ObjectChange] = []
    for key in sorted(new.keys() | old.keys(), key=_order):
        if key in renamed.values():
            continue  # shown under its new name
        if key in renamed:
            before = renamed[key]
            change = _changed(key, old[before], new[key], old_label, new_label, old_name=before.name)
            if change is not None:
                out.append(change)
        elif key not in old:
            out.append(ObjectChange(key, Change.ADDED, secret_keys=_keys(new[key]) if is_secret(new[key]) else None))
        elif key not in new:
            out.append(ObjectChange(key, Change.REMOVED, secret_keys=_keys(old[key]) if is_secret(old[key]) else None))
        else:
            change = _changed(key, old[key], new[key], old_label, new_label)
            if change is not None:
                out.append(change)
    return tuple(out)


def _order(key: ObjectKey) -> tuple[str, str, str, str]:
    return (key.kind, key.group, key.namespace, key.name)


def _renamed(removed: Sequence[ObjectKey], added: Sequence[ObjectKey]) -> dict[ObjectKey, ObjectKey]:
    """new key -> old key, for objects whose names differ only by kustomize's hash suffix (one each)."""
    def bases(keys: Sequence[ObjectKey]) -> dict[tuple[str, str, str, str], list[ObjectKey]]:
        out: dict[tuple[str, str, str, str], list[ObjectKey]] = {}
        for key in keys:
            match = _GENERATED.match(key.name)
            if match:
                out.setdefault((key.group, key.kind, key.namespace, match["base"]), []).append(key)
        return out

    gone, came = bases(removed), bases(added)
    return {came[b][0]: gone[b][0] for b in gone.keys() & came.keys() if len(gone[b]) == 1 and len(came[b]) == 1}


def _keys(doc: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(doc.get(_VALUES, {})))


def _changed(key: ObjectKey, old: dict[str, Any], new: dict[str, Any], old_label: str, new_label: str,
             old_name: str | None = None) -> ObjectChange | None:
    secret_keys = None
    if is_secret(old) or is_secret(new):
        before, after = old.get(_VALUES, {}), new.get(_VALUES, {})
        secret_keys = tuple(sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)))
    text = unified(_shown(old), _shown(new), f"{old_label}: {key}", f"{new_label}: {key}", old_name is not None)
    if not text and not secret_keys and old_name is None:
        return None
    return ObjectChange(key, Change.CHANGED, old_name=old_name, diff=text, secret_keys=secret_keys)


def _shown(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != _VALUES}


def unified(old: Mapping[str, Any], new: Mapping[str, Any], old_label: str, new_label: str,
            ignore_name: bool = False) -> str:
    """The unified diff of two objects' YAML (keys sorted); "" when they are the same."""
    if ignore_name:  # the rename is shown on its own line; the diff shows what else changed
        old = {**old, "metadata": {**(old.get("metadata") or {}), "name": "..."}}
        new = {**new, "metadata": {**(new.get("metadata") or {}), "name": "..."}}
    a = yaml.safe_dump(old, sort_keys=True).splitlines(keepends=True)
    b = yaml.safe_dump(new, sort_keys=True).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, old_label, new_label, n=3))


# -- the diff as data --------------------------------------------------------------------------


def _pin(pin: model.ImagePin | None) -> dict[str, Any] | None:
    return None if pin is None else {"name": pin.name, "tag": pin.tag, "digest": pin.digest}


def _commit(commit: ConfigCommit, iso: Callable[[float], str | None]) -> dict[str, Any]:
    return {"sha": commit.sha, "subject": commit.subject, "author": commit.author, "time": iso(commit.time)}


def to_json(diff: Diff, iso: Callable[[float], str | None]) -> dict[str, Any]:
    """The whole diff as data (``iso``: seconds -> RFC 3339, the caller's formatter). Made from the values
    ``compute`` kept, so a Secret's values are absent here too."""
    def side(s: Side) -> dict[str, Any]:
        return {"label": s.label, "snapshot": {"configCommit": s.snapshot.config_commit,
                                               "images": [_pin(p) for p in s.snapshot.images]}}

    return {
        "old": side(diff.old),
        "new": side(diff.new),
        "empty": diff.empty,
        "images": [{"name": c.name, "change": c.change.value, "old": _pin(c.old), "new": _pin(c.new)}
                   for c in diff.images],
        "config": {"old": diff.config.old, "new": diff.config.new,
                   "ahead": [_commit(c, iso) for c in diff.config.ahead],
                   "behind": [_commit(c, iso) for c in diff.config.behind]},
        "objects": [{"object": str(c.key), "kind": c.key.kind, "name": c.key.name, "namespace": c.key.namespace,
                     "change": c.change.value, "oldName": c.old_name, "diff": c.diff,
                     "secretKeys": list(c.secret_keys) if c.secret_keys is not None else None}
                    for c in diff.objects],
    }
