"""Git write credentials for a repository URL and an Argo CD project, and the servers Argo CD trusts.

Caller: the reactor's push, repair and drift units and the config poller (through ``main``'s wiring),
once per mirror they open. The Secrets have Argo CD's format (label ``argocd.argoproj.io/secret-type``
``repository`` or ``repo-creds``; fields ``url``, ``username``/``password`` or ``sshPrivateKey``,
optional ``project`` and ``insecure``) but live in K8sTA's own namespace (``K8STA_REPO_SECRETS_NAMESPACE``,
default ``k8sta``): they hold the *write* credentials K8sTA pushes app branches with, Argo CD keeps
read-only ones, and the controller reads no Secret of Argo CD's namespace (where ``argocd-secret`` and
cluster credentials live). Why: docs/operations.md, "Git credentials".

Argo CD's rules:
- credentials, project scoping included ("Project scoped Repositories and Clusters"): a Secret with a
  ``project`` serves only Applications of that project, one without serves every Application. Among the
  usable Secrets a repository Secret for that exact URL wins (the project's own before a global one),
  else the repo-creds Secret with the longest URL prefix (at equal length the project's own); without
  one, anonymous. A caller that knows no Application (the config poller reading ``main``) passes no
  project and gets only global Secrets. ``insecure: "true"`` skips the SSH host key or TLS certificate
  check, as in Argo CD.
- SSH servers: the known hosts in the ConfigMap ``argocd-ssh-known-hosts-cm`` (key ``ssh_known_hosts``) in
  Argo CD's namespace, checked strictly: a server not listed, or listed with another key, is refused.
- HTTPS servers: the CA bundle under the server's host name in the ConfigMap ``argocd-tls-certs-cm`` (Argo
  CD's namespace), in place of the system's CAs for that host.
The controller may read only those two ConfigMaps there (a Role with ``resourceNames``). The parsing is
pure (``select``, ``credentials_from_secrets``); ``FromRepoSecrets`` only reads the objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from k8sta_daemon.adapters import kube
from k8sta_daemon.adapters.git import transport
from k8sta_daemon.adapters.git.credentials import Credentials

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
KNOWN_HOSTS_CONFIGMAP = "argocd-ssh-known-hosts-cm"
KNOWN_HOSTS_KEY = "ssh_known_hosts"
TLS_CERTS_CONFIGMAP = "argocd-tls-certs-cm"


def _usable(secret: dict[str, str], project: str | None) -> bool:
    scope = secret.get("project") or None
    return scope is None or scope == project


def select(repositories: Sequence[dict[str, str]], repo_creds: Sequence[dict[str, str]], url: str,
           project: str | None = None) -> dict[str, str] | None:
    """The Secret (its decoded data) Argo CD would use for ``url`` in an Application of ``project``."""
    exact = [s for s in repositories if s.get("url") == url and _usable(s, project)]
    if exact:
        return max(exact, key=lambda s: bool(s.get("project")))  # max keeps the first of equals
    prefixes = [s for s in repo_creds if s.get("url") and url.startswith(s["url"]) and _usable(s, project)]
    return max(prefixes, key=lambda s: (len(s["url"]), bool(s.get("project"))), default=None)


def credentials_from_secrets(repositories: Sequence[dict[str, str]], repo_creds: Sequence[dict[str, str]],
                             url: str, project: str | None = None, *, known_hosts: str = "",
                             tls_certs: Mapping[str, str] | None = None) -> Credentials:
    """The credentials of ``select``'s Secret (none without one, or without a key or password in it), with
    the known hosts (SSH) or the host's CA bundle (HTTPS) Argo CD trusts."""
    found = select(repositories, repo_creds, url, project) or {}
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


class FromRepoSecrets:
    """A credentials lookup (``(url, project) -> Credentials``): the labelled Secrets of K8sTA's
    ``namespace``, the trust ConfigMaps of Argo CD's ``trust_namespace``."""

    def __init__(self, kube_api: kube.Kube, namespace: str, trust_namespace: str) -> None:
        self.kube = kube_api
        self.namespace = namespace
        self.trust_namespace = trust_namespace

    def __call__(self, url: str, project: str | None = None) -> Credentials:
        known_hosts = ""
        tls_certs: dict[str, str] = {}
        if transport.is_ssh(url):
            listed = self.kube.config_map_data(self.trust_namespace, KNOWN_HOSTS_CONFIGMAP)
            known_hosts = listed.get(KNOWN_HOSTS_KEY, "")
        elif transport.is_https(url):
            tls_certs = self.kube.config_map_data(self.trust_namespace, TLS_CERTS_CONFIGMAP)
        return credentials_from_secrets(
            self.kube.list_secrets(self.namespace, f"{SECRET_TYPE_LABEL}=repository"),
            self.kube.list_secrets(self.namespace, f"{SECRET_TYPE_LABEL}=repo-creds"), url, project,
            known_hosts=known_hosts, tls_certs=tls_certs)
