"""Real registries for the intake tests: Debian's docker-registry on 127.0.0.1, one anonymous over plain
HTTP, one with TLS and htpasswd basic auth; started per module on free ports in temp dirs, stopped after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from k8sta_devstack import processes
from k8sta_devstack import registry as devregistry


@pytest.fixture(scope="module")
def supervisor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Supervisor]:
    sup = processes.Supervisor(tmp_path_factory.mktemp("registry-logs"))
    yield sup
    sup.stop_all()


@pytest.fixture(scope="module")
def plain_registry(supervisor: processes.Supervisor, tmp_path_factory: pytest.TempPathFactory) -> devregistry.Registry:
    return devregistry.start(tmp_path_factory.mktemp("registry-plain"), supervisor, auth=False, name="registry-plain")


@pytest.fixture(scope="module")
def auth_registry(supervisor: processes.Supervisor, tmp_path_factory: pytest.TempPathFactory) -> devregistry.Registry:
    return devregistry.start(tmp_path_factory.mktemp("registry-auth"), supervisor, auth=True, name="registry-auth")


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository of its own per test (``shop/<test name>``)."""
    return "shop/" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:60]




@pytest.fixture(scope="module")
def token_registry(supervisor: processes.Supervisor,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[devregistry.Registry]:
    """A registry with bearer-token auth: the WWW-Authenticate challenge names a token server (TLS)."""
    from . import tokenserver

    directory = tmp_path_factory.mktemp("registry-token")
    servers = []

    def token(keys: Any) -> dict[str, str]:
        server = tokenserver.start(directory, keys.serving_cert, keys.serving_key, devregistry.USERNAME,
                                   devregistry.PASSWORD)
        servers.append(server)
        return {"realm": server.url, "service": tokenserver.SERVICE, "issuer": tokenserver.ISSUER,
                "rootcertbundle": str(server.bundle)}

    try:
        yield devregistry.start(directory / "registry", supervisor, auth=True, name="registry-token", token=token)
    finally:
        for server in servers:
            server.stop()
