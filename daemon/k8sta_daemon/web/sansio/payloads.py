"""Image-push payloads as pure functions: which Track, which namespace, which image.

Callers: ``web.webhooks``. Three shapes are understood, told apart by their keys:

- generic: ``{"track": "api", "namespace": "k8sta", "image": "repo:tag", "digest": "sha256:…"?}``;
- Docker Hub: ``{"push_data": {"tag": …}, "repository": {"repo_name": "user/app"}}``;
- GitHub Packages (GHCR), event ``package`` or ``registry_package``, action ``published``.

Registries cannot name a Track, so for the last two the Track (and namespace) come from the query
string: ``POST /webhooks/image?track=api&namespace=k8sta``. Events that carry no image to ride
(GitHub's ``ping``, untagged pushes) parse to ``Ignored``, not to an error.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.core import model
from k8sta_daemon.ops import intake
from k8sta_daemon.ops.errors import Invalid

MAX_BODY_BYTES = 1 << 20


class PayloadError(ValueError):
    """The payload cannot create a ticket; the message says which field is wrong (HTTP 400)."""


class Source(enum.Enum):
    GENERIC = "generic"
    DOCKERHUB = "dockerhub"
    GHCR = "ghcr"


@dataclass(frozen=True)
class ImagePush:
    source: Source
    track: str
    namespace: str
    image: model.ImagePin


@dataclass(frozen=True)
class Ignored:
    source: Source
    reason: str


def decode(body: bytes) -> Mapping[str, Any]:
    """The JSON object of a request body."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(f"payload larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("payload must be a JSON object")
    return data


def detect(payload: Mapping[str, Any], github_event: str | None = None) -> Source:
    if github_event is not None or "package" in payload or "registry_package" in payload:
        return Source.GHCR
    if "push_data" in payload and "repository" in payload:
        return Source.DOCKERHUB
    return Source.GENERIC


def _text(value: Any, field: str, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise PayloadError(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a string")
    return value


def _target(payload: Mapping[str, Any], query: Mapping[str, str], default_namespace: str | None,
            ) -> tuple[str, str]:
    """Track and namespace: payload fields first (generic), then the query string, then the default."""
    track = _text(payload.get("track") or query.get("track"), "track (in the payload or ?track=)")
    namespace = _text(payload.get("namespace") or query.get("namespace") or default_namespace,
                      "namespace (in the payload or ?namespace=; no default namespace is configured)")
    assert track is not None and namespace is not None
    try:
        intake.check_name("track", track)
        intake.check_name("namespace", namespace)
    except Invalid as exc:
        raise PayloadError(str(exc)) from None
    return track, namespace


def _pin(reference: str, digest: str | None) -> model.ImagePin:
    try:
        return intake.parse_image(reference, digest)
    except Invalid as exc:
        raise PayloadError(str(exc)) from None


def parse(payload: Mapping[str, Any], query: Mapping[str, str], *, default_namespace: str | None = None,
          github_event: str | None = None) -> ImagePush | Ignored:
    """What the push asks for; raises ``PayloadError`` naming the offending field."""
    source = detect(payload, github_event)
    if source is Source.GHCR:
        return _github(payload, query, default_namespace, github_event)
    if source is Source.DOCKERHUB:
        push_data, repository = payload.get("push_data"), payload.get("repository")
        if not isinstance(push_data, dict) or not isinstance(repository, dict):
            raise PayloadError("push_data and repository must be objects")
        tag = _text(push_data.get("tag"), "push_data.tag")
        repo = _text(repository.get("repo_name"), "repository.repo_name")
        track, namespace = _target({}, query, default_namespace)
        return ImagePush(source, track, namespace, _pin(f"{repo}:{tag}", None))
    image = _text(payload.get("image"), "image")
    digest = _text(payload.get("digest"), "digest", required=False)
    track, namespace = _target(payload, query, default_namespace)
    assert image is not None
    return ImagePush(source, track, namespace, _pin(image, digest))


def _github(payload: Mapping[str, Any], query: Mapping[str, str], default_namespace: str | None,
            event: str | None) -> ImagePush | Ignored:
    if event == "ping":
        return Ignored(Source.GHCR, "ping")
    if event is not None and event not in ("package", "registry_package"):
        return Ignored(Source.GHCR, f"event {event} carries no image")
    if payload.get("action") not in ("published", None):
        return Ignored(Source.GHCR, f"action {payload.get('action')} is not a publish")
    package = payload.get("package") or payload.get("registry_package")
    if not isinstance(package, dict):
        raise PayloadError("package must be an object")
    if str(package.get("package_type") or package.get("ecosystem") or "container").lower() not in (
            "container", "docker"):
        return Ignored(Source.GHCR, f"package type {package.get('package_type')} is not a container image")
    version = package.get("package_version")
    if not isinstance(version, dict):
        raise PayloadError("package.package_version must be an object")
    tag = ((version.get("container_metadata") or {}).get("tag") or {})
    tag_name = tag.get("name") if isinstance(tag, dict) else None
    if not tag_name:
        return Ignored(Source.GHCR, "untagged push")
    owner = package.get("namespace") or (package.get("owner") or {}).get("login")
    name = _text(package.get("name"), "package.name")
    owner = _text(owner, "package.namespace or package.owner.login")
    digest = tag.get("digest") or None
    if digest is None and str(version.get("version", "")).startswith("sha256:"):
        digest = version["version"]
    track, namespace = _target({}, query, default_namespace)
    return ImagePush(Source.GHCR, track, namespace, _pin(f"ghcr.io/{owner}/{name}".lower() + f":{tag_name}",
                                                         digest))
