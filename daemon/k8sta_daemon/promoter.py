"""Pushing a ticket's snapshot to the app branches of a Station's Applications (the git side of PushStation).

Callers: the executor. It resolves each Application (from Argo CD's view of it) to a repository,
an app branch and an overlay, groups them per repository and source branch so that each group is one
atomic push, and finds credentials the way Argo CD does: a repository Secret for that exact URL, else
the repo-creds Secret with the longest matching URL prefix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k8sta_cmp import contract, safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import appbranch, errors
from k8sta_daemon.adapters.git.credentials import ANONYMOUS, Credentials
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.core import actions, model

SOURCE_BRANCH_ANNOTATION = "k8sta.io/source-branch"
OVERLAY_ANNOTATION = "k8sta.io/overlay"
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"


@dataclass(frozen=True)
class AppSource:
    """Where one Application's app branch lives, derived from its spec by convention."""

    app: model.AppRef
    repo_url: str
    branch: str
    overlay_dir: str
    source_branch: str

    @classmethod
    def from_application(cls, app: model.AppRef, application: Mapping[str, Any],
                         default_source_branch: str) -> AppSource:
        spec = application.get("spec") or {}
        source = spec.get("source") or {}
        if not source and spec.get("sources"):
            raise errors.InvalidRequest(f"Application {app} has several sources; K8sTA manages one app branch")
        repo_url, branch = source.get("repoURL"), source.get("targetRevision")
        if not repo_url or not branch or branch == "HEAD":
            raise errors.InvalidRequest(f"Application {app} must name a repoURL and an app branch "
                                        f"(targetRevision env/<name>), got {branch!r}")
        annotations = (application.get("metadata") or {}).get("annotations") or {}
        return cls(app=app, repo_url=repo_url, branch=branch,
                   overlay_dir=annotations.get(OVERLAY_ANNOTATION, branch),
                   source_branch=annotations.get(SOURCE_BRANCH_ANNOTATION, default_source_branch))


CredentialsLookup = Callable[[str], Credentials]


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


class Promoter:
    def __init__(self, cache_dir: Path, credentials: CredentialsLookup, kustomize: Kustomize,
                 limits: safety.Limits, default_source_branch: str) -> None:
        self.cache_dir = cache_dir / "mirrors"
        self.credentials = credentials
        self.kustomize = kustomize
        self.limits = limits
        self.default_source_branch = default_source_branch

    def push_station(self, action: actions.PushStation,
                     applications: Mapping[model.AppRef, Mapping[str, Any]]) -> list[model.PushedCommit]:
        """Promote the snapshot onto every Application's branch: one atomic push per repository."""
        if action.snapshot.config_commit is None:
            # Never "the tip at push time": each Station would deploy a different config.
            raise errors.InvalidRequest(f"ticket {action.ticket} pins no config commit")
        groups: dict[tuple[str, str], list[AppSource]] = defaultdict(list)
        for app in action.applications:
            application = applications.get(app)
            if application is None:
                raise errors.RetryLater(f"Application {app} is not known to Argo CD (yet)", delay=5.0)
            source = AppSource.from_application(app, application, self.default_source_branch)
            groups[(source.repo_url, source.source_branch)].append(source)
        pushed: list[model.PushedCommit] = []
        for (repo_url, source_branch), sources in sorted(groups.items()):
            mirror = Mirror.open(repo_url, cache_dir=self.cache_dir, creds=self.credentials(repo_url))
            targets = [appbranch.AppTarget(application=contract.ObjectRef(s.app.namespace, s.app.name),
                                           branch=s.branch, overlay_dir=s.overlay_dir) for s in sources]
            heads = appbranch.promote(
                mirror, source_branch=source_branch, config_commit=action.snapshot.config_commit,
                targets=targets, ticket=contract.ObjectRef(action.ticket.namespace, action.ticket.name),
                track=action.track, station=action.station, images=action.snapshot.images,
                kustomize=self.kustomize, limits=self.limits)
            pushed.extend(model.PushedCommit(app=s.app, repo_url=repo_url, branch=s.branch, commit=heads[s.branch])
                          for s in sources)
        return pushed
