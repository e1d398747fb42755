"""Redaction of URLs and texts (pure table)."""

from __future__ import annotations

import pytest

from k8sta_daemon.adapters.git import credentials, redact


@pytest.mark.parametrize(("url", "shown", "identity"), [
    pytest.param("https://example.com/a.git", "https://example.com/a.git", "https://example.com/a.git",
                 id="plain"),
    pytest.param("https://u:tok@example.com/a.git", "https://***@example.com/a.git",
                 "https://example.com/a.git", id="user-and-token"),
    pytest.param("https://tok@example.com:8443/a.git", "https://***@example.com:8443/a.git",
                 "https://example.com:8443/a.git", id="token-only-with-port"),
    pytest.param("/srv/git/a.git", "/srv/git/a.git", "/srv/git/a.git", id="local-path"),
    pytest.param("git@github.com:acme/a.git", "git@github.com:acme/a.git", "git@github.com:acme/a.git",
                 id="scp-like-ssh-user-is-no-secret"),
])
def test_url(url: str, shown: str, identity: str) -> None:
    assert redact.url(url) == shown
    assert redact.without_userinfo(url) == identity


@pytest.mark.parametrize(("text", "secrets", "expected"), [
    pytest.param("fatal: could not read from https://u:p4ss@h/x", (), "fatal: could not read from https://***@h/x",
                 id="userinfo-in-text"),
    pytest.param("bad password hunter22 given", ("hunter22",), "bad password *** given", id="secret"),
    pytest.param("key ABCDEF and ABC", ("ABC", "ABCDEF"), "key *** and ***", id="longest-first"),
    pytest.param("nothing here", ("",), "nothing here", id="empty-secret-ignored"),
])
def test_text(text: str, secrets: tuple[str, ...], expected: str) -> None:
    assert redact.text(text, secrets) == expected


def test_credentials_repr_and_secrets() -> None:
    creds = credentials.Credentials(username="bot", password="pw-123", ssh_private_key="-----KEY-----",
                                    ssh_passphrase="phrase-456")

    assert "pw-123" not in repr(creds) and "KEY" not in repr(creds) and "phrase-456" not in repr(creds)
    assert set(creds.secrets) == {"pw-123", "-----KEY-----", "phrase-456"}
    assert "bot" not in creds.secrets  # a user name is not a secret (and masking it would garble text)
