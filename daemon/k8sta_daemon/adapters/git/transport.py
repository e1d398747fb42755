"""Which transport a repository URL uses, who its server is, and what a failed git run means.

Callers: ``mirror`` (fetch, ls-remote) and ``push``. libgit2 (pygit2) fetches over HTTPS with the
system's CAs; everything that needs per-repository trust runs the git CLI instead, because libgit2
keeps trust process-wide (its CA locations, ``~/.ssh/known_hosts``) and pygit2 hands its certificate
callback no certificate or host key to check: SSH (strict host keys against Argo CD's known hosts),
and HTTPS with a CA from ``argocd-tls-certs-cm`` or the repository Secret's ``insecure``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from k8sta_daemon.adapters.git import errors

if TYPE_CHECKING:  # credentials imports this module
    from k8sta_daemon.adapters.git.credentials import Credentials

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^/@:]+)@)?(?P<host>[^/:]+):(?!//)")


def is_ssh(url: str) -> bool:
    """``ssh://…``, ``git+ssh://…`` or scp-like ``user@host:path``."""
    scheme = urlsplit(url).scheme
    return scheme in ("ssh", "git+ssh", "ssh+git") or ("://" not in url and bool(_SCP_LIKE.match(url)))


def is_https(url: str) -> bool:
    return urlsplit(url).scheme == "https"


def ssh_host(url: str) -> str:
    """The server as OpenSSH and ``argocd-ssh-known-hosts-cm`` name it: ``host``, or ``[host]:port``
    when the port is not 22."""
    if "://" not in url:
        match = _SCP_LIKE.match(url)
        return match["host"] if match else url
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 22
    return host if port == 22 else f"[{host}]:{port}"


def https_host(url: str) -> str:
    """The server's host name: the key of its CA bundle in ``argocd-tls-certs-cm`` (no port)."""
    return urlsplit(url).hostname or ""


def needs_cli(url: str, creds: Credentials) -> bool:
    """Whether fetching ``url`` needs the git CLI (per-repository trust) rather than libgit2."""
    return is_ssh(url) or (is_https(url) and (creds.tls_ca_pem is not None or creds.insecure))


_HOST_UNKNOWN = ("host key verification failed", "no ed25519 host key is known", "host key is known",
                 "unknown remote ssh hostkey", "invalid or unknown remote ssh hostkey")
_HOST_CHANGED = "remote host identification has changed"
_CERTIFICATE = ("ssl certificate problem", "certificate verify failed", "the ssl certificate is invalid",
                "server certificate verification failed", "certificate is not valid", "unable to get local issuer",
                "self-signed certificate", "self signed certificate", "no alternative certificate subject name",
                "rejected certificate")


def summary(output: str, limit: int = 500) -> str:
    """The lines of git's stderr that say what went wrong (``fatal:``/``error:`` and ssh's refusal of
    our key, else the last three)."""
    lines = [" ".join(line.split()) for line in output.splitlines() if line.strip()]
    wanted = [line for line in lines
              if line.startswith(("fatal:", "error:")) or errors.refuses_credentials(line)] or lines[-3:]
    text = " ".join(wanted) or "git exited with an error and no message"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure(what: str, url: str, shown_url: str, output: str) -> errors.GitError:
    """The error for a failed ``what`` (``"fetching"``, ``"push to"``…) of ``url``, from git's or
    libgit2's (already redacted) words ``output``: trust first, then credentials, else the network."""
    lowered = " ".join(output.lower().split())
    detail = summary(output)
    if is_ssh(url) and (_HOST_CHANGED in lowered or any(m in lowered for m in _HOST_UNKNOWN)):
        host = ssh_host(url)
        why = ("presented another host key than the one listed for it" if _HOST_CHANGED in lowered
               else "is not listed")
        return errors.HostKeyRejected(
            f"{what} {shown_url} refused: SSH host {host} {why} in Argo CD's known hosts (ConfigMap "
            f"argocd-ssh-known-hosts-cm, key ssh_known_hosts); add the server's key there, see "
            f"{errors.KNOWN_HOSTS_DOCS}")
    if is_https(url) and any(m in lowered for m in _CERTIFICATE):
        host = https_host(url)
        return errors.CertificateRejected(
            f"{what} {shown_url} refused: the TLS certificate of {host} did not verify ({detail}); add its CA "
            f"to Argo CD's ConfigMap argocd-tls-certs-cm under the key {host} (or set insecure: \"true\" in the "
            f"repository Secret), see {errors.TLS_CERTS_DOCS}")
    message = f"{what} {shown_url} failed: {detail}"
    if errors.refuses_credentials(lowered):
        return errors.CredentialsRefused(message)
    return errors.TransportFailed(message)
