"""Typed reads of nested mappings whose errors name the exact field: one mechanism for both readers.

Callers: ``contract`` (the plugin reading ``.k8sta/metadata.yaml``) and the daemon's ``core.codec``
(Tracks, Stations and Tickets read from Kubernetes). It lives here because the plugin imports nothing
from the daemon; it imports nothing heavy (it is on the plugin's hot path).

Every failure is ``error(f"{subject}: {path}: {problem}")``, e.g. ``.k8sta/metadata.yaml: images[0].tag:
must be a valid image tag`` or ``Ticket shop/api-1: spec.snapshot.configCommit: must be a full git
commit id, got 'abc'``. ``blank_is_missing`` makes ``""`` read as absent (Kubernetes' convention; the
contract, written only by K8sTA, keeps an empty string an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Pattern(Protocol):
    def match(self, value: str) -> object: ...


class Fields:
    """One mapping at ``path`` inside ``subject``; each read checks one field's type and shape."""

    __slots__ = ("blank_is_missing", "data", "error", "path", "root", "subject")

    def __init__(self, data: Any, subject: str, path: str = "", *, error: type[Exception],
                 root: str = "object", blank_is_missing: bool = True) -> None:
        if not isinstance(data, Mapping):
            raise error(f"{subject}: {path or root} must be a mapping")
        self.data: Mapping[str, Any] = data
        self.subject = subject
        self.path = path
        self.error = error
        self.root = root
        self.blank_is_missing = blank_is_missing

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> Exception:
        return self.error(f"{self.subject}: {self.at(key)}: {problem}")

    def _child(self, data: Any, path: str) -> Fields:
        return Fields(data, self.subject, path, error=self.error, root=self.root,
                      blank_is_missing=self.blank_is_missing)

    def nested(self, key: str, required: bool = False) -> Fields:
        """The mapping under ``key`` (an empty one when absent and not required)."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required")
            value = {}
        return self._child(value, self.at(key))

    def string(self, key: str, required: bool = False, pattern: Pattern | None = None, what: str = "") -> str | None:
        value = self.data.get(key)
        if value is None or (value == "" and self.blank_is_missing):
            if required:
                raise self.fail(key, "is required")
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {type(value).__name__}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, f"must be {what}, got {value!r}")
        return value

    def required(self, key: str, pattern: Pattern | None = None, what: str = "") -> str:
        value = self.string(key, True, pattern, what)
        if value is None:  # unreachable: string(required=True) raises instead
            raise self.fail(key, "is required")
        return value

    def boolean(self, key: str) -> bool:
        value = self.data.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def integer(self, key: str, minimum: int = 0, default: int | None = 0) -> int | None:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, f"must be an integer, got {value!r}")
        if value < minimum:
            raise self.fail(key, f"must be >= {minimum}, got {value}")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        result = []
        for index, item in enumerate(self.items(key)):
            if not isinstance(item, str) or not item:
                raise self.fail(f"{key}[{index}]", "must be a non-empty string")
            result.append(item)
        return tuple(result)

    def mappings(self, key: str) -> list[Fields]:
        return [self._child(item, f"{self.at(key)}[{index}]") for index, item in enumerate(self.items(key))]

    def enum(self, key: str, kind: type[Any], default: Any = None) -> Any:
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise self.fail(key, "is required")
            return default
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise self.fail(key, f"must be one of {allowed}, got {value!r}") from None

    def parsed(self, key: str, parse: Any) -> Any:
        """``parse(value)`` (e.g. a timestamp); None when absent; its ValueError names the field."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None
