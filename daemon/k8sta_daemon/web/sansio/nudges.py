"""Webhook payloads that only nudge a poller, as pure functions: which repository changed, nothing more.

Callers: ``web.nudge``; ``web.sansio.payloads`` (``/webhooks/image``) shares the decoding, the
repository rule and Docker Hub's spellings. A webhook body is never trusted for content (no tag, digest
or commit from it reaches a ticket): the body only says *which* image repository or git repository to
read now, and the Subscription's poller then reads the registry or the repository itself. Still, every
field used is checked for type and value, with the image-reference rules of the Subscription CRD, so a
malformed body is a 400 naming the field, never a 500.

Formats (told apart by headers, then by shape), and where the repository comes from:

- GitHub, ``X-GitHub-Event: push``: git ``repository.clone_url`` / ``ssh_url`` / ``html_url``;
  ``package`` / ``registry_package``: the image ``ghcr.io/<owner>/<name>``; ``ping``: ignored;
- GitLab, ``X-Gitlab-Event: Push Hook`` / ``Tag Push Hook``: ``project.git_http_url`` / ``git_ssh_url``;
- Gitea / Forgejo, ``X-Gitea-Event`` / ``X-Forgejo-Event: push``: ``repository.clone_url`` / ``ssh_url``;
- Docker Hub (``push_data`` + ``repository.repo_name``): ``docker.io/<repo_name>``;
- Harbor (``type: PUSH_ARTIFACT``): ``?registry=<host>`` + ``event_data.repository.repo_full_name``;
- Quay (``docker_url``, ``updated_tags``): ``docker_url``;
- generic: ``{"repository": "<image repository>"}`` or ``{"repoURL": "<git URL>"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 1 << 20
MAX_DEPTH = 32

# The Subscription CRD's spec.image.repository pattern (kustomize/crds/subscriptions.yaml): a registry host
# with a port of 1..65535, lowercase path components; no tag, no digest, no whitespace.
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_HOST = r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
IMAGE_REPOSITORY = re.compile(rf"^({_HOST}(:{_PORT})?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_GIT_URL = re.compile(r"^(https?|ssh|git|file)://[^\s]+$|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$")
_HOST_ONLY = re.compile(rf"^{_HOST}(:{_PORT})?$")


class PayloadError(ValueError):
    """A body that cannot nudge anything; the message names the field (HTTP 400)."""


@dataclass(frozen=True)
class Nudge:
    """Read these now: image repositories, or git repository URLs (any of them may match)."""

    source: str
    images: tuple[str, ...] = ()
    git_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ignored:
    source: str
    reason: str


def decode(body: bytes) -> Mapping[str, Any]:
    """The JSON object of a body; depth, size and number length are bounded before anything else."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(f"payload larger than {MAX_BODY_BYTES} bytes")
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:  # a cheap pre-scan: a 5,000-deep document never reaches the parser's recursion
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                raise PayloadError(f"payload nested deeper than {MAX_DEPTH} levels")
        elif byte in (0x5D, 0x7D):
            depth -= 1
    try:
        data = json.loads(body, parse_int=_bounded_int, parse_constant=_no_constant)
    except PayloadError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PayloadError(f"payload is not JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise PayloadError("payload must be a JSON object")
    return data


def _bounded_int(text: str) -> int:
    if len(text) > 20:
        raise PayloadError(f"payload has an integer of {len(text)} digits")
    return int(text)


def _no_constant(text: str) -> float:
    raise PayloadError(f"payload has {text}, which is not JSON")


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{field} must be an object, got {type(value).__name__}")
    return value


def _string(value: Any, field: str, *, required: bool = True, limit: int = 2048) -> str | None:
    if value is None:
        if required:
            raise PayloadError(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a string, got {type(value).__name__}")
    if not value or value != value.strip() or any(ch in value for ch in "\r\n\t\0") or len(value) > limit:
        raise PayloadError(f"{field} must be a non-empty string without surrounding spaces or line breaks")
    return value


def image_repository(value: Any, field: str) -> str:
    text = _string(value, field, limit=255)
    assert text is not None
    if not IMAGE_REPOSITORY.match(text):
        raise PayloadError(f"{field}: {text!r} is not an image repository (registry[:port 1-65535]/path, lowercase, "
                           "no tag or digest)")
    return text


def dockerhub_repositories(name: str) -> tuple[str, ...]:
    """Every spelling a Subscription may use for Docker Hub's ``name``, canonical first: a push to
    ``acme/api`` must nudge ``docker.io/acme/api`` too, and ``nginx`` is ``library/nginx``."""
    path = name if "/" in name else f"library/{name}"
    return (f"docker.io/{path}", path) + (() if "/" in name else (name,))


def _git_urls(container: Mapping[str, Any], field: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    urls = []
    for key in keys:
        url = _string(container.get(key), f"{field}.{key}", required=False)
        if url is None:
            continue
        if not _GIT_URL.match(url):
            raise PayloadError(f"{field}.{key}: {url!r} is not a repository URL")
        urls.append(url)
    if not urls:
        raise PayloadError(f"{field} names no repository URL ({', '.join(keys)})")
    return tuple(urls)


def _ref(payload: Mapping[str, Any]) -> str:
    ref = _string(payload.get("ref"), "ref", limit=1024)
    assert ref is not None
    return ref


def parse(payload: Mapping[str, Any], headers: Mapping[str, str], query: Mapping[str, str]) -> Nudge | Ignored:
    """What to read now; raises PayloadError naming the offending field."""
    github = headers.get("X-GitHub-Event")
    gitlab = headers.get("X-Gitlab-Event")
    gitea = headers.get("X-Forgejo-Event") or headers.get("X-Gitea-Event")
    if github is not None:
        return _github(payload, github)
    if gitlab is not None:
        if gitlab not in ("Push Hook", "Tag Push Hook"):
            return Ignored("gitlab", f"event {gitlab!r} is not a push")
        _ref(payload)
        return Nudge("gitlab", git_urls=_git_urls(_object(payload.get("project"), "project"), "project",
                                                  ("git_http_url", "git_ssh_url", "web_url")))
    if gitea is not None:
        if gitea != "push":
            return Ignored("gitea", f"event {gitea!r} is not a push")
        _ref(payload)
        return Nudge("gitea", git_urls=_git_urls(_object(payload.get("repository"), "repository"), "repository",
                                                 ("clone_url", "ssh_url", "html_url")))
    if "push_data" in payload:
        _object(payload.get("push_data"), "push_data")
        repository = _object(payload.get("repository"), "repository")
        return Nudge("dockerhub", images=dockerhub_repositories(
            image_repository(repository.get("repo_name"), "repository.repo_name")))
    if "event_data" in payload or payload.get("type") in ("PUSH_ARTIFACT", "pushImage"):
        return _harbor(payload, query)
    if "docker_url" in payload or "updated_tags" in payload:
        tags = payload.get("updated_tags")
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
            raise PayloadError("updated_tags must be a list of strings")
        return Nudge("quay", images=(image_repository(payload.get("docker_url"), "docker_url"),))
    if "repoURL" in payload:
        url = _string(payload.get("repoURL"), "repoURL")
        assert url is not None
        if not _GIT_URL.match(url):
            raise PayloadError(f"repoURL: {url!r} is not a repository URL")
        return Nudge("generic", git_urls=(url,))
    if "repository" in payload:
        return Nudge("generic", images=(image_repository(payload.get("repository"), "repository"),))
    raise PayloadError("payload names no repository (repository, repoURL, or a known registry or git format)")


def _github(payload: Mapping[str, Any], event: str) -> Nudge | Ignored:
    if event == "ping":
        return Ignored("github", "ping")
    if event == "push":
        _ref(payload)
        return Nudge("github", git_urls=_git_urls(_object(payload.get("repository"), "repository"), "repository",
                                                  ("clone_url", "ssh_url", "html_url")))
    if event not in ("package", "registry_package"):
        return Ignored("github", f"event {event!r} is neither a push nor a package")
    action = payload.get("action")
    if action is not None and not isinstance(action, str):
        raise PayloadError("action must be a string")
    if action not in ("published", None):
        return Ignored("github", f"action {action} is not a publish")
    key = "package" if "package" in payload else "registry_package"
    package = _object(payload.get(key), key)
    kind = package.get("package_type", "container")
    if not isinstance(kind, str):
        raise PayloadError(f"{key}.package_type must be a string")
    if kind.lower() not in ("container", "docker"):
        return Ignored("github", f"package type {kind} is not a container image")
    name = _string(package.get("name"), f"{key}.name", limit=255)
    owner_value = package.get("namespace")
    if owner_value is None:
        owner_value = _object(package.get("owner"), f"{key}.owner").get("login")
    owner = _string(owner_value, f"{key}.namespace or {key}.owner.login", limit=255)
    version = package.get("package_version")
    if version is not None:
        version = _object(version, f"{key}.package_version")
        metadata = version.get("container_metadata")
        if metadata is not None:
            metadata = _object(metadata, f"{key}.package_version.container_metadata")
            tag = metadata.get("tag")
            if tag is not None:
                tag = _object(tag, f"{key}.package_version.container_metadata.tag")
                for field in ("name", "digest"):
                    if tag.get(field) is not None and not isinstance(tag.get(field), str):
                        raise PayloadError(f"{key}.package_version.container_metadata.tag.{field} must be a string")
    return Nudge("ghcr", images=(image_repository(f"ghcr.io/{owner}/{name}".lower(), f"{key}.name"),))


def _harbor(payload: Mapping[str, Any], query: Mapping[str, str]) -> Nudge | Ignored:
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise PayloadError("type must be a string")
    if kind not in ("PUSH_ARTIFACT", "pushImage"):
        return Ignored("harbor", f"event {kind} is not a push")
    data = _object(payload.get("event_data"), "event_data")
    repository = _object(data.get("repository"), "event_data.repository")
    name = _string(repository.get("repo_full_name"), "event_data.repository.repo_full_name", limit=255)
    host = query.get("registry")
    if host is None:
        raise PayloadError("Harbor does not say its own address: add ?registry=<host[:port]> to the webhook URL")
    if not _HOST_ONLY.match(host):
        raise PayloadError(f"registry {host!r} is not a host[:port 1-65535]")
    return Nudge("harbor", images=(image_repository(f"{host}/{name}", "event_data.repository.repo_full_name"),))
