"""Serve bare config repositories the two ways users serve one: HTTPS with basic auth, and SSH.

Callers: the real-node stack (inside its network namespace, through ``launcher``) and the tests of
K8sTA's git adapter (on host loopback). Both servers are Debian's, run as supervised processes with a
config of their own in ``state`` (never the system services, never a file outside ``state``):

- **HTTPS**: lighttpd (``lighttpd`` + ``lighttpd-mod-openssl``) runs ``git http-backend`` as a CGI,
  with basic auth from an htpasswd file and a serving certificate from a CA generated here (IP SANs
  for the bind address). lighttpd over nginx: CGI and basic auth are built in, so it is one process
  and one config file; nginx cannot run CGI and needs fcgiwrap as a second supervised process and
  socket. Push is enabled for authenticated users (``http.receivepack``).
- **SSH**: ``sshd -D -e -f <own config>`` on its own port with an ed25519 host key generated per
  stack; ``authorized_keys`` forces ``git-shell`` (``restrict,command=…``) for the user running the
  stack (root here: ``PermitRootLogin prohibit-password``). Repositories are named by absolute path.
  sshd insists on its privilege-separation directory ``/run/sshd``; rather than create it on the host,
  sshd runs in a private mount namespace (``unshare --mount``) with a tmpfs on ``/run``, which vanishes
  with the process.

Readiness is read from each server's own log ("server started", "Server listening"), so it holds
also when ``launcher`` runs the server in another network namespace the host cannot dial.
"""

from __future__ import annotations

import getpass
import ipaddress
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from k8sta_devstack import pki, processes

USERNAME = "k8sta"
_LIGHTTPD = "/usr/sbin/lighttpd"
_SSHD = "/usr/sbin/sshd"
_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


@dataclass(frozen=True)
class HttpsServer:
    """A running HTTPS git server: ``url`` + ``<name>.git`` is a repository's clone URL."""

    url: str
    ca_cert: Path
    htpasswd: Path
    username: str
    password_file: Path  # 0600, the password of ``username``

    def repo_url(self, name: str) -> str:
        return f"{self.url}{name}.git"

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()


@dataclass(frozen=True)
class SshServer:
    """A running SSH git server: ``repo_url(name)`` is ``ssh://<user>@<host>:<port><root>/<name>.git``."""

    url: str
    root: Path
    known_hosts_line: str       # ``[host]:port ssh-ed25519 …``: what argocd-ssh-known-hosts-cm lists
    host_key: Path
    authorized_keys: Path
    client_key: Path            # 0600, OpenSSH private key of the one user allowed in
    client_public_key: str

    def repo_url(self, name: str) -> str:
        return f"{self.url}{self.root}/{name}.git"


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def _host(address: str) -> str:
    """``address`` as it goes into a URL (IPv6 in brackets)."""
    return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address


def _log_says(log: Path, offset: int, line: str) -> processes.ReadyCheck:
    """Ready once ``line`` appears in ``log`` after ``offset`` (earlier runs append to the same log)."""
    def check() -> bool:
        with log.open("rb") as handle:
            handle.seek(offset)
            return line.encode() in handle.read()
    return check


def _log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def _require(path: str, package: str) -> None:
    if not Path(path).exists():
        raise processes.StartError(f"{path} not found (Debian package {package}): run toolchain/debian-deps.sh")


