"""Pure webhook rules: which image repository a push names (where, for which Track), and who may send it."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from k8sta_daemon.web.sansio import auth, nudges, payloads

D1 = "sha256:" + "1" * 64
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


HUB = ("docker.io/acme/api", "acme/api")
GH = ("ghcr.io/acme/api",)


@pytest.mark.parametrize(("payload", "query", "default_ns", "event", "expected"), [
    ({"track": "api", "namespace": "k8sta", "image": "acme/api:1.4"}, {}, None, None,
     Push(S.GENERIC, "k8sta", "api", ("acme/api",))),
    ({"track": "api", "namespace": "k8sta", "image": "acme/api:1.4", "digest": D1}, {}, None, None,
     Push(S.GENERIC, "k8sta", "api", ("acme/api",))),
    ({"track": "api", "image": f"ghcr.io/acme/api:1.4@{D1}"}, {}, "k8sta", None,
     Push(S.GENERIC, "k8sta", "api", GH)),
    ({"image": "acme/api:1.4"}, {"track": "api", "namespace": "prod-ns"}, "k8sta", None,
     Push(S.GENERIC, "prod-ns", "api", ("acme/api",))),
    ({"track": "api", "namespace": "k8sta", "image": "acme/api:1.4"}, {"track": "web", "namespace": "x"}, None, None,
     Push(S.GENERIC, "k8sta", "api", ("acme/api",))),
    ({"image": "registry.example:5000/shop/api:1.4"}, {}, "k8sta", None,
     Push(S.GENERIC, "k8sta", None, ("registry.example:5000/shop/api",))),
    (dockerhub(), {"track": "api", "namespace": "k8sta"}, None, None, Push(S.DOCKERHUB, "k8sta", "api", HUB)),
    (dockerhub(), {}, "k8sta", None, Push(S.DOCKERHUB, "k8sta", None, HUB)),
    (dockerhub(repo="nginx"), {}, "k8sta", None,
     Push(S.DOCKERHUB, "k8sta", None, ("docker.io/library/nginx", "library/nginx", "nginx"))),
    (github(), {"track": "api", "namespace": "k8sta"}, None, "package", Push(S.GHCR, "k8sta", "api", GH)),
    (github(key="registry_package", owner_key="namespace"), {"track": "api"}, "k8sta", "registry_package",
     Push(S.GHCR, "k8sta", "api", GH)),
    (github(digest=None), {}, "k8sta", None, Push(S.GHCR, "k8sta", None, GH)),
    (github(package_type="docker"), {"track": "api"}, "k8sta", "package", Push(S.GHCR, "k8sta", "api", GH)),
], ids=["generic", "generic-digest", "generic-inline-digest-default-ns", "generic-query-fills-gaps",
        "generic-payload-beats-query", "generic-no-track", "dockerhub", "dockerhub-no-track-default-ns",
        "dockerhub-official-image", "ghcr-package", "ghcr-registry-package", "ghcr-no-digest-no-track",
        "ghcr-legacy-docker-type"])
def test_parse_keeps_only_the_repository(payload: dict[str, Any], query: dict[str, str], default_ns: str | None,
                                         event: str | None, expected: payloads.ImagePush) -> None:
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
    ({"track": "api", "image": "a/b:1"}, {}, None, "namespace .* no default namespace"),
    ({"track": "api", "namespace": "k8sta", "image": "a/b"}, {}, None, "has no tag"),
    ({"track": "api", "namespace": "k8sta", "image": "a/b:1", "digest": "sha1:x"}, {}, None, "is not sha256"),
    ({"namespace": "k8sta", "image": f"a/b:1@{D1}", "digest": "sha256:" + "2" * 64}, {}, None, "disagrees"),
    ({"track": "Bad_Track", "namespace": "k8sta", "image": "a/b:1"}, {}, None, "not a valid Kubernetes name"),
    ({"track": 7, "namespace": "k8sta", "image": "a/b:1"}, {}, None, "track .* must be a string"),
    ({"namespace": "Bad_NS", "image": "a/b:1"}, {}, None, "namespace name 'Bad_NS' is not a valid"),
    ({"track": "api", "namespace": "k8sta", "image": "a/b:1", "digest": 5}, {}, None, "digest must be a string"),
    ({"namespace": "k8sta", "image": "a..b/c:1"}, {}, None, "image: 'a..b/c' is not an image repository"),
    ({"namespace": "k8sta", "image": "reg.example:0/c:1"}, {}, None, "registry port must be 1-65535"),
    (dockerhub(), {"track": "Bad_Track"}, "k8sta", "not a valid Kubernetes name"),
    (dockerhub(tag=""), {"track": "api"}, "k8sta", "push_data.tag is required"),
    (dockerhub(tag="bad tag"), {}, "k8sta", "has spaces"),
    (dockerhub(repo="Acme/API"), {}, "k8sta", "is not a valid repository name"),
    ({"push_data": [], "repository": {}}, {"track": "api"}, "k8sta", "must be objects"),
    ({"action": "published", "package": "x"}, {"track": "api"}, "k8sta", "package must be an object"),
    ({"action": "published", "package": {"name": "a", "package_version": None}}, {"track": "api"}, "k8sta",
     "package_version must be an object"),
], ids=["no-image", "image-not-string", "no-namespace", "no-tag", "bad-digest", "digests-disagree",
        "bad-track-name", "track-not-string", "bad-namespace", "digest-not-string", "repository-breaks-the-crd",
        "port-zero", "dockerhub-bad-track", "dockerhub-no-tag", "dockerhub-bad-tag", "dockerhub-uppercase",
        "dockerhub-malformed", "ghcr-malformed", "ghcr-no-version"])
def test_parse_refuses(payload: dict[str, Any], query: dict[str, str], default_ns: str | None, message: str) -> None:
    with pytest.raises(payloads.PayloadError, match=message):
        payloads.parse(payload, query, default_namespace=default_ns)


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"\xff\xfe", "not JSON"),
    (b"{" + b" " * nudges.MAX_BODY_BYTES + b"}", "larger than"),
])
def test_decode_refuses(body: bytes, message: str) -> None:
    with pytest.raises(payloads.PayloadError, match=message):
        nudges.decode(body)


def test_decode() -> None:
    assert nudges.decode(json.dumps({"a": 1}).encode()) == {"a": 1}


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
