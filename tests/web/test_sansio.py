"""Pure webhook rules: which payload means which image on which Track, and who may send it."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from k8sta_daemon.core import model
from k8sta_daemon.web.sansio import auth, payloads

D1 = "sha256:" + "1" * 64
Pin = model.ImagePin
Push = payloads.ImagePush
S = payloads.Source


def dockerhub(tag: str = "1.4", repo: str = "acme/api") -> dict[str, Any]:
    return {"callback_url": "https://registry.hub.docker.com/u/acme/api/hook/x/",
            "push_data": {"pushed_at": 1417566161, "pusher": "ci", "tag": tag},
            "repository": {"repo_name": repo, "namespace": "acme", "name": "api", "status": "Active"}}


def github(tag: str | None = "v2", *, key: str = "package", owner_key: str = "owner", action: str = "published",
           package_type: str = "CONTAINER", digest: str | None = D1) -> dict[str, Any]:
    package: dict[str, Any] = {"name": "API", "package_type": package_type,
                               "package_version": {"version": digest or "1",
                                                   "container_metadata": {"tag": {"name": tag or "",
                                                                                  "digest": digest or ""}}}}
    if owner_key == "owner":
        package["owner"] = {"login": "Acme"}
    else:
        package["namespace"] = "acme"
    return {"action": action, key: package}


@pytest.mark.parametrize(("payload", "query", "default_ns", "event", "expected"), [
    ({"track": "api", "namespace": "k8sta", "image": "acme/api:1.4"}, {}, None, None,
     Push(S.GENERIC, "api", "k8sta", Pin("acme/api", "1.4"))),
    ({"track": "api", "namespace": "k8sta", "image": "acme/api:1.4", "digest": D1}, {}, None, None,
     Push(S.GENERIC, "api", "k8sta", Pin("acme/api", "1.4", D1))),
    ({"track": "api", "image": f"ghcr.io/acme/api:1.4@{D1}"}, {}, "k8sta", None,
     Push(S.GENERIC, "api", "k8sta", Pin("ghcr.io/acme/api", "1.4", D1))),
    ({"image": "acme/api:1.4"}, {"track": "api", "namespace": "prod-ns"}, "k8sta", None,
     Push(S.GENERIC, "api", "prod-ns", Pin("acme/api", "1.4"))),
    ({"track": "api", "namespace": "k8sta", "image": "acme/api:1.4"}, {"track": "web", "namespace": "x"}, None, None,
     Push(S.GENERIC, "api", "k8sta", Pin("acme/api", "1.4"))),
    (dockerhub(), {"track": "api", "namespace": "k8sta"}, None, None,
     Push(S.DOCKERHUB, "api", "k8sta", Pin("acme/api", "1.4"))),
    (dockerhub(), {"track": "api"}, "k8sta", None, Push(S.DOCKERHUB, "api", "k8sta", Pin("acme/api", "1.4"))),
    (github(), {"track": "api", "namespace": "k8sta"}, None, "package",
     Push(S.GHCR, "api", "k8sta", Pin("ghcr.io/acme/api", "v2", D1))),
    (github(key="registry_package", owner_key="namespace"), {"track": "api"}, "k8sta", "registry_package",
     Push(S.GHCR, "api", "k8sta", Pin("ghcr.io/acme/api", "v2", D1))),
    (github(digest=None), {"track": "api"}, "k8sta", None, Push(S.GHCR, "api", "k8sta", Pin("ghcr.io/acme/api", "v2"))),
    (github(package_type="docker"), {"track": "api"}, "k8sta", "package",
     Push(S.GHCR, "api", "k8sta", Pin("ghcr.io/acme/api", "v2", D1))),
], ids=["generic", "generic-digest", "generic-inline-digest-default-ns", "generic-query-fills-gaps",
        "generic-payload-beats-query", "dockerhub", "dockerhub-default-ns", "ghcr-package", "ghcr-registry-package",
        "ghcr-no-digest", "ghcr-legacy-docker-type"])
def test_parse(payload: dict[str, Any], query: dict[str, str], default_ns: str | None, event: str | None,
               expected: payloads.ImagePush) -> None:
    assert payloads.parse(payload, query, default_namespace=default_ns, github_event=event) == expected


@pytest.mark.parametrize(("payload", "event", "reason"), [
    ({"zen": "Keep it logically awesome.", "hook_id": 1}, "ping", "ping"),
    (github(), "push", "event push carries no image"),
    (github(action="updated"), "package", "action updated is not a publish"),
    (github(tag=None), "package", "untagged push"),
    (github(package_type="npm"), "package", "package type npm is not a container image"),
], ids=["ping", "other-event", "not-published", "untagged", "not-a-container"])
def test_parse_ignores(payload: dict[str, Any], event: str, reason: str) -> None:
    assert payloads.parse(payload, {"track": "api"}, default_namespace="k8sta", github_event=event) == \
        payloads.Ignored(S.GHCR, reason)


@pytest.mark.parametrize(("payload", "query", "default_ns", "message"), [
    ({"track": "api", "namespace": "k8sta"}, {}, None, "image is required"),
    ({"track": "api", "namespace": "k8sta", "image": 42}, {}, None, "image must be a string"),
    ({"namespace": "k8sta", "image": "a/b:1"}, {}, None, "track .* is required"),
    ({"track": "api", "image": "a/b:1"}, {}, None, "namespace .* no default namespace"),
    ({"track": "api", "namespace": "k8sta", "image": "a/b"}, {}, None, "has no tag"),
    ({"track": "api", "namespace": "k8sta", "image": "a/b:1", "digest": "sha1:x"}, {}, None, "is not sha256"),
    ({"track": "Bad_Track", "namespace": "k8sta", "image": "a/b:1"}, {}, None, "not a valid Kubernetes name"),
    ({"track": "api", "namespace": "k8sta", "image": "a/b:1", "digest": 5}, {}, None, "digest must be a string"),
    (dockerhub(), {}, "k8sta", "track .* is required"),
    (dockerhub(tag=""), {"track": "api"}, "k8sta", "push_data.tag is required"),
    ({"push_data": [], "repository": {}}, {"track": "api"}, "k8sta", "must be objects"),
    ({"action": "published", "package": "x"}, {"track": "api"}, "k8sta", "package must be an object"),
    ({"action": "published", "package": {"name": "a", "package_version": None}}, {"track": "api"}, "k8sta",
     "package_version must be an object"),
], ids=["no-image", "image-not-string", "no-track", "no-namespace", "no-tag", "bad-digest", "bad-track-name",
        "digest-not-string", "dockerhub-no-track", "dockerhub-no-tag", "dockerhub-malformed", "ghcr-malformed",
        "ghcr-no-version"])
def test_parse_refuses(payload: dict[str, Any], query: dict[str, str], default_ns: str | None, message: str) -> None:
    with pytest.raises(payloads.PayloadError, match=message):
        payloads.parse(payload, query, default_namespace=default_ns)


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"\xff\xfe", "not JSON"),
    (b"{" + b" " * payloads.MAX_BODY_BYTES + b"}", "larger than"),
])
def test_decode_refuses(body: bytes, message: str) -> None:
    with pytest.raises(payloads.PayloadError, match=message):
        payloads.decode(body)


def test_decode() -> None:
    assert payloads.decode(json.dumps({"a": 1}).encode()) == {"a": 1}


BODY = b'{"image": "a/b:1"}'
SECRET = "s3cret-token"
GOOD_SIGNATURE = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
BAD_SIGNATURE = GOOD_SIGNATURE[:-1] + ("1" if GOOD_SIGNATURE.endswith("0") else "0")


@pytest.mark.parametrize(("secret", "token", "signature", "ok"), [
    (SECRET, SECRET, None, True),
    (SECRET, "wrong", None, False),
    (SECRET, "", None, False),
    (SECRET, None, None, False),
    (SECRET, SECRET + "x", None, False),
    (SECRET, None, GOOD_SIGNATURE, True),
    (SECRET, None, BAD_SIGNATURE, False),
    (SECRET, None, GOOD_SIGNATURE.replace("sha256=", "sha1="), False),
    (SECRET, "wrong", GOOD_SIGNATURE, True),
    ("", "", None, False),
    ("", None, "sha256=" + hmac.new(b"", BODY, hashlib.sha256).hexdigest(), False),
], ids=["token", "wrong-token", "empty-token", "no-token", "longer-token", "github-signature", "bad-signature",
        "sha1-signature", "wrong-token-good-signature", "no-secret-configured", "no-secret-empty-hmac"])
def test_authorized(secret: str, token: str | None, signature: str | None, ok: bool) -> None:
    assert auth.authorized(secret, token=token, body=BODY, github_signature=signature) is ok