def start_https(state: Path, supervisor: processes.Supervisor, *, repos: Path, address: str = "127.0.0.1",
                port: int | None = None, launcher: Sequence[str] = (), name: str = "git-https",
                timeout: float = 30.0) -> HttpsServer:
    """Serve the bare repositories in ``repos`` over HTTPS with basic auth; return once it listens."""
    _require(_LIGHTTPD, "lighttpd")
    _require("/usr/lib/lighttpd/mod_openssl.so", "lighttpd-mod-openssl")
    _require(_HTTP_BACKEND, "git")
    port = port or processes.free_port()
    state.mkdir(parents=True, exist_ok=True)
    keys = pki.generate_server(state / "pki", "git-https", [address])
    password = secrets.token_urlsafe(18)
    password_file = _write(state / "password", password + "\n", 0o600)
    htpasswd = subprocess.run(["htpasswd", "-niB", USERNAME], input=password, capture_output=True, text=True,
                              check=True).stdout
    htpasswd_file = _write(state / "htpasswd", htpasswd, 0o600)
    (state / "uploads").mkdir(exist_ok=True)
    config = f"""\
server.modules = ("mod_auth", "mod_authn_file", "mod_alias", "mod_setenv", "mod_cgi", "mod_openssl")
server.document-root = "{repos}"
server.bind = "{address}"
server.port = {port}
server.upload-dirs = ("{state / 'uploads'}")
server.max-request-size = 0
ssl.engine = "enable"
ssl.pemfile = "{keys.serving_cert}"
ssl.privkey = "{keys.serving_key}"
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "{htpasswd_file}"
auth.require = ("/" => ("method" => "basic", "realm" => "k8sta-git", "require" => "valid-user"))
alias.url = ("/" => "{_HTTP_BACKEND}/")
cgi.assign = ("" => "")
setenv.set-environment = (
  "PATH" => "{_PATH}",
  "GIT_PROJECT_ROOT" => "{repos}",
  "GIT_HTTP_EXPORT_ALL" => "1",
  "GIT_CONFIG_NOSYSTEM" => "1",
  "GIT_CONFIG_GLOBAL" => "/dev/null",
  "GIT_CONFIG_COUNT" => "1",
  "GIT_CONFIG_KEY_0" => "http.receivepack",
  "GIT_CONFIG_VALUE_0" => "true",
)
"""
    conf = _write(state / "lighttpd.conf", config)
    log = supervisor.log_dir / f"{name}.log"
    offset = _log_size(log)
    proc = supervisor.launch(name, [*launcher, _LIGHTTPD, "-D", "-f", conf], env={"PATH": _PATH}, cwd=state)
    processes.wait_ready(proc, _log_says(log, offset, "server started"), timeout)
    return HttpsServer(url=f"https://{_host(address)}:{port}/", ca_cert=keys.ca_cert, htpasswd=htpasswd_file,
                       username=USERNAME, password_file=password_file)


def _ed25519(path: Path, comment: str) -> str:
    """Write a new ed25519 private key to ``path`` (0600, OpenSSH format); return its public line."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    _write(path, private, 0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{public.decode()} {comment}"


def known_hosts_host(address: str, port: int) -> str:
    """How OpenSSH (and argocd-ssh-known-hosts-cm) names a host: bare on port 22, else ``[host]:port``."""
    return address if port == 22 else f"[{address}]:{port}"


def start_ssh(state: Path, supervisor: processes.Supervisor, *, repos: Path, address: str = "127.0.0.1",
              port: int | None = None, launcher: Sequence[str] = (), name: str = "git-ssh",
              timeout: float = 30.0) -> SshServer:
    """Serve the bare repositories in ``repos`` (by absolute path) over SSH; return once it listens."""
    _require(_SSHD, "openssh-server")
    git_shell = shutil.which("git-shell")
    if git_shell is None:
        raise processes.StartError("git-shell not found (Debian package git): run toolchain/debian-deps.sh")
    port = port or processes.free_port()
    state.mkdir(parents=True, exist_ok=True)
    user = getpass.getuser()
    host_key = state / "ssh_host_ed25519_key"
    host_public = " ".join(_ed25519(host_key, "k8sta-devstack-git").split()[:2])
    client_key = state / "client_ed25519"
    client_public = _ed25519(client_key, "k8sta-devstack-client")
    forced = f'restrict,command="{git_shell} -c \\"$SSH_ORIGINAL_COMMAND\\"" {client_public}\n'
    authorized = _write(state / "authorized_keys", forced, 0o600)
    # StrictModes no: sshd checks every directory up to / for group/world write, and a state dir under
    # /tmp (tests) fails that although each file here is ours and 0600.
    config = f"""\
Port {port}
ListenAddress {_host(address)}
HostKey {host_key}
PidFile none
AuthorizedKeysFile {authorized}
AllowUsers {user}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
AllowAgentForwarding no
AllowTcpForwarding no
X11Forwarding no
PermitTunnel no
PermitUserEnvironment no
AcceptEnv GIT_PROTOCOL
LogLevel INFO
"""
    conf = _write(state / "sshd_config", config)
    log = supervisor.log_dir / f"{name}.log"
    offset = _log_size(log)
    # A private mount namespace with a tmpfs on /run gives sshd its /run/sshd without creating it on the host.
    inner = (f"umask 022 && mount -t tmpfs -o mode=0755 k8sta-sshd-run /run && mkdir /run/sshd "
             f"&& exec {_SSHD} -D -e -f {conf}")
    argv = [*launcher, "unshare", "--mount", "--propagation", "private", "sh", "-c", inner]
    proc = supervisor.launch(name, argv, env={"PATH": _PATH}, cwd=state)
    processes.wait_ready(proc, _log_says(log, offset, "Server listening on"), timeout)
    return SshServer(url=f"ssh://{user}@{_host(address)}:{port}", root=repos,
                     known_hosts_line=f"{known_hosts_host(address, port)} {host_public}",
                     host_key=host_key, authorized_keys=authorized, client_key=client_key,
                     client_public_key=client_public)
