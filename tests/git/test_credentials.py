"""How credentials reach the git CLI: secrets only in the child's environment or a private temp file."""

from __future__ import annotations

import stat
from pathlib import Path

from k8sta_daemon.adapters.git import credentials


def test_password_goes_through_the_environment_not_argv() -> None:
    creds = credentials.Credentials(username="bot", password="pw-secret-1")

    with credentials.cli_auth(creds, "https://git.example.com/a.git") as auth:
        assert all("pw-secret-1" not in arg for arg in auth.config)
        assert "pw-secret-1" in auth.env.values()
        assert auth.env["GIT_TERMINAL_PROMPT"] == "0"
        assert auth.config[:2] == ("-c", "credential.helper=")  # inherited helpers are reset first


def test_ssh_key_lives_in_a_private_file_only_during_the_push() -> None:
    creds = credentials.Credentials(ssh_private_key="-----BEGIN KEY-----\nabc\n-----END KEY-----",
                                    ssh_known_hosts="example.com ssh-ed25519 AAAA\n")

    with credentials.cli_auth(creds, "ssh://git@example.com/a.git") as auth:
        command = auth.env["GIT_SSH_COMMAND"]
        key = Path(command.split(" -i ", 1)[1].split(" ", 1)[0])
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_text().startswith("-----BEGIN KEY-----")
        assert "StrictHostKeyChecking=yes" in command and "BatchMode=yes" in command
        assert "abc" not in command

    assert not key.exists()
