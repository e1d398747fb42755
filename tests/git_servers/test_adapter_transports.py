"""K8sTA's own git adapter fetches and pushes over HTTPS and SSH as Argo CD users configure them.

Real servers (``served``: lighttpd + git http-backend, sshd + git-shell), the daemon's real adapter
(``Mirror``, ``push``), credentials built from data shaped like Argo CD repository Secrets, and the
contents of ``argocd-ssh-known-hosts-cm`` / ``argocd-tls-certs-cm`` given as data (the Kubernetes read
is ``repo_credentials.FromArgoCDSecrets``, one ``config_map_data`` call per ConfigMap).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pygit2
import pytest
from cryptography.hazmat.primitives import serialization

from k8sta_daemon.adapters import repo_credentials
from k8sta_daemon.adapters.git import credentials, errors, keydir
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.adapters.git.push import RefUpdate, push
from k8sta_devstack.node import gitservers

from .servers import Served, git, git_env

SERVER_HOST = "127.0.0.1"


def _https(served: Served, *, password: str | None = None, insecure: bool = False,
           ca: bool = True) -> tuple[str, credentials.Credentials]:
    url = served.https.repo_url("config")
    secret = {"url": url, "type": "git", "username": served.https.username,
              "password": password if password is not None else served.https.password}
    if insecure:
        secret["insecure"] = "true"
    certs = {SERVER_HOST: served.https.ca_cert.read_text()} if ca else {}
    return url, repo_credentials.credentials_from_secrets([secret], [], url, tls_certs=certs)


def _ssh(served: Served, known_hosts: str) -> tuple[str, credentials.Credentials]:
    url = served.ssh.repo_url("config")
    secret = {"url": url, "type": "git", "sshPrivateKey": served.ssh.client_key.read_text()}
    return url, repo_credentials.credentials_from_secrets([secret], [], url, known_hosts=known_hosts)


def _other_key_line(served: Served, tmp_path: Path) -> str:
    other = tmp_path / "other-host"
    other.mkdir()
    key = " ".join(gitservers._ed25519(other / "key", "another-server").split()[:2])
    return f"{served.ssh.known_hosts_line.split()[0]} {key}\n"


def _commit_on_main(mirror: Mirror) -> str:
    """A new commit on top of main, made in the mirror (what the daemon pushes to an app branch)."""
    parent = mirror.repo.get(mirror.branch_head("main"))
    blob = mirror.repo.create_blob(b"rendered\n")
    builder = mirror.repo.TreeBuilder(parent.tree)
    builder.insert("rendered.yaml", blob, pygit2.enums.FileMode.BLOB)
    sig = pygit2.Signature("K8sTA", "k8sta@example.com")
    return str(mirror.repo.create_commit(None, sig, sig, "render", builder.write(), [parent.id]))


def _server_branch(served: Served, branch: str) -> str | None:
    heads = git("--git-dir", str(served.repos / "config.git"), "for-each-ref", "--format=%(objectname)",
                f"refs/heads/{branch}", env=git_env())
    return heads or None


def _fetch_and_push(url: str, creds: credentials.Credentials, served: Served, cache: Path) -> None:
    mirror = Mirror.open(url, cache_dir=cache, creds=creds)
    mirror.fetch()
    main = _server_branch(served, "main")
    assert mirror.branch_head("main") == main
    assert mirror.ls_remote("main") == main

    commit = _commit_on_main(mirror)
    push(mirror, [RefUpdate(branch="env/dev", new=commit, expected=None)])

    assert _server_branch(served, "env/dev") == commit
    assert mirror.ls_remote("env/dev") == commit


# -- HTTPS ------------------------------------------------------------------------------------------


def test_https_fetch_and_push_trust_the_ca_from_argocd_tls_certs_cm(served: Served, tmp_path: Path) -> None:
    url, creds = _https(served)
    _fetch_and_push(url, creds, served, tmp_path / "mirrors")


def test_https_insecure_repository_secret_skips_the_certificate_check(served: Served, tmp_path: Path) -> None:
    url, creds = _https(served, insecure=True, ca=False)
    _fetch_and_push(url, creds, served, tmp_path / "mirrors")


def test_https_unknown_ca_names_the_host_and_argocd_tls_certs_cm(served: Served, tmp_path: Path) -> None:
    url, creds = _https(served, ca=False)
    mirror = Mirror.open(url, cache_dir=tmp_path / "mirrors", creds=creds)

    for attempt in (mirror.fetch, lambda: mirror.ls_remote("main")):
        with pytest.raises(errors.CertificateRejected) as refused:
            attempt()
        message = str(refused.value)
        assert f"TLS certificate of {SERVER_HOST}" in message
        assert "argocd-tls-certs-cm" in message
        assert served.https.password not in message
    assert mirror.branch_head("main") is None


def test_https_wrong_password_is_refused_and_changes_nothing(served: Served, tmp_path: Path) -> None:
    url, good = _https(served)
    mirror = Mirror.open(url, cache_dir=tmp_path / "mirrors", creds=good)
    mirror.fetch()
    commit = _commit_on_main(mirror)
    _, bad = _https(served, password="not-the-password")
    mirror = Mirror.open(url, cache_dir=tmp_path / "mirrors", creds=bad)

    with pytest.raises(errors.CredentialsRefused) as refused:
        push(mirror, [RefUpdate(branch="env/dev", new=commit, expected=None)])
    with pytest.raises(errors.CredentialsRefused):
        mirror.fetch()

    assert "not-the-password" not in str(refused.value)
    assert _server_branch(served, "env/dev") is None


# -- SSH --------------------------------------------------------------------------------------------


def test_ssh_fetch_and_push_check_the_host_key_from_argocd_ssh_known_hosts_cm(served: Served,
                                                                               tmp_path: Path) -> None:
    url, creds = _ssh(served, served.ssh.known_hosts_line + "\n")
    _fetch_and_push(url, creds, served, tmp_path / "mirrors")


def test_ssh_host_not_listed_is_refused_naming_it_and_nothing_changes(served: Served, tmp_path: Path) -> None:
    url, creds = _ssh(served, KNOWN)  # another host's key only
    mirror = Mirror.open(url, cache_dir=tmp_path / "mirrors", creds=creds)
    host = served.ssh.known_hosts_line.split()[0]

    for attempt in (mirror.fetch, lambda: mirror.ls_remote("main"),
                    lambda: push(mirror, [RefUpdate(branch="env/dev", new=_server_branch(served, "main") or "",
                                                    expected=None)])):
        with pytest.raises(errors.HostKeyRejected) as refused:
            attempt()
        message = str(refused.value)
        assert f"SSH host {host} is not listed" in message
        assert "argocd-ssh-known-hosts-cm" in message and errors.KNOWN_HOSTS_DOCS in message

    assert mirror.branch_head("main") is None
    assert _server_branch(served, "env/dev") is None


def test_ssh_host_listed_with_another_key_is_refused(served: Served, tmp_path: Path) -> None:
    url, creds = _ssh(served, _other_key_line(served, tmp_path))
    mirror = Mirror.open(url, cache_dir=tmp_path / "mirrors", creds=creds)

    with pytest.raises(errors.HostKeyRejected) as refused:
        mirror.fetch()

    host = served.ssh.known_hosts_line.split()[0]
    assert f"SSH host {host} presented another host key than the one listed" in str(refused.value)
    assert mirror.branch_head("main") is None


def test_ssh_key_the_server_does_not_know_is_refused_and_changes_nothing(served: Served, tmp_path: Path) -> None:
    url, creds = _ssh(served, served.ssh.known_hosts_line + "\n")
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    gitservers._ed25519(stranger / "key", "stranger")
    creds = dataclasses.replace(creds, ssh_private_key=(stranger / "key").read_text())
    mirror = Mirror.open(url, cache_dir=tmp_path / "mirrors", creds=creds)

    with pytest.raises(errors.CredentialsRefused) as refused:
        push(mirror, [RefUpdate(branch="env/dev", new=_server_branch(served, "main") or "", expected=None)])

    assert "Permission denied (publickey" in str(refused.value)
    assert "PRIVATE KEY" not in str(refused.value)
    assert _server_branch(served, "env/dev") is None


def test_ssh_key_with_a_passphrase_is_opened_in_memory(served: Served, tmp_path: Path) -> None:
    key = serialization.load_ssh_private_key(served.ssh.client_key.read_bytes(), None)
    locked = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                               serialization.BestAvailableEncryption(b"open sesame")).decode()
    url, creds = _ssh(served, served.ssh.known_hosts_line + "\n")

    _fetch_and_push(url, dataclasses.replace(creds, ssh_private_key=locked, ssh_passphrase="open sesame"), served,
                    tmp_path / "mirrors")

    wrong = Mirror.open(url, cache_dir=tmp_path / "other", creds=dataclasses.replace(
        creds, ssh_private_key=locked, ssh_passphrase="not it"))
    with pytest.raises(errors.CredentialsRefused, match="does not open with its passphrase"):
        wrong.fetch()


def test_ssh_key_lives_in_memory_only_while_the_push_runs(served: Served, tmp_path: Path) -> None:
    # The server's pre-receive hook runs while K8sTA's ssh is connected: it records that ssh's argv.
    record = tmp_path / "ssh-argv"
    hook = served.repos / "config.git" / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        f"for p in $(pgrep -f IdentityAgent=none); do tr '\\0' ' ' </proc/$p/cmdline; echo; done >{record}\n"
        f"for f in $(grep -o -- '-i [^ ]*' {record} | cut -c4-); do stat -c '%a %n' \"$f\" \"$(dirname $f)\"; "
        f"done >{record}.stat\n")
    hook.chmod(0o755)
    url, creds = _ssh(served, served.ssh.known_hosts_line + "\n")

    _fetch_and_push(url, creds, served, tmp_path / "mirrors")

    argv = [line.split() for line in record.read_text().splitlines() if line.startswith("ssh ")]
    keys = {Path(args[args.index("-i") + 1]) for args in argv if "-i" in args}
    assert len(keys) == 1
    key = keys.pop()
    mountinfo = Path("/proc/self/mountinfo").read_text()
    assert keydir.filesystem_type(str(key), mountinfo) in keydir.MEMORY_FILESYSTEMS
    assert not key.is_relative_to(tempfile.gettempdir())
    seen = set((record.parent / "ssh-argv.stat").read_text().splitlines())  # ssh, and git's sh -c running it
    assert seen == {f"600 {key}", f"700 {key.parent}"}
    assert not key.exists() and not key.parent.exists()


def test_key_directory_is_removed_also_on_error() -> None:
    creds = credentials.Credentials(ssh_private_key="-----BEGIN KEY-----\nabc\n-----END KEY-----",
                                    ssh_known_hosts="")
    with pytest.raises(RuntimeError), credentials.cli_auth(creds, "ssh://git@example.com/a.git") as auth:
        directory = Path(auth.env["GIT_SSH_COMMAND"].split(" -i ", 1)[1].split(" ", 1)[0]).parent
        assert directory.is_dir()
        raise RuntimeError("push failed")
    assert not directory.exists()


# -- what Argo CD's objects become (pure) -----------------------------------------------------------


KNOWN = "[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
CERTS = {"git.example.com": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}


@pytest.mark.parametrize(("secret", "url", "expected"), [
    pytest.param({"sshPrivateKey": "KEY"}, "ssh://git@git.example.com:2222/a.git",
                 credentials.Credentials(ssh_private_key="KEY", ssh_known_hosts=KNOWN), id="ssh-known-hosts"),
    pytest.param({"sshPrivateKey": "KEY"}, "git@git.example.com:a.git",
                 credentials.Credentials(ssh_private_key="KEY", ssh_known_hosts=KNOWN), id="scp-like"),
    pytest.param({"sshPrivateKey": "KEY", "insecure": "true"}, "ssh://git@git.example.com/a.git",
                 credentials.Credentials(ssh_private_key="KEY", ssh_known_hosts=KNOWN, insecure=True),
                 id="ssh-insecure"),
    pytest.param({"username": "u", "password": "p"}, "https://git.example.com:8443/a.git",
                 credentials.Credentials("u", "p", tls_ca_pem=CERTS["git.example.com"]), id="https-ca-by-host"),
    pytest.param({"username": "u", "password": "p"}, "https://other.example.com/a.git",
                 credentials.Credentials("u", "p"), id="https-system-cas"),
    pytest.param({"username": "u", "password": "p", "insecure": "true"}, "https://other.example.com/a.git",
                 credentials.Credentials("u", "p", insecure=True), id="https-insecure"),
])
def test_argo_cd_trust_reaches_the_credentials(secret: dict[str, str], url: str,
                                               expected: credentials.Credentials) -> None:
    found = repo_credentials.credentials_from_secrets([{"url": url, **secret}], [], url, known_hosts=KNOWN,
                                                      tls_certs=CERTS)
    assert found == expected


@pytest.mark.parametrize(("path", "expected"), [
    pytest.param("/dev/shm/k8sta-git-x/id", "tmpfs", id="shm"),
    pytest.param("/data/x", "ext4", id="root"),
    pytest.param("/run/user/0/k", "tmpfs", id="longest-mount-point-wins"),
    pytest.param("/runner/x", "ext4", id="prefix-is-not-a-parent"),
])
def test_filesystem_type_from_mountinfo(path: str, expected: str) -> None:
    mountinfo = ("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                 "23 22 0:5 / /dev/shm rw,nosuid,nodev shared:2 - tmpfs tmpfs rw\n"
                 "24 22 0:6 / /run rw shared:3 - tmpfs tmpfs rw\n"
                 "25 24 0:7 / /run/user/0 rw shared:4 - tmpfs tmpfs rw,mode=700\n")
    assert keydir.filesystem_type(path, mountinfo) == expected
