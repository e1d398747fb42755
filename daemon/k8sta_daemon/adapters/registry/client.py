"""A thin client for one image repository, on python-dxf (the distribution API: Link-header pagination,
the WWW-Authenticate challenge for Basic and Bearer tokens, anonymous tokens as Docker Hub hands out).

What the image poller needs and nothing more: ``tags()``, and ``resolve(tag)``: the digest the tag
points at (of the image index when it is one: that digest is what a ticket pins, so every platform
runs the same thing) and, for NewestBuild, the ``created`` time of the Subscription's platform's
image config. Digests are recomputed from the bytes read, so a registry cannot hand us a digest
that does not match its manifest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dxf
import dxf.exceptions
import requests

from .errors import PlatformNotFound, RegistryError, RegistryUnavailable, RepositoryNotFound, TagNotFound, Unauthorized

DOCKER_HUB = "registry-1.docker.io"
INDEX_TYPES = {"application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json"}
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the distribution spec's own limit for manifests
MAX_CONFIG_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Credentials:
    """A registry login from a pull Secret; the password never appears in a repr (a log, a traceback)."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Resolved:
    tag: str
    digest: str
    created: float | None = None


def split_repository(repository: str) -> tuple[str, str]:
    """``ghcr.io/acme/api`` -> (``ghcr.io``, ``acme/api``); ``nginx`` -> Docker Hub's ``library/nginx``."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    if not rest:
        return DOCKER_HUB, f"library/{repository}"
    return DOCKER_HUB, repository


def credentials_from_dockerconfigjson(text: str, host: str) -> Credentials | None:
    """The entry for ``host`` in a ``kubernetes.io/dockerconfigjson`` Secret's data (None when absent).

    Raises ValueError naming what is wrong with a malformed one.
    """
    try:
        auths = json.loads(text).get("auths")
    except (ValueError, AttributeError):
        raise ValueError(".dockerconfigjson is not a JSON object") from None
    if not isinstance(auths, dict):
        raise ValueError(".dockerconfigjson has no auths object")
    names = {host, f"https://{host}", f"http://{host}"}
    if host == DOCKER_HUB:
        names |= {"docker.io", "index.docker.io", "https://index.docker.io/v1"}
    for key, entry in auths.items():
        if (key.rstrip("/") not in names and key not in names) or not isinstance(entry, dict):
            continue
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(entry["username"], entry["password"])
        if isinstance(entry.get("auth"), str):
            try:
                user, sep, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise ValueError(f".dockerconfigjson auths[{key!r}].auth is not base64 of user:password") from None
            if sep:
                return Credentials(user, password)
        raise ValueError(f".dockerconfigjson auths[{key!r}] has neither username/password nor auth")
    return None


def _parse_created(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Go writes nanoseconds; Python reads up to microseconds
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits):]}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class Registry:
    """One repository of one registry; every call maps failures to ``errors`` with a readable message."""

    def __init__(self, repository: str, *, credentials: Credentials | None = None, insecure: bool = False,
                 ca_file: str | None = None, timeout: float = 10.0, page_size: int = 100) -> None:
        self.repository = repository
        self.host, self.path = split_repository(repository)
        self.credentials = credentials
        self.page_size = page_size

        def authenticate(client: dxf.DXFBase, response: requests.Response) -> None:
            if credentials is None:
                client.authenticate(response=response)  # anonymous: a token server may still hand out one
            else:
                client.authenticate(credentials.username, credentials.password, response=response)

        self.client = dxf.DXF(self.host, self.path, auth=authenticate, insecure=insecure,
                              tlsverify=ca_file if ca_file else True, timeout=timeout)

    @contextmanager
    def _mapped(self, what: str) -> Iterator[None]:
        where = f"{self.repository}: {what}"
        try:
            yield
        except dxf.exceptions.DXFUnauthorizedError:
            who = f"as {self.credentials.username}" if self.credentials else "anonymously"
            raise Unauthorized(f"{where}: the registry refused access {who} (HTTP 401)") from None
        except dxf.exceptions.DXFAuthInsecureError:
            raise Unauthorized(f"{where}: the registry asks for credentials over plain HTTP; K8sTA sends "
                               "credentials only over TLS (unset spec.image.insecure)") from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 403:
                raise Unauthorized(f"{where}: the registry denied access (HTTP 403)") from None
            if status == 404:
                code = _error_code(exc.response)
                if code == "MANIFEST_UNKNOWN" or "manifests/" in (exc.request.url if exc.request else ""):
                    raise TagNotFound(f"{where}: not found (HTTP 404 {code or ''})".rstrip()) from None
                raise RepositoryNotFound(f"{where}: repository not found (HTTP 404 {code or ''})".rstrip()) from None
            raise RegistryUnavailable(f"{where}: HTTP {status}") from None
        except requests.exceptions.SSLError as exc:
            raise RegistryUnavailable(f"{where}: TLS failed ({_short(exc)})") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RegistryUnavailable(f"{where}: no answer from {self.host} ({type(exc).__name__})") from None
        except (requests.RequestException, dxf.exceptions.DXFError, ValueError, KeyError) as exc:
            if isinstance(exc, RegistryError):
                raise
            raise RegistryUnavailable(f"{where}: unexpected answer ({_short(exc)})") from None

    def tags(self) -> list[str]:
        """Every tag, following the ``Link: <…>; rel="next"`` pages."""
        with self._mapped("listing tags"):
            tags = self.client.list_aliases(batch_size=self.page_size, iterate=False)
        return [t for t in tags if isinstance(t, str)]

    def _manifest(self, reference: str) -> tuple[dict[str, Any], str, str]:
        with self._mapped(f"reading manifest {reference}"):
            text, response = self.client.get_manifest_and_response(reference)
        raw = response.content
        if len(raw) > MAX_MANIFEST_BYTES:
            raise RegistryUnavailable(f"{self.repository}: manifest {reference} is over {MAX_MANIFEST_BYTES} bytes")
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryUnavailable(f"{self.repository}: manifest {reference} has digest {digest}")
        try:
            manifest = json.loads(text)
        except ValueError:
            raise RegistryUnavailable(f"{self.repository}: manifest {reference} is not JSON") from None
        if not isinstance(manifest, dict):
            raise RegistryUnavailable(f"{self.repository}: manifest {reference} is not a JSON object")
        media = manifest.get("mediaType") or response.headers.get("Content-Type", "").split(";")[0]
        return manifest, digest, media

    def resolve(self, tag: str, *, platform: str = "linux/amd64", created: bool = False) -> Resolved:
        """The digest ``tag`` points at; with ``created``, the build time of ``platform``'s image config."""
        manifest, digest, media = self._manifest(tag)
        image = manifest
        if media in INDEX_TYPES or "manifests" in manifest:
            chosen = _pick_platform(manifest, platform)
            if chosen is None:
                raise PlatformNotFound(f"{self.repository}:{tag} is an image index without platform {platform}")
            if not created:
                return Resolved(tag, digest)
            image, _, _ = self._manifest(chosen)
        if not created:
            return Resolved(tag, digest)
        config = image.get("config")
        config_digest = config.get("digest") if isinstance(config, dict) else None
        if not isinstance(config_digest, str) or not config_digest.startswith("sha256:"):
            return Resolved(tag, digest)  # e.g. a schema 1 manifest: no config blob, no build time
        with self._mapped(f"reading config blob of {tag}"):
            data = b"".join(self.client.pull_blob(config_digest))
        if len(data) > MAX_CONFIG_BYTES:
            raise RegistryUnavailable(f"{self.repository}: config of {tag} is over {MAX_CONFIG_BYTES} bytes")
        try:
            blob = json.loads(data)
        except ValueError:
            return Resolved(tag, digest)
        if not isinstance(blob, dict):
            return Resolved(tag, digest)
        if image is manifest and not _platform_matches(blob, platform):  # a single-platform image
            raise PlatformNotFound(f"{self.repository}:{tag} is an image for {blob.get('os')}/"
                                   f"{blob.get('architecture')}, not platform {platform}")
        return Resolved(tag, digest, _parse_created(blob.get("created")))


def _platform_matches(described: dict[str, Any], platform: str) -> bool:
    os_, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    return described.get("os") == os_ and described.get("architecture") == arch and (
        not variant or described.get("variant") == variant)


def _pick_platform(index: dict[str, Any], platform: str) -> str | None:
    for entry in index.get("manifests") or []:
        if not isinstance(entry, dict):
            continue
        wanted = entry.get("platform")
        if not isinstance(wanted, dict):
            continue
        if _platform_matches(wanted, platform):
            digest = entry.get("digest")
            return digest if isinstance(digest, str) else None
    return None


def _error_code(response: requests.Response | None) -> str | None:
    try:
        errors = response.json().get("errors") if response is not None else None
        return errors[0].get("code") if errors else None
    except (ValueError, AttributeError, IndexError, TypeError):
        return None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
