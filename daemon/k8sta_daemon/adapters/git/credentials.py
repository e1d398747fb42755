"""Repository credentials, and how they are handed to libgit2 (fetch) and to the git CLI (push).

The caller (the Kubernetes adapter reading a Secret or Argo CD's repository secret) builds a
``Credentials``, with the servers Argo CD trusts (its known hosts, its CA for the host); nothing here
reads Kubernetes. Secrets never appear in a repr or in argv, and never on disk: what the git CLI needs
as a file (an SSH key, the known hosts, a CA bundle) lives in a private memory-backed directory
(``keydir``) for one git run only. ``Credentials.secrets`` feeds the redaction of every error message.

SSH always checks host keys strictly against ``ssh_known_hosts`` (and only those: not the user's or
the system's lists), as Argo CD's repo-server does; ``insecure`` (the repository Secret's field)
turns that check, or an HTTPS server's certificate check, off, as in Argo CD.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from cryptography.hazmat.primitives import serialization
from pygit2.enums import CredentialType

from k8sta_daemon.adapters.git import errors, keydir, redact, transport

# Environment variable names the git CLI's credential helper reads (values only in the child's env).
_ENV_USERNAME = "K8STA_GIT_USERNAME"
_ENV_PASSWORD = "K8STA_GIT_PASSWORD"
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
    ssh_known_hosts: str | None = field(default=None, repr=False)  # OpenSSH known_hosts lines
    tls_ca_pem: str | None = field(default=None, repr=False)        # CA bundle for the HTTPS host
    insecure: bool = False  # Argo CD's `insecure: "true"`: no host key / certificate check

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
            raise errors.CredentialsRefused(f"{self._shown_url}: authentication failed (credentials refused)")
        creds = self._creds
        user = creds.username or username_from_url
        if allowed_types & CredentialType.USERNAME and not (allowed_types & CredentialType.SSH_KEY):
            return pygit2.Username(user or "git")
        if allowed_types & CredentialType.SSH_KEY and creds.ssh_private_key:
            return pygit2.KeypairFromMemory(user or "git", creds.ssh_public_key, creds.ssh_private_key,
                                            creds.ssh_passphrase or "")
        if allowed_types & CredentialType.USERPASS_PLAINTEXT and creds.password is not None:
            return pygit2.UserPass(user or "git", creds.password)
        raise errors.CredentialsRefused(f"{self._shown_url}: the remote asks for credentials this repository "
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
def cli_auth(creds: Credentials, url: str) -> Iterator[CliAuth]:
    """Set up authentication and trust for one git CLI run against ``url``; files live in a private
    memory-backed directory that is removed on exit, also on error."""
    env = _base_env()
    # Reset inherited helpers first; an empty value clears the list.
    config: list[str] = ["-c", "credential.helper="]
    if creds.password is not None:
        config += ["-c", f"credential.helper={_HELPER}"]
        env[_ENV_USERNAME] = creds.username or "git"
        env[_ENV_PASSWORD] = creds.password
    ssh = transport.is_ssh(url)
    ca = transport.is_https(url) and creds.tls_ca_pem is not None and not creds.insecure
    if transport.is_https(url) and creds.insecure:
        env["GIT_SSL_NO_VERIFY"] = "1"
    if not (ssh or ca):
        yield CliAuth(config=tuple(config), env=env)
        return
    with keydir.private_directory() as private:
        if ca:
            bundle = keydir.write_private(private, "ca.pem", creds.tls_ca_pem or "")
            env["GIT_SSL_CAINFO"] = str(bundle)  # the variable, as it wins over http.sslCAInfo
        if ssh:
            env["GIT_SSH_COMMAND"] = _ssh_command(private, creds, url)
        yield CliAuth(config=tuple(config), env=env)


def _ssh_command(private: Path, creds: Credentials, url: str) -> str:
    parts = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
             "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no"]
    if creds.ssh_private_key:
        parts += ["-i", str(keydir.write_private(private, "id", _unlocked_key(creds, url)))]
    if creds.insecure:
        parts += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    else:
        hosts = keydir.write_private(private, "known_hosts", creds.ssh_known_hosts or "")
        parts += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={hosts}"]
    return " ".join(shlex.quote(p) for p in parts)


def _unlocked_key(creds: Credentials, url: str) -> str:
    """The private key as ssh reads it; a passphrase is applied here, in memory, so ssh never asks."""
    key = (creds.ssh_private_key or "").strip() + "\n"
    if not creds.ssh_passphrase:
        return key
    passphrase = creds.ssh_passphrase.encode()
    try:
        if key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----"):
            loaded = serialization.load_ssh_private_key(key.encode(), passphrase)
        else:
            loaded = serialization.load_pem_private_key(key.encode(), passphrase)
    except (ValueError, TypeError):
        raise errors.CredentialsRefused(f"the SSH key for {redact.url(url)} does not open with its passphrase "
                                        "(or is not a private key)") from None
    return loaded.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,  # type: ignore[arg-type]
                                serialization.NoEncryption()).decode()
