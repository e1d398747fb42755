"""TLS to Argo CD's API is verified: against the CA the install mounts (``K8STA_ARGOCD_CA_FILE``), with a
clear error when the server's certificate is not signed by it, and a clear startup error when the CA file
the install points at does not exist yet. A real HTTPS server on loopback with throw-away certificates."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from k8sta_daemon.adapters import argocd, settings
from k8sta_devstack import pki


class _Version(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"Version": "v3.0.0+test"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback that answers ``/api/version``, and the CA that signed its certificate."""
    server_pki = pki.generate_server(tmp_path / "server", "argocd-server", ["127.0.0.1"], ["localhost"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Version)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_pki.serving_cert, server_pki.serving_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", server_pki.ca_cert
    finally:
        server.shutdown()
        thread.join(timeout=10)


def client(url: str, verify: bool | str) -> argocd.ArgoCD:
    return argocd.ArgoCD(argocd.ArgoCDSettings(url=url, token="not-a-secret", verify=verify, timeout=10))


def test_the_mounted_ca_verifies_argocd(https: tuple[str, Path]) -> None:
    url, ca = https
    assert client(url, str(ca)).version() == "v3.0.0+test"


def test_a_certificate_from_another_ca_is_a_clear_error(https: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = https
    other = pki.generate_server(tmp_path / "other", "elsewhere", ["127.0.0.1"]).ca_cert
    with pytest.raises(argocd.ArgoCDUnavailable) as raised:
        client(url, str(other)).version()
    assert str(raised.value) == (
        f"Argo CD API GET /api/version: TLS verification failed: Argo CD's server certificate is not signed by "
        f"the CA in K8STA_ARGOCD_CA_FILE ({other}), or does not name the host of {url}")
    with pytest.raises(argocd.ArgoCDUnavailable, match="not signed by the CA in the system's CA bundle"):
        client(url, True).version()


def test_a_ca_file_that_does_not_exist_stops_the_controller_at_startup(tmp_path: Path) -> None:
    missing = tmp_path / "argocd-ca" / "ca.crt"
    env = {"K8STA_ARGOCD_URL": "https://argocd-server.argocd.svc", "K8STA_ARGOCD_TOKEN": "t",
           "K8STA_ARGOCD_CA_FILE": str(missing)}
    with pytest.raises(settings.SettingsError) as raised:
        settings.parse([], env)
    assert str(raised.value) == (
        f"--argocd-ca-file / K8STA_ARGOCD_CA_FILE {missing} does not exist: create the ConfigMap k8sta-argocd-ca "
        "(key ca.crt: the CA of Argo CD's server certificate; docs/operations.md, step 3)")
    missing.parent.mkdir()
    missing.write_text("-----BEGIN CERTIFICATE-----\n")
    assert settings.parse([], env).argocd_verify == str(missing)
