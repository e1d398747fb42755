"""Image-push payloads as pure functions: which image repository changed, in which namespace (and Track).

Callers: ``web.webhooks``. A push never becomes a ticket by itself and its body is never trusted for
content: only the repository is kept, so that the Subscriptions watching it read the registry at once
(their strategy decides which version is newest, never the order in which pushes were delivered). The
tag and digest are still checked with the Ticket contract's image-reference rules
(``ops.intake.parse_image``) and the repository with the Subscription CRD's (``nudges.image_repository``),
so a malformed push is a 400 naming the field. Three shapes, told apart by their keys:

- generic: ``{"image": "repo:tag", "digest": "sha256:…"?, "namespace": "k8sta"?, "track": "api"?}``;
- Docker Hub: ``{"push_data": {"tag": …}, "repository": {"repo_name": "user/app"}}``;
- GitHub Packages (GHCR), event ``package`` or ``registry_package``, action ``published``.

The namespace and the optional Track (only Subscriptions feeding it are nudged) come from the payload
(generic) or the query string, ``POST /webhooks/image?namespace=k8sta&track=api``; without either, the
webhook secret's own. Events that carry no image (GitHub's ``ping``, untagged pushes) parse to
``Ignored``, not to an error.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.ops import intake
from k8sta_daemon.ops.errors import Invalid

from . import nudges

PayloadError = nudges.PayloadError  # one error for both endpoints: a 400 naming the field


class Source(enum.Enum):
    GENERIC = "generic"
    DOCKERHUB = "dockerhub"
    GHCR = "ghcr"


@dataclass(frozen=True)
class ImagePush:
    """A valid push: where, for which Track (None: every one), and the repository's spellings (canonical
    first) a Subscription may use. The pushed tag and digest were checked, then dropped."""

    source: Source
    namespace: str
    track: str | None
    repositories: tuple[str, ...]


@dataclass(frozen=True)
class Ignored:
    source: Source
    reason: str


def _detect(payload: Mapping[str, Any], github_event: str | None = None) -> Source:
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
            ) -> tuple[str, str | None]:
    """Namespace and optional Track: payload fields first (generic), then the query string, then the default."""
    track = _text(payload.get("track") or query.get("track"), "track (in the payload or ?track=)", required=False)
    namespace = _text(payload.get("namespace") or query.get("namespace") or default_namespace,
                      "namespace (in the payload or ?namespace=; no default namespace is configured)")
    assert namespace is not None
    try:
        intake.check_name("namespace", namespace)
        if track is not None:
            intake.check_name("track", track)
    except Invalid as exc:
        raise PayloadError(str(exc)) from None
    return namespace, track


def _repository(reference: str, digest: str | None, field: str) -> str:
    """The repository of a pushed ``reference``, all of it checked: tag and digest by the Ticket contract's
    rules (then dropped), the repository by the Subscription CRD's (``field`` named when it breaks them)."""
    try:
        name = intake.parse_image(reference, digest).name
    except Invalid as exc:
        raise PayloadError(str(exc)) from None
    return nudges.image_repository(name, field)


def parse(payload: Mapping[str, Any], query: Mapping[str, str], *, default_namespace: str | None = None,
          github_event: str | None = None) -> ImagePush | Ignored:
    """Which repository the push names, where; raises ``PayloadError`` naming the offending field."""
    source = _detect(payload, github_event)
    if source is Source.GHCR:
        return _github(payload, query, default_namespace, github_event)
    if source is Source.DOCKERHUB:
        push_data, repository = payload.get("push_data"), payload.get("repository")
        if not isinstance(push_data, dict) or not isinstance(repository, dict):
            raise PayloadError("push_data and repository must be objects")
        tag = _text(push_data.get("tag"), "push_data.tag")
        repo = _text(repository.get("repo_name"), "repository.repo_name")
        namespace, track = _target({}, query, default_namespace)
        return ImagePush(source, namespace, track, nudges.dockerhub_repositories(
            _repository(f"{repo}:{tag}", None, "repository.repo_name")))
    image = _text(payload.get("image"), "image")
    digest = _text(payload.get("digest"), "digest", required=False)
    namespace, track = _target(payload, query, default_namespace)
    assert image is not None
    return ImagePush(source, namespace, track, (_repository(image, digest, "image"),))


def _github(payload: Mapping[str, Any], query: Mapping[str, str], default_namespace: str | None,
            event: str | None) -> ImagePush | Ignored:
    if event == "ping":
        return Ignored(Source.GHCR, "ping")
    if event is not None and event not in ("package", "registry_package"):
        return Ignored(Source.GHCR, f"event {event} carries no image")
    if payload.get("action") is not None and not isinstance(payload.get("action"), str):
        raise PayloadError("action must be a string")
    if payload.get("action") not in ("published", None):
        return Ignored(Source.GHCR, f"action {payload.get('action')} is not a publish")
    package = payload.get("package") or payload.get("registry_package")
    if not isinstance(package, dict):
        raise PayloadError("package must be an object")
    kind = package.get("package_type") or package.get("ecosystem") or "container"
    if not isinstance(kind, str):
        raise PayloadError("package.package_type must be a string")
    if kind.lower() not in (
            "container", "docker"):
        return Ignored(Source.GHCR, f"package type {package.get('package_type')} is not a container image")
    version = package.get("package_version")
    if not isinstance(version, dict):
        raise PayloadError("package.package_version must be an object")
    metadata = version.get("container_metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise PayloadError("package.package_version.container_metadata must be an object")
    tag = (metadata or {}).get("tag")
    if tag is not None and not isinstance(tag, dict):
        raise PayloadError("package.package_version.container_metadata.tag must be an object")
    tag_name = _text((tag or {}).get("name"), "package.package_version.container_metadata.tag.name", required=False)
    if not tag_name:
        return Ignored(Source.GHCR, "untagged push")
    owner = package.get("namespace")
    if owner is None:
        owner_obj = package.get("owner")
        if not isinstance(owner_obj, dict):
            raise PayloadError("package.owner must be an object when package.namespace is absent")
        owner = owner_obj.get("login")
    name = _text(package.get("name"), "package.name")
    owner = _text(owner, "package.namespace or package.owner.login")
    digest = _text((tag or {}).get("digest"), "package.package_version.container_metadata.tag.digest",
                   required=False)
    version_text = version.get("version")
    if digest is None and isinstance(version_text, str) and version_text.startswith("sha256:"):
        digest = version_text
    namespace, track = _target({}, query, default_namespace)
    return ImagePush(Source.GHCR, namespace, track, (
        _repository(f"ghcr.io/{owner}/{name}".lower() + f":{tag_name}", digest, "package.name"),))
