"""Where a Station's app branches live: Argo CD Application specs read as push targets (pure).

Caller: the reactor's push unit, with the Applications from its watch cache. By convention an
Application's ``spec.source`` names the repository and its app branch (``targetRevision env/<name>``);
two annotations override the overlay directory and the source branch. The Applications of one Station
are grouped per repository and source branch, so that each group is one atomic push.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.core import actions, model

SOURCE_BRANCH_ANNOTATION = "k8sta.io/source-branch"
OVERLAY_ANNOTATION = "k8sta.io/overlay"
UNKNOWN_APPLICATION_DELAY = 5.0  # seconds until Argo CD's stream has probably caught up


class InvalidSource(ValueError):
    """The Application cannot be promoted as it is written: retrying unchanged cannot help."""


class UnknownApplication(LookupError):
    """Argo CD does not (yet) show the Application: the same push may work shortly."""


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
            raise InvalidSource(f"Application {app} has several sources; K8sTA manages one app branch")
        repo_url, branch = source.get("repoURL"), source.get("targetRevision")
        if not repo_url or not branch or branch == "HEAD":
            raise InvalidSource(f"Application {app} must name a repoURL and an app branch "
                                f"(targetRevision env/<name>), got {branch!r}")
        annotations = (application.get("metadata") or {}).get("annotations") or {}
        return cls(app=app, repo_url=repo_url, branch=branch,
                   overlay_dir=annotations.get(OVERLAY_ANNOTATION, branch),
                   source_branch=annotations.get(SOURCE_BRANCH_ANNOTATION, default_source_branch))


@dataclass(frozen=True)
class PushGroup:
    """The Applications whose app branches one atomic push writes."""

    repo_url: str
    source_branch: str
    sources: tuple[AppSource, ...]


@dataclass(frozen=True)
class PushPlan:
    config_commit: str
    groups: tuple[PushGroup, ...]


def plan_push(action: actions.PushStation, applications: Mapping[model.AppRef, Mapping[str, Any]],
              default_source_branch: str) -> PushPlan:
    """One group per repository and source branch, in a stable order."""
    if action.snapshot.config_commit is None:
        # Never "the tip at push time": each Station would deploy a different config.
        raise InvalidSource(f"ticket {action.ticket} pins no config commit")
    groups: dict[tuple[str, str], list[AppSource]] = {}
    for app in action.applications:
        application = applications.get(app)
        if application is None:
            raise UnknownApplication(f"Application {app} is not known to Argo CD (yet)")
        source = AppSource.from_application(app, application, default_source_branch)
        groups.setdefault((source.repo_url, source.source_branch), []).append(source)
    return PushPlan(config_commit=action.snapshot.config_commit,
                    groups=tuple(PushGroup(repo_url, branch, tuple(group))
                                 for (repo_url, branch), group in sorted(groups.items())))
