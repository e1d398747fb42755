"""Git credentials for a repository URL, found the way Argo CD finds them, from its Secrets.

Caller: the reactor's push unit (through ``main``'s wiring), once per push. Argo CD's rule: a
repository Secret (label ``argocd.argoproj.io/secret-type=repository``) for that exact URL wins, else
the repo-creds Secret with the longest URL prefix; without either the push is anonymous.
"""

from __future__ import annotations

from k8sta_daemon.adapters import kube
from k8sta_daemon.adapters.git.credentials import ANONYMOUS, Credentials

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"


def credentials_from_secrets(repositories: list[dict[str, str]], repo_creds: list[dict[str, str]],
                             url: str) -> Credentials:
    """Argo CD's rule: an exact repository Secret wins, else the longest repo-creds URL prefix."""
    match = next((s for s in repositories if s.get("url") == url), None)
    if match is None:
        prefixes = [s for s in repo_creds if s.get("url") and url.startswith(s["url"])]
        match = max(prefixes, key=lambda s: len(s["url"]), default=None)
    if match is None:
        return ANONYMOUS
    if match.get("sshPrivateKey"):
        return Credentials(ssh_private_key=match["sshPrivateKey"])
    if match.get("password"):
        return Credentials(username=match.get("username") or "git", password=match["password"])
    return ANONYMOUS


class FromArgoCDSecrets:
    """A credentials lookup (``url -> Credentials``) over the Secrets in Argo CD's namespace."""

    def __init__(self, kube_api: kube.Kube, namespace: str) -> None:
        self.kube = kube_api
        self.namespace = namespace

    def __call__(self, url: str) -> Credentials:
        return credentials_from_secrets(
            self.kube.list_secrets(self.namespace, f"{SECRET_TYPE_LABEL}=repository"),
            self.kube.list_secrets(self.namespace, f"{SECRET_TYPE_LABEL}=repo-creds"), url)
