"""Pure parts of the daemon's adapters: settings, credentials lookup, app sources, stream parsing, logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from k8sta_daemon.adapters import argocd, logs, repo_credentials, settings
from k8sta_daemon.adapters.git.credentials import ANONYMOUS, Credentials
from k8sta_daemon.core import model, sources

APP = model.AppRef("argocd", "dev")


def test_settings_from_environment(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t\n")
    config = settings.parse([], {"K8STA_ARGOCD_URL": "http://127.0.0.1:8080", "K8STA_ARGOCD_TOKEN_FILE": str(token),
                                 "K8STA_ARGOCD_INSECURE": "true", "K8STA_NAMESPACE": "k8sta", "HOME": "/h"})
    assert config.argocd_token == "s3cr3t"
    assert config.argocd_verify is False
    assert config.lease_namespace == "k8sta"
    assert config.cache_dir == Path("/h/.cache/k8sta")
    assert "s3cr3t" not in repr(config)


def test_input_key_file_is_read_once_and_hidden(tmp_path: Path) -> None:
    key = tmp_path / "input-key"
    key.write_bytes(b"0123456789abcdef0123\n")
    config = settings.parse(["--input-key-file", str(key)], {"K8STA_ARGOCD_URL": "http://a", "K8STA_ARGOCD_TOKEN": "t"})
    assert config.input_key == b"0123456789abcdef0123"
    assert "0123456789" not in repr(config)
    assert settings.parse([], {"K8STA_ARGOCD_URL": "http://a", "K8STA_ARGOCD_TOKEN": "t"}).input_key is None


def test_flags_override_environment(tmp_path: Path) -> None:
    config = settings.parse(["--argocd-url", "https://argo", "--resync-seconds", "2", "--no-leader-election"],
                            {"K8STA_ARGOCD_URL": "http://other", "K8STA_ARGOCD_TOKEN": "t"})
    assert (config.argocd_url, config.resync_seconds, config.leader_election) == ("https://argo", 2.0, False)
    assert config.drift_seconds == 30.0
    assert settings.parse(["--drift-seconds", "2"], {"K8STA_ARGOCD_URL": "http://a", "K8STA_ARGOCD_TOKEN": "t",
                                                     "K8STA_DRIFT_SECONDS": "9"}).drift_seconds == 2.0


def test_unusable_input_key_file_is_named(tmp_path: Path) -> None:
    key = tmp_path / "input-key"
    key.write_bytes(b"short")
    with pytest.raises(settings.SettingsError, match=r"--input-key-file / K8STA_INPUT_KEY_FILE: "):
        settings.parse([], {"K8STA_ARGOCD_URL": "http://a", "K8STA_ARGOCD_TOKEN": "t",
                            "K8STA_INPUT_KEY_FILE": str(key)})


@pytest.mark.parametrize(("argv", "environ", "message"), [
    pytest.param([], {"K8STA_ARGOCD_URL": "http://a"}, "an Argo CD API token is required", id="no-token"),
    pytest.param(["--argocd-token-file", "/nonexistent"], {"K8STA_ARGOCD_URL": "http://a"},
                 "cannot read the Argo CD token file /nonexistent", id="token-file"),
    pytest.param(["--resync-seconds", "soon"], {"K8STA_ARGOCD_URL": "http://a", "K8STA_ARGOCD_TOKEN": "t"},
                 "must be a positive number, got 'soon'", id="resync"),
    pytest.param([], {"K8STA_ARGOCD_URL": "http://a", "K8STA_ARGOCD_TOKEN": "t", "K8STA_DRIFT_SECONDS": "0"},
                 "--drift-seconds / K8STA_DRIFT_SECONDS must be a positive number, got '0'", id="drift"),
])
def test_bad_settings_are_named(argv: list[str], environ: dict[str, str], message: str) -> None:
    with pytest.raises(settings.SettingsError, match=message):
        settings.parse(argv, environ)


def test_argocd_settings_repr_hides_the_token() -> None:
    assert "tok" not in repr(argocd.ArgoCDSettings(url="http://a", token="tok"))


REPOS = [{"url": "https://git.example.com/acme/config.git", "username": "u", "password": "exact"}]
CREDS = [{"url": "https://git.example.com/", "username": "u", "password": "short"},
         {"url": "https://git.example.com/acme/", "password": "longest"},
         {"url": "ssh://git@example.com/", "sshPrivateKey": "KEY"}]


@pytest.mark.parametrize(("url", "expected"), [
    pytest.param("https://git.example.com/acme/config.git", Credentials("u", "exact"), id="exact-repository"),
    pytest.param("https://git.example.com/acme/other.git", Credentials("git", "longest"), id="longest-prefix"),
    pytest.param("https://git.example.com/team/x.git", Credentials("u", "short"), id="shorter-prefix"),
    pytest.param("ssh://git@example.com/a.git", Credentials(ssh_private_key="KEY", ssh_known_hosts=""),
                 id="ssh-key-with-argo-cds-known-hosts-none-listed"),
    pytest.param("file:///srv/repo.git", ANONYMOUS, id="none"),
])
def test_credentials_follow_argo_cds_rule(url: str, expected: Credentials) -> None:
    assert repo_credentials.credentials_from_secrets(REPOS, CREDS, url) == expected


SHOP_URL = "https://git.example.com/shop/config.git"
SCOPED_REPOS = [{"url": SHOP_URL, "password": "shop-only", "project": "shop"},
                {"url": SHOP_URL, "password": "global"},
                {"url": "https://git.example.com/bank/config.git", "password": "bank-only", "project": "bank"}]
SCOPED_CREDS = [{"url": "https://git.example.com/", "password": "global-prefix"},
                {"url": "https://git.example.com/bank/", "password": "bank-prefix", "project": "bank"},
                {"url": "https://git.example.com/", "password": "shop-prefix", "project": "shop"}]


@pytest.mark.parametrize(("url", "project", "expected"), [
    pytest.param(SHOP_URL, "shop", "shop-only", id="the-projects-own-repository-secret-first"),
    pytest.param(SHOP_URL, "web", "global", id="another-projects-app-gets-the-global-one"),
    pytest.param(SHOP_URL, None, "global", id="no-project-global-only"),
    pytest.param("https://git.example.com/bank/config.git", "shop", "shop-prefix",
                 id="never-another-projects-repository-secret"),
    pytest.param("https://git.example.com/bank/config.git", "bank", "bank-only", id="scoped-exact-match"),
    pytest.param("https://git.example.com/bank/other.git", "bank", "bank-prefix", id="scoped-longest-prefix"),
    pytest.param("https://git.example.com/bank/other.git", "web", "global-prefix",
                 id="never-another-projects-repo-creds"),
    pytest.param("https://git.example.com/team/x.git", "shop", "shop-prefix", id="equal-prefix-project-first"),
    pytest.param("https://git.example.com/team/x.git", None, "global-prefix", id="equal-prefix-no-project"),
])
def test_credentials_follow_argo_cds_project_scoping(url: str, project: str | None, expected: str) -> None:
    """Argo CD's "Project scoped Repositories": a Secret with ``project`` serves only that project's
    Applications; a global one serves every Application."""
    found = repo_credentials.credentials_from_secrets(SCOPED_REPOS, SCOPED_CREDS, url, project)
    assert found.password == expected


def test_a_project_scoped_secret_alone_is_never_used_for_other_projects() -> None:
    only = [{"url": SHOP_URL, "password": "shop-only", "project": "shop"}]
    assert repo_credentials.credentials_from_secrets(only, [], SHOP_URL, "web") == ANONYMOUS
    assert repo_credentials.credentials_from_secrets(only, [], SHOP_URL) == ANONYMOUS
    assert repo_credentials.select(only, [], SHOP_URL, "shop") == only[0]


def application(**source: str) -> dict:
    return {"metadata": {"name": "dev", "namespace": "argocd", "annotations": {}},
            "spec": {"source": {**source, "plugin": {"name": "k8sta"}}}}


def test_app_source_by_convention() -> None:
    src = sources.AppSource.from_application(APP, application(repoURL="file:///r", targetRevision="env/dev"), "main")
    assert (src.repo_url, src.branch, src.overlay_dir, src.source_branch) == ("file:///r", "env/dev", "env/dev", "main")


def test_app_source_overrides_by_annotation() -> None:
    app = application(repoURL="file:///r", targetRevision="env/eu")
    app["metadata"]["annotations"] = {sources.OVERLAY_ANNOTATION: "env/prod-eu",
                                      sources.SOURCE_BRANCH_ANNOTATION: "trunk"}
    src = sources.AppSource.from_application(APP, app, "main")
    assert (src.overlay_dir, src.source_branch) == ("env/prod-eu", "trunk")


@pytest.mark.parametrize("source", [{}, {"repoURL": "file:///r"}, {"repoURL": "file:///r", "targetRevision": "HEAD"}],
                         ids=["empty", "no-branch", "head"])
def test_app_source_needs_an_app_branch(source: dict[str, str]) -> None:
    with pytest.raises(sources.InvalidSource, match="must name a repoURL and an app branch"):
        sources.AppSource.from_application(APP, application(**source), "main")


def test_stream_parsing_skips_noise() -> None:
    lines = [b"", b"not json", json.dumps({"result": {"type": "MODIFIED", "application": {"metadata": {"name": "a"}}}}
                                          ).encode(), json.dumps({"error": {"message": "x"}}).encode()]
    assert list(argocd._stream_events(iter(lines))) == [("MODIFIED", {"metadata": {"name": "a"}})]


def test_json_log_lines_carry_ticket_fields() -> None:
    record = logging.LogRecord("k8sta", logging.INFO, __file__, 1, "pushed %s", ("env/dev@abc",), None)
    record.ticket, record.station = "k8sta/api-1", "dev"
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["msg"] == "pushed env/dev@abc" and line["ticket"] == "k8sta/api-1" and line["station"] == "dev"
    assert line["level"] == "info" and line["time"].endswith("Z")
