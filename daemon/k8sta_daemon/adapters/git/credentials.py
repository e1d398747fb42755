"""Repository credentials, and how they are handed to libgit2 (fetch) and to the git CLI (push).

The caller (the Kubernetes adapter reading a Secret or Argo CD's repository secret) builds a
``Credentials``; nothing here reads Kubernetes. Secrets never appear in a repr, in argv or on disk
longer than one push (an SSH key for the git CLI lives in a private temporary directory), and
``Credentials.secrets`` feeds the redaction of every error message.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import CredentialType

from k8sta_daemon.adapters.git import errors, redact

# Environment variable names the git CLI's credential helper reads (values only in the child's env).
_ENV_USERNAME = "K8STA_GIT_USERNAME"
_ENV_PASSWORD = "K8STA_GIT_PASSWORD"
_ENV_PASSPHRASE = "K8STA_SSH_PASSPHRASE"
# A credential helper answering `get` from the environment; it drains stdin so git never sees EPIPE.
_HELPER = (
    '!f() { cat >/dev/null; test "$1" = get || return 0; '
    f'printf "username=%s\\npassword=%s\\n" "${_ENV_USERNAME}" "${_ENV_PASSWORD}"; }}; f'
)
# What the git CLI may see of the daemon's environment (proxies, as libgit2 fetches honour them too).
_PASSED_THROUGH = frozenset({
    "PATH", "HOME", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
})
# libgit2 calls the credentials callback again after each refusal; stop after this many calls.
_MAX_CREDENTIAL_CALLS = 3


@dataclass(frozen=True)
class Credentials:
    """How to authenticate to one repository: HTTPS username/password (or token), or an SSH key."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssh_private_key: str | None = field(default=None, repr=False)
    ssh_public_key: str | None = field(default=None, repr=False)
    ssh_passphrase: str | None = field(default=None, repr=False)
    ssh_known_hosts: str | None = field(default=None, repr=False)

    @classmethod
    def token(cls, token: str, username: str = "x-access-token") -> Credentials:
        """A bearer-style token for HTTPS; forges accept any non-empty user name next to it."""
        return cls(username=username, password=token)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never show up in logs or error messages."""
        return tuple(s for s in (self.password, self.ssh_private_key, self.ssh_passphrase) if s)


ANONYMOUS = Credentials()


class _Callbacks(pygit2.RemoteCallbacks):
    """Answers libgit2's credential requests from a Credentials object, a bounded number of times."""

    def __init__(self, creds: Credentials, shown_url: str) -> None:
        super().__init__()
        self._creds = creds
        self._shown_url = shown_url
        self._calls = 0

    def credentials(self, url: str, username_from_url: str | None,
                    allowed_types: CredentialType) -> pygit2.Username | pygit2.UserPass | pygit2.Keypair:
        self._calls += 1
        if self._calls > _MAX_CREDENTIAL_CALLS:
            raise errors.TransportFailed(f"{self._shown_url}: authentication failed (credentials refused)")
        creds = self._creds
        user = creds.username or username_from_url
        if allowed_types & CredentialType.USERNAME and not (allowed_types & CredentialType.SSH_KEY):
            return pygit2.Username(user or "git")
        if allowed_types & CredentialType.SSH_KEY and creds.ssh_private_key:
            return pygit2.KeypairFromMemory(user or "git", creds.ssh_public_key, creds.ssh_private_key,
                                            creds.ssh_passphrase or "")
        if allowed_types & CredentialType.USERPASS_PLAINTEXT and creds.password is not None:
            return pygit2.UserPass(user or "git", creds.password)
        raise errors.TransportFailed(f"{self._shown_url}: the remote asks for credentials this repository "
                                     "has none of (configure a username/password, token or SSH key)")


def remote_callbacks(creds: Credentials, url: str) -> pygit2.RemoteCallbacks:
    """Callbacks for a libgit2 fetch of ``url``."""
    return _Callbacks(creds, redact.url(url))


@dataclass(frozen=True)
class CliAuth:
    """What a git CLI child process needs: ``-c`` options (no secrets) and its environment."""

    config: tuple[str, ...]
    env: dict[str, str]


def _base_env() -> dict[str, str]:
    # Only what git and ssh need; user/system git config must not change how we push.
    env = {k: v for k, v in os.environ.items() if k in _PASSED_THROUGH}
    env.update({
        "LANG": "C", "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    })
    return env


@contextmanager
def cli_auth(creds: Credentials) -> Iterator[CliAuth]:
    """Set up authentication for one git CLI run; any key material is deleted on exit."""
    env = _base_env()
    # Reset inherited helpers first; an empty value clears the list.
    config: list[str] = ["-c", "credential.helper="]
    with tempfile.TemporaryDirectory(prefix="k8sta-git-auth-") as tmp:
        if creds.password is not None:
            config += ["-c", f"credential.helper={_HELPER}"]
            env[_ENV_USERNAME] = creds.username or "git"
            env[_ENV_PASSWORD] = creds.password
        if creds.ssh_private_key:
            env["GIT_SSH_COMMAND"] = _ssh_command(Path(tmp), creds, env)
        yield CliAuth(config=tuple(config), env=env)


def _ssh_command(tmp: Path, creds: Credentials, env: dict[str, str]) -> str:
    key = tmp / "id"
    key.touch(mode=0o600)
    key.write_text(creds.ssh_private_key.rstrip("\n") + "\n" if creds.ssh_private_key else "")
    parts = ["ssh", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]
    if creds.ssh_known_hosts:
        hosts = tmp / "known_hosts"
        hosts.write_text(creds.ssh_known_hosts)
        parts += ["-o", f"UserKnownHostsFile={hosts}", "-o", "StrictHostKeyChecking=yes"]
    if creds.ssh_passphrase:
        askpass = tmp / "askpass"
        askpass.write_text(f'#!/bin/sh\nprintf "%s\\n" "${_ENV_PASSPHRASE}"\n')
        askpass.chmod(0o700)
        env.update({_ENV_PASSPHRASE: creds.ssh_passphrase, "SSH_ASKPASS": str(askpass),
                    "SSH_ASKPASS_REQUIRE": "force"})
    else:
        parts += ["-o", "BatchMode=yes"]
    return " ".join(parts)
