"""Rotated Secrets are used without a restart: the Argo CD token, the input key (controller) and the
webhook secrets (web part) are re-read when the kubelet replaces their mounted files.

Real files, updated the way the kubelet updates a mounted Secret (``mounted``), and a real loopback
HTTP server for what the Argo CD client sends. No clock: a change is seen on the next use.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from k8sta_daemon.adapters import argocd, secretfile, settings
from k8sta_daemon.adapters.git.access import GitSettings

from .mounted import MountedSecret

OLD_KEY = b"old-key-0123456789abcdef"
NEW_KEY = b"new-key-0123456789abcdef"


class Recorder:
    """A loopback HTTP server that records the Authorization header of each request."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.authorizations.append(self.headers.get("Authorization"))
                body = json.dumps({"Version": "v3.6.2"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_the_argo_cd_client_sends_the_rotated_token(tmp_path: Path, recorder: Recorder) -> None:
    secret = MountedSecret(tmp_path / "argocd", {"token": b"token-one\n"})
    config = settings.parse(["--argocd-token-file", str(secret.path("token"))], {"K8STA_ARGOCD_URL": recorder.url})
    client = argocd.ArgoCD(argocd.ArgoCDSettings(url=config.argocd_url, token=config.argocd_token,
                                                 token_source=config.argocd_token_source))
    client.version()
    secret.update({"token": b"token-two\n"})
    client.version()
    assert recorder.authorizations == ["Bearer token-one", "Bearer token-two"]
    assert "token-two" not in repr(config) and "token-two" not in repr(client.settings)


def test_an_emptied_token_file_keeps_the_last_token_and_says_so_once(tmp_path: Path, recorder: Recorder,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    secret = MountedSecret(tmp_path / "argocd", {"token": b"token-one"})
    config = settings.parse(["--argocd-token-file", str(secret.path("token"))], {"K8STA_ARGOCD_URL": recorder.url})
    client = argocd.ArgoCD(argocd.ArgoCDSettings(url=config.argocd_url, token=config.argocd_token,
                                                 token_source=config.argocd_token_source))
    secret.update({"token": b"\n"})
    with caplog.at_level(logging.ERROR, logger=secretfile.__name__):
        client.version()
        client.version()
    assert recorder.authorizations == ["Bearer token-one", "Bearer token-one"]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == (f"the Argo CD token file {secret.path('token')}: the file is empty; keeping the "
                                   "previous one until the file changes again")
    secret.update({"token": b"token-three"})
    client.version()
    assert recorder.authorizations[-1] == "Bearer token-three"


def test_the_argocd_url_follows_the_argocd_namespace() -> None:
    """One setting moves Argo CD: its namespace; the API address follows unless set on its own."""
    environ = {"K8STA_ARGOCD_TOKEN": "t"}
    assert settings.parse([], environ).argocd_url == "https://argocd-server.argocd.svc"
    moved = settings.parse(["--argocd-namespace", "gitops"], environ)
    assert (moved.argocd_namespace, moved.argocd_url) == ("gitops", "https://argocd-server.gitops.svc")
    assert settings.parse(["--argocd-namespace", "gitops", "--argocd-url", "https://argo.example"],
                          environ).argocd_url == "https://argo.example"


def test_pushes_sign_with_the_rotated_input_key(tmp_path: Path) -> None:
    secret = MountedSecret(tmp_path / "input-key", {"key": OLD_KEY})
    config = settings.parse(["--input-key-file", str(secret.path("key"))], {"K8STA_ARGOCD_TOKEN": "t"})
    git = GitSettings(mirrors=tmp_path, credentials=lambda _url, _project=None: None,  # type: ignore[arg-type,return-value]
                      kustomize=None, limits=None, default_source_branch="main",  # type: ignore[arg-type]
                      input_key=config.input_key, input_key_source=config.input_key_source)
    assert git.signing_key() == OLD_KEY
    secret.update({"key": NEW_KEY + b"\n", "previous-key": OLD_KEY})
    assert git.signing_key() == NEW_KEY
    secret.update({"key": b"short"})  # refused: signing goes on with the last good key
    assert git.signing_key() == NEW_KEY
    secret.update({})  # the Secret removed: nothing is signed, as when it never existed
    assert git.signing_key() is None


def test_an_input_key_created_after_the_start_is_used(tmp_path: Path) -> None:
    """The install mounts the Secret as optional: creating it later turns signing on."""
    directory = tmp_path / "input-key"
    directory.mkdir()
    config = settings.parse(["--input-key-file", str(directory / "key")], {"K8STA_ARGOCD_TOKEN": "t"})
    assert config.input_key is None and config.input_key_source is not None
    assert config.input_key_source() is None
    MountedSecret(directory, {"key": NEW_KEY})
    assert config.input_key_source() == NEW_KEY


def test_a_file_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    """Outside Kubernetes (a file edited by hand or a config tool): a changed size or time is enough."""
    path = tmp_path / "token"
    path.write_text("one")
    source = secretfile.SecretFile(path, lambda c: (c or b"").decode(), what="a token")
    assert source.get() == "one"
    path.write_text("three")
    assert source.get() == "three"
