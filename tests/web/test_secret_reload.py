"""Webhook secrets are re-read when the kubelet replaces the mounted Secret: a rotated secret works and
the old one stops working on the next request, without restarting the web part; a broken update keeps
the secrets read before (and says so in the log), never turning webhooks off or letting anything in."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from daemon_adapters.mounted import MountedSecret  # tests/ is the rootdir of the test packages
from flask.testing import FlaskClient

from .conftest import offline_app

OLD = b"- {namespace: shop, token: old-secret}\n"
NEW = b"- {namespace: shop, token: new-secret}\n"


def post(client: FlaskClient, token: str) -> int:
    response = client.post("/webhooks/image", data=json.dumps({"namespace": "bank", "image": "acme/api:1"}),
                           headers={"Content-Type": "application/json", "X-K8sTA-Token": token})
    return response.status_code  # 403: proved a secret (outside its scope, refused before the API); 401: none


def client_of(unreachable_kubeconfig: Path, secret: MountedSecret) -> FlaskClient:
    return offline_app(unreachable_kubeconfig, WEBHOOK_TOKEN=None,
                       WEBHOOK_SECRETS_FILE=str(secret.path("secrets.yaml"))).test_client()


def test_a_rotated_webhook_secret_is_used_on_the_next_request(unreachable_kubeconfig: Path, tmp_path: Path) -> None:
    secret = MountedSecret(tmp_path / "webhooks", {"secrets.yaml": OLD})
    client = client_of(unreachable_kubeconfig, secret)
    assert (post(client, "old-secret"), post(client, "new-secret")) == (403, 401)
    secret.update({"secrets.yaml": NEW})
    assert (post(client, "old-secret"), post(client, "new-secret")) == (401, 403)


def test_a_broken_update_keeps_the_secrets_read_before(unreachable_kubeconfig: Path, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    secret = MountedSecret(tmp_path / "webhooks", {"secrets.yaml": OLD})
    client = client_of(unreachable_kubeconfig, secret)
    secret.update({"secrets.yaml": b"- {namespace: shop}\n"})
    with caplog.at_level(logging.ERROR):
        assert post(client, "old-secret") == 403
        assert post(client, "old-secret") == 403
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [f"K8STA_WEBHOOK_SECRETS_FILE {secret.path('secrets.yaml')}: entry 0 needs a token; keeping "
                      "the previous one until the file changes again"]
    secret.update({"secrets.yaml": NEW})
    assert post(client, "new-secret") == 403


def test_webhooks_turn_on_when_the_secret_is_created_and_off_when_it_is_deleted(
        unreachable_kubeconfig: Path, tmp_path: Path) -> None:
    """The install mounts the Secret as optional: an empty directory until it is created."""
    directory = tmp_path / "webhooks"
    directory.mkdir()
    client = offline_app(unreachable_kubeconfig, WEBHOOK_TOKEN=None,
                         WEBHOOK_SECRETS_FILE=str(directory / "secrets.yaml")).test_client()
    assert post(client, "new-secret") == 503
    secret = MountedSecret(directory, {"secrets.yaml": NEW})
    assert post(client, "new-secret") == 403
    secret.update({})
    assert post(client, "new-secret") == 503
