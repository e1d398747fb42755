"""adapters.registry against a real registry (docker-registry on 127.0.0.1, images pushed by skopeo):
tag pages, manifests and image indexes, config blobs, anonymous and basic auth, each failure named."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import urllib.parse

import pytest
import requests

from k8sta_daemon.adapters import registry
from k8sta_devstack import processes
from k8sta_devstack import registry as devregistry


def _client(reg: devregistry.Registry, repo: str, **kwargs: object) -> registry.Registry:
    creds = registry.Credentials(reg.username, reg.password) if reg.username and "credentials" not in kwargs else None
    kwargs.setdefault("credentials", creds)
    return registry.Registry(f"{reg.host}/{repo}", insecure=reg.insecure,
                             ca_file=str(reg.ca_cert) if reg.ca_cert else None, **kwargs)  # type: ignore[arg-type]


class _PagingProxy(http.server.BaseHTTPRequestHandler):
    """In front of the real registry: pages ``tags/list`` with ``n``/``last`` and a ``Link`` header, as
    distribution v3, GHCR and Docker Hub do (Debian's distribution 2.8 returns every tag at once)."""

    upstream = ""

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        answer = requests.get(self.upstream + url.path, timeout=5)
        body, headers = answer.content, {"Content-Type": answer.headers.get("Content-Type", "")}
        if url.path.endswith("/tags/list"):
            query = dict(urllib.parse.parse_qsl(url.query))
            tags = sorted(answer.json()["tags"])
            start = tags.index(query["last"]) + 1 if "last" in query else 0
            page = tags[start:start + int(query.get("n", "100"))]
            if start + len(page) < len(tags):
                headers["Link"] = f'<{url.path}?n={query.get("n", "100")}&last={page[-1]}>; rel="next"'
            body = json.dumps({"name": answer.json()["name"], "tags": page}).encode()
        self.send_response(answer.status_code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_tags_follow_every_page(plain_registry: devregistry.Registry, repo_name: str) -> None:
    tags = [f"1.0.{i}" for i in range(7)]
    for tag in tags:
        devregistry.push(plain_registry, repo_name, tag)
    handler = type("Handler", (_PagingProxy,), {"upstream": f"http://{plain_registry.host}"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proxy = f"127.0.0.1:{server.server_address[1]}"
        first = requests.get(f"http://{proxy}/v2/{repo_name}/tags/list", params={"n": 3}, timeout=5)
        assert len(first.json()["tags"]) == 3 and 'rel="next"' in first.headers["Link"]
        paged = registry.Registry(f"{proxy}/{repo_name}", insecure=True, page_size=3)
        assert sorted(paged.tags()) == sorted(tags)
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(_client(plain_registry, repo_name).tags()) == sorted(tags)


def test_resolve_pins_the_pushed_digest_and_reads_created(plain_registry: devregistry.Registry,
                                                          repo_name: str) -> None:
    digest = devregistry.push(plain_registry, repo_name, "1.0.0", created="2026-03-04T05:06:07.123456789Z")
    client = _client(plain_registry, repo_name)
    assert client.resolve("1.0.0") == registry.Resolved("1.0.0", digest)
    found = client.resolve("1.0.0", created=True)
    assert found.digest == digest and found.created == pytest.approx(1772600767.123456)


def test_an_image_index_pins_the_index_and_picks_the_platform(plain_registry: devregistry.Registry,
                                                             repo_name: str) -> None:
    digest = devregistry.push(plain_registry, repo_name, "2.0.0", created="2026-05-01T00:00:00Z",
                              platforms=("linux/amd64", "linux/arm64/v8"))
    raw = requests.get(f"http://{plain_registry.host}/v2/{repo_name}/manifests/2.0.0", timeout=5,
                       headers={"Accept": devregistry.OCI_INDEX})
    assert raw.json()["mediaType"] == devregistry.OCI_INDEX and raw.headers["Docker-Content-Digest"] == digest
    client = _client(plain_registry, repo_name)
    for platform in ("linux/amd64", "linux/arm64", "linux/arm64/v8"):
        found = client.resolve("2.0.0", platform=platform, created=True)
        assert found.digest == digest and found.created == 1777593600.0
    with pytest.raises(registry.PlatformNotFound, match="without platform linux/s390x"):
        client.resolve("2.0.0", platform="linux/s390x")
    devregistry.push(plain_registry, repo_name, "amd64-only")
    with pytest.raises(registry.PlatformNotFound, match="for linux/amd64, not platform linux/arm64"):
        client.resolve("amd64-only", platform="linux/arm64", created=True)


def test_a_repushed_tag_resolves_to_its_new_digest(plain_registry: devregistry.Registry, repo_name: str) -> None:
    old = devregistry.push(plain_registry, repo_name, "stable", content=b"one")
    new = devregistry.push(plain_registry, repo_name, "stable", content=b"two")
    assert old != new and _client(plain_registry, repo_name).resolve("stable").digest == new


def test_unknown_repository_and_tag_are_named(plain_registry: devregistry.Registry, repo_name: str) -> None:
    with pytest.raises(registry.RepositoryNotFound, match="repository not found"):
        _client(plain_registry, repo_name + "-missing").tags()
    devregistry.push(plain_registry, repo_name, "1.0.0")
    with pytest.raises(registry.TagNotFound):
        _client(plain_registry, repo_name).resolve("9.9.9")


def test_registry_down_is_unavailable() -> None:
    client = registry.Registry(f"127.0.0.1:{processes.free_port()}/shop/api", insecure=True, timeout=2)
    with pytest.raises(registry.RegistryUnavailable, match="no answer"):
        client.tags()


def test_basic_auth_over_tls(auth_registry: devregistry.Registry, repo_name: str) -> None:
    digest = devregistry.push(auth_registry, repo_name, "1.2.3")
    client = _client(auth_registry, repo_name)
    assert client.tags() == ["1.2.3"] and client.resolve("1.2.3", created=True).digest == digest
    with pytest.raises(registry.Unauthorized, match="refused access as k8sta"):
        _client(auth_registry, repo_name, credentials=registry.Credentials("k8sta", "wrong")).tags()
    with pytest.raises(registry.Unauthorized, match="anonymously"):
        _client(auth_registry, repo_name, credentials=None).tags()


def test_tls_without_the_ca_is_unavailable(auth_registry: devregistry.Registry) -> None:
    client = registry.Registry(f"{auth_registry.host}/shop/api", timeout=5,
                               credentials=registry.Credentials("k8sta", devregistry.PASSWORD))
    with pytest.raises(registry.RegistryUnavailable, match="TLS"):
        client.tags()


def test_split_repository() -> None:
    assert registry.split_repository("127.0.0.1:5000/shop/api") == ("127.0.0.1:5000", "shop/api")
    assert registry.split_repository("ghcr.io/acme/api") == ("ghcr.io", "acme/api")
    assert registry.split_repository("localhost/api") == ("localhost", "api")
    assert registry.split_repository("acme/api") == (registry.client.DOCKER_HUB, "acme/api")
    assert registry.split_repository("nginx") == (registry.client.DOCKER_HUB, "library/nginx")


def _config(auths: object) -> str:
    return json.dumps({"auths": auths})


@pytest.mark.parametrize(("text", "host", "expected"), [
    (_config({"r.example:5000": {"username": "u", "password": "p"}}), "r.example:5000", ("u", "p")),
    (_config({"https://r.example": {"auth": base64.b64encode(b"u:p:q").decode()}}), "r.example", ("u", "p:q")),
    (_config({"https://index.docker.io/v1/": {"auth": base64.b64encode(b"d:h").decode()}}),
     registry.client.DOCKER_HUB, ("d", "h")),
    (_config({"other.example": {"username": "u", "password": "p"}}), "r.example", None),
])
def test_dockerconfigjson(text: str, host: str, expected: tuple[str, str] | None) -> None:
    found = registry.credentials_from_dockerconfigjson(text, host)
    assert (None if found is None else (found.username, found.password)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "not a JSON object"), ("[]", "not a JSON object"), ('{"auths": []}', "no auths object"),
    (_config({"r.example": {"auth": "%%%"}}), "not base64"), (_config({"r.example": {}}), "neither"),
])
def test_malformed_dockerconfigjson_is_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        registry.credentials_from_dockerconfigjson(text, "r.example")


def test_bearer_token_auth(token_registry: devregistry.Registry, repo_name: str) -> None:
    digest = devregistry.push(token_registry, repo_name, "3.0.0")
    challenge = requests.get(f"https://{token_registry.host}/v2/", verify=str(token_registry.ca_cert), timeout=5)
    assert challenge.status_code == 401 and challenge.headers["WWW-Authenticate"].startswith("Bearer realm=")
    client = _client(token_registry, repo_name)
    assert client.tags() == ["3.0.0"] and client.resolve("3.0.0", created=True).digest == digest
    with pytest.raises(registry.Unauthorized):
        _client(token_registry, repo_name, credentials=registry.Credentials("k8sta", "wrong")).tags()
