"""The devstack's git servers serve a config repository as users serve one (HTTPS basic auth, SSH).

Driven with the plain git CLI and OpenSSH, on host loopback, so these tests say nothing of K8sTA's own
adapter (tests/git_servers/test_adapter_transports.py does that): only that the servers accept the
right credentials and host key, and refuse the wrong ones.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from k8sta_devstack import processes
from k8sta_devstack.node import gitservers

from .servers import Served, git, git_env


def _ssh_env(served: Served, known_hosts: Path) -> dict[str, str]:
    command = (f"ssh -F /dev/null -i {served.ssh.client_key} -o IdentitiesOnly=yes -o BatchMode=yes "
               f"-o UserKnownHostsFile={known_hosts} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes")
    return git_env(GIT_SSH_COMMAND=command)


def _clone_edit_push(url: str, work: Path, env: dict[str, str]) -> str:
    git("clone", "-q", url, str(work), env=env)
    (work / "pushed.txt").write_text(f"{url}\n")
    git("-C", str(work), "add", "pushed.txt", env=env)
    git("-C", str(work), "commit", "-qm", "over the wire", env=env)
    git("-C", str(work), "push", "-q", "origin", "HEAD:refs/heads/env/dev", env=env)
    return git("-C", str(work), "rev-parse", "HEAD", env=env)


def test_https_clone_and_push_with_the_password(served: Served, tmp_path: Path) -> None:
    creds = served.https.username + ":" + served.https.password
    url = served.https.repo_url("config").replace("https://", f"https://{creds}@")
    env = git_env(GIT_SSL_CAINFO=str(served.https.ca_cert))

    head = _clone_edit_push(url, tmp_path / "work", env)

    assert git("--git-dir", str(served.repos / "config.git"), "rev-parse", "env/dev", env=env) == head


def test_https_wrong_password_is_refused_with_401(served: Served, tmp_path: Path) -> None:
    context = ssl.create_default_context(cafile=str(served.https.ca_cert))
    request = urllib.request.Request(served.https.repo_url("config") + "/info/refs?service=git-upload-pack")
    request.add_header("Authorization", "Basic " + base64.b64encode(b"k8sta:not-the-password").decode())

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10, context=context)
    assert refused.value.code == 401

    url = served.https.repo_url("config").replace("https://", "https://k8sta:not-the-password@")
    done = subprocess.run(["git", "clone", "-q", url, str(tmp_path / "work")], capture_output=True, text=True,
                          env=git_env(GIT_SSL_CAINFO=str(served.https.ca_cert)), check=False)
    assert done.returncode != 0 and "Authentication failed" in done.stderr
    assert not (tmp_path / "work").exists()


def test_https_without_the_ca_is_refused(served: Served, tmp_path: Path) -> None:
    creds = served.https.username + ":" + served.https.password
    url = served.https.repo_url("config").replace("https://", f"https://{creds}@")
    done = subprocess.run(["git", "ls-remote", url], capture_output=True, text=True, env=git_env(), check=False)
    assert done.returncode != 0 and "certificate" in done.stderr.lower()


def test_ssh_clone_and_push_with_strict_host_key_checking(served: Served, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(served.ssh.known_hosts_line + "\n")

    head = _clone_edit_push(served.ssh.repo_url("config"), tmp_path / "work", _ssh_env(served, known_hosts))

    assert git("--git-dir", str(served.repos / "config.git"), "rev-parse", "env/dev", env=git_env()) == head


def test_ssh_with_a_wrong_host_key_is_refused(served: Served, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    wrong = gitservers._ed25519(other / "key", "someone-else").split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(served.ssh.known_hosts_line.split()[0] + " " + " ".join(wrong) + "\n")

    done = subprocess.run(["git", "ls-remote", served.ssh.repo_url("config")], capture_output=True, text=True,
                          env=_ssh_env(served, known_hosts), check=False)

    assert done.returncode != 0
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in done.stderr
    assert "Host key verification failed" in done.stderr


def test_ssh_only_runs_git_shell(served: Served, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(served.ssh.known_hosts_line + "\n")
    ssh = _ssh_env(served, known_hosts)["GIT_SSH_COMMAND"].split()
    host = served.ssh.url.removeprefix("ssh://").rsplit(":", 1)

    done = subprocess.run([*ssh, "-p", host[1], host[0], f"touch {tmp_path}/escaped"],
                          capture_output=True, text=True, check=False)

    assert done.returncode != 0 and not (tmp_path / "escaped").exists()


def test_stopped_servers_leave_nothing_on_the_host(tmp_path: Path) -> None:
    supervisor = processes.Supervisor(tmp_path / "logs")
    run_sshd_before = Path("/run/sshd").exists()
    https = gitservers.start_https(tmp_path / "https", supervisor, repos=tmp_path)
    ssh = gitservers.start_ssh(tmp_path / "ssh", supervisor, repos=tmp_path)
    pids = [proc.pid for proc in supervisor.processes]

    supervisor.stop_all()

    assert all(not processes.alive(pid, None) for pid in pids)
    assert Path("/run/sshd").exists() == run_sshd_before  # sshd's /run was a tmpfs of its own
    for url in (https.url, ssh.url):
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                                   check=True).stdout
        assert listening.strip() == ""
