"""Git write credentials for a repository URL and an Argo CD project, found the way Argo CD finds them.

Caller: the reactor's push, repair and drift units and the config poller (through ``main``'s wiring),
once per mirror they open. The Secrets have Argo CD's format (label ``argocd.argoproj.io/secret-type``
``repository`` or ``repo-creds``; fields ``url``, ``username``/``password`` or ``sshPrivateKey``,
optional ``project``) but live in K8sTA's own namespace (``K8STA_REPO_SECRETS_NAMESPACE``, default
``k8sta``): they hold the *write* credentials K8sTA pushes app branches with, Argo CD keeps read-only
ones, and the controller needs no access to Argo CD's namespace (where ``argocd-secret`` and cluster
credentials live). Why: docs/operations.md, "Git credentials".

Argo CD's rule, project scoping included ("Project scoped Repositories and Clusters"): a Secret with a
``project`` serves only Applications of that project, one without serves every Application. Among the
usable Secrets a repository Secret for that exact URL wins (the project's own before a global one),
else the repo-creds Secret with the longest URL prefix (at equal length the project's own); without
one the push is anonymous. A caller that knows no Application (the config poller reading ``main``)
passes no project and gets only global Secrets.
"""

from __future__ import annotations

from collections.abc import Sequence

from k8sta_daemon.adapters import kube
from k8sta_daemon.adapters.git.credentials import ANONYMOUS, Credentials

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"


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
                             url: str, project: str | None = None) -> Credentials:
    """The credentials of ``select``'s Secret (anonymous without one, or without a key or password in it)."""
    match = select(repositories, repo_creds, url, project)
    if match is None:
        return ANONYMOUS
    if match.get("sshPrivateKey"):
        return Credentials(ssh_private_key=match["sshPrivateKey"])
    if match.get("password"):
        return Credentials(username=match.get("username") or "git", password=match["password"])
    return ANONYMOUS


class FromRepoSecrets:
    """A credentials lookup (``(url, project) -> Credentials``) over the labelled Secrets of one namespace."""

    def __init__(self, kube_api: kube.Kube, namespace: str) -> None:
        self.kube = kube_api
        self.namespace = namespace

    def __call__(self, url: str, project: str | None = None) -> Credentials:
        return credentials_from_secrets(
            self.kube.list_secrets(self.namespace, f"{SECRET_TYPE_LABEL}=repository"),
            self.kube.list_secrets(self.namespace, f"{SECRET_TYPE_LABEL}=repo-creds"), url, project)
