"""Where a Station's app branches live: Argo CD Application specs read as push targets (pure).

Caller: the reactor's push unit, with the Applications from its watch cache. By convention an
Application's ``spec.source`` names the repository and its app branch (``targetRevision env/<name>``);
two annotations override the overlay directory and the source branch. The Applications of one Station
are grouped per repository and source branch, so that each group is one atomic push.

Multi-source Applications (``spec.sources``, which Argo CD uses instead of ``spec.source`` whenever
it is non-empty): K8sTA promotes the one source that uses its plugin (``plugin.name`` ``k8sta``, or
``k8sta-<version>``); the others (a ``ref:`` values source, plain manifests, Helm) are Argo CD's alone.
A one-element list is read like ``spec.source``. More than one k8sta source, or several sources and
none of them k8sta's, is refused (``InvalidSource``) with a message saying which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.core import actions, model

SOURCE_BRANCH_ANNOTATION = "k8sta.io/source-branch"
OVERLAY_ANNOTATION = "k8sta.io/overlay"
UNKNOWN_APPLICATION_DELAY = 5.0  # seconds until Argo CD's stream has probably caught up
PLUGIN_NAME = "k8sta"  # plugin.yaml's name; Argo CD names a versioned plugin ``<name>-<version>``


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
        _position, source = k8sta_source(app, spec)
        if not is_k8sta(source):
            # Its branch is not an app branch: a push would write K8sTA's files over what Argo CD
            # renders from it (a Helm chart, another team's directory, the Source Hydrator's output).
            raise InvalidSource(f"Application {app} does not render through the {PLUGIN_NAME} plugin (it uses "
                                f"{renderer(spec, source)}); K8sTA pushes only app branches the plugin renders: "
                                f"set plugin: {{name: {PLUGIN_NAME}}} on its source, or name another Application")
        repo_url, branch = source.get("repoURL"), source.get("targetRevision")
        if not repo_url or not branch or branch == "HEAD":
            raise InvalidSource(f"Application {app} must name a repoURL and an app branch "
                                f"(targetRevision env/<name>), got {branch!r}")
        annotations = (application.get("metadata") or {}).get("annotations") or {}
        return cls(app=app, repo_url=repo_url, branch=branch,
                   overlay_dir=annotations.get(OVERLAY_ANNOTATION, branch),
                   source_branch=annotations.get(SOURCE_BRANCH_ANNOTATION, default_source_branch))


def is_k8sta(source: Any) -> bool:
    """Whether an Application source renders through K8sTA's plugin."""
    plugin = source.get("plugin") if isinstance(source, Mapping) else None
    name = plugin.get("name") if isinstance(plugin, Mapping) else None
    return isinstance(name, str) and (name == PLUGIN_NAME or name.startswith(f"{PLUGIN_NAME}-"))


def renderer(spec: Mapping[str, Any], source: Mapping[str, Any]) -> str:
    """What renders an Application that is not K8sTA's, in the words of its spec (for refusals)."""
    if spec.get("sourceHydrator"):
        return "Argo CD's Source Hydrator, spec.sourceHydrator"
    plugin = source.get("plugin")
    if isinstance(plugin, Mapping):
        return f"the plugin {plugin.get('name')!r}" if plugin.get("name") else "a plugin found by discovery"
    if source.get("chart") or source.get("helm"):
        return "Helm"
    if source.get("kustomize"):
        return "Argo CD's kustomize"
    if source.get("directory"):
        return "a directory of manifests"
    if not source:
        return "no source K8sTA can read"
    return "Argo CD's built-in rendering: kustomize, Helm or plain manifests, by what its path holds"


def k8sta_source(app: model.AppRef, spec: Mapping[str, Any]) -> tuple[int | None, Mapping[str, Any]]:
    """The source K8sTA promotes and its 1-based position in ``spec.sources`` (None: ``spec.source``).

    Argo CD reads ``spec.sources`` whenever it is non-empty (``HasMultipleSources``), so this does too.
    """
    listed = spec.get("sources")
    if isinstance(listed, list) and listed:
        ours = [(i, s) for i, s in enumerate(listed, 1) if is_k8sta(s)]
        if len(ours) > 1:
            raise InvalidSource(f"Application {app} has {len(ours)} sources using the {PLUGIN_NAME} plugin "
                                f"(positions {', '.join(str(i) for i, _ in ours)} of spec.sources); K8sTA "
                                "manages one app branch per Application: keep one k8sta source")
        if ours:
            return ours[0]
        if len(listed) == 1 and isinstance(listed[0], Mapping):
            return 1, listed[0]
        raise InvalidSource(f"Application {app} has {len(listed)} sources and none uses the {PLUGIN_NAME} "
                            f"plugin; name it in the app branch's source (plugin: {{name: {PLUGIN_NAME}}}) so "
                            "K8sTA knows which source to promote")
    source = spec.get("source")
    return None, source if isinstance(source, Mapping) else {}


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
