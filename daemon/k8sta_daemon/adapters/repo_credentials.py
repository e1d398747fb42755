"""Git credentials and trust for a repository URL, found the way Argo CD finds them, in its namespace.

Caller: the reactor's push unit and the intake's pollers (through ``main``'s wiring), once per use.
Argo CD's rules:
- credentials: a repository Secret (label ``argocd.argoproj.io/secret-type=repository``) for that exact
  URL wins, else the repo-creds Secret with the longest URL prefix; without either, anonymous. The
  Secret's ``insecure: "true"`` skips the SSH host key or TLS certificate check, as in Argo CD.
- SSH servers: the known hosts in the ConfigMap ``argocd-ssh-known-hosts-cm`` (key ``ssh_known_hosts``),
  checked strictly: a server not listed, or listed with another key, is refused.
- HTTPS servers: the CA bundle under the server's host name in the ConfigMap ``argocd-tls-certs-cm``,
  in place of the system's CAs for that host.
The parsing is pure (``credentials_from_secrets``); ``FromArgoCDSecrets`` only reads the objects.
"""

from __future__ import annotations

from collections.abc import Mapping

from k8sta_daemon.adapters import kube
from k8sta_daemon.adapters.git import transport
from k8sta_daemon.adapters.git.credentials import Credentials

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
KNOWN_HOSTS_CONFIGMAP = "argocd-ssh-known-hosts-cm"
KNOWN_HOSTS_KEY = "ssh_known_hosts"
TLS_CERTS_CONFIGMAP = "argocd-tls-certs-cm"


def credentials_from_secrets(repositories: list[dict[str, str]], repo_creds: list[dict[str, str]], url: str, *,
                             known_hosts: str = "", tls_certs: Mapping[str, str] | None = None) -> Credentials:
    """Argo CD's rule: an exact repository Secret wins, else the longest repo-creds URL prefix; with the
    known hosts (SSH) or the host's CA bundle (HTTPS) Argo CD trusts."""
    match = next((s for s in repositories if s.get("url") == url), None)
    if match is None:
        prefixes = [s for s in repo_creds if s.get("url") and url.startswith(s["url"])]
        match = max(prefixes, key=lambda s: len(s["url"]), default=None)
    found = match or {}
    host = transport.https_host(url) if transport.is_https(url) else None
    trust = {"ssh_known_hosts": known_hosts if transport.is_ssh(url) else None,
             "tls_ca_pem": (tls_certs or {}).get(host) if host else None}
    insecure = found.get("insecure", "").strip().lower() == "true"
    if found.get("sshPrivateKey"):
        return Credentials(ssh_private_key=found["sshPrivateKey"], insecure=insecure, **trust)
    if found.get("password"):
        return Credentials(username=found.get("username") or "git", password=found["password"], insecure=insecure,
                           **trust)
    return Credentials(insecure=insecure, **trust)


class FromArgoCDSecrets:
    """A credentials lookup (``url -> Credentials``) over the Secrets and ConfigMaps in Argo CD's namespace."""

    def __init__(self, kube_api: kube.Kube, namespace: str) -> None:
        self.kube = kube_api
        self.namespace = namespace

    def __call__(self, url: str) -> Credentials:
        known_hosts = ""
        tls_certs: dict[str, str] = {}
        if transport.is_ssh(url):
            known_hosts = self.kube.config_map_data(self.namespace, KNOWN_HOSTS_CONFIGMAP).get(KNOWN_HOSTS_KEY, "")
        elif transport.is_https(url):
            tls_certs = self.kube.config_map_data(self.namespace, TLS_CERTS_CONFIGMAP)
        return credentials_from_secrets(
            self.kube.list_secrets(self.namespace, f"{SECRET_TYPE_LABEL}=repository"),
            self.kube.list_secrets(self.namespace, f"{SECRET_TYPE_LABEL}=repo-creds"), url,
            known_hosts=known_hosts, tls_certs=tls_certs)
