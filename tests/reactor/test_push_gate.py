"""The push unit asks again before it writes: an Application whose opt-in was withdrawn since the decision
is not pushed (``Stale``: decide again, and the Track blocks), and the credentials are those of the
Applications' Argo CD project. Real git (a file:// config repository) and the pinned kustomize; the unit
touches neither the API server nor Argo CD on these paths (the refresh after a push is Argo CD's part of
the real-stack tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from k8sta_cmp import safety
from k8sta_cmp.contract import ImagePin
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git.credentials import ANONYMOUS, Credentials
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import actions, authorization, model, outcomes
from k8sta_daemon.reactor import units
from k8sta_daemon.reactor.cache import Cache
from k8sta_daemon.reactor.execution import outcome_of
from k8sta_devstack import railway as rail
from k8sta_devstack.gitrepo import ConfigRepo

NS = "team-b"
DEV, WEB = model.AppRef("argocd", "dev"), model.AppRef("argocd", "web")
TOKEN = "s3cr3t-shop-token"


def application(ref: model.AppRef, repo: ConfigRepo, authorized: str | None,
                project: str = "default") -> dict[str, Any]:
    annotations = {authorization.ANNOTATION: authorized} if authorized is not None else {}
    return {"metadata": {"name": ref.name, "namespace": ref.namespace, "annotations": annotations,
                         "resourceVersion": "1"},
            "spec": {"project": project, "source": {"repoURL": repo.url, "targetRevision": f"env/{ref.name}",
                                                    "path": ".", "plugin": {"name": "k8sta"}}}}


def by_project(url: str, project: str | None = None) -> Credentials:
    """Project ``shop`` has a scoped Secret for the repository; everyone else pushes anonymously."""
    return Credentials.token(TOKEN) if project == "shop" else ANONYMOUS


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return ConfigRepo.create(tmp_path / "config.git")


def push(repo: ConfigRepo, apps: list[dict[str, Any]], kustomize: Kustomize, tmp_path: Path) -> outcomes.Outcome:
    config = repo.commit("main", {**rail.base(), **rail.overlay("dev"), **rail.overlay("web")}, "config")
    cache = Cache()
    cache.set_apps(apps)
    git = units.GitSettings(mirrors=tmp_path / "mirrors", credentials=by_project, kustomize=kustomize,
                            limits=safety.Limits(), default_source_branch="main")
    context = units.Context(kube=None, argo=None, cache=cache, metrics=Metrics(), git=git)  # type: ignore[arg-type]
    refs = tuple(app_ref(a) for a in apps)
    action = actions.PushStation(model.TicketRef(NS, "t1"), "line", "dev", refs,
                                 model.Snapshot(config, (ImagePin(rail.IMAGE, "1.0.0"),)))
    try:
        return units.UNITS[actions.PushStation](action, context)
    except Exception as exc:  # as the executor turns it into an outcome
        return outcome_of(exc)


def app_ref(app: dict[str, Any]) -> model.AppRef:
    return model.AppRef(app["metadata"]["namespace"], app["metadata"]["name"])


def test_an_opt_in_withdrawn_after_the_decision_stops_the_push(repo: ConfigRepo, kustomize: Kustomize,
                                                               tmp_path: Path) -> None:
    outcome = push(repo, [application(DEV, repo, "team-a")], kustomize, tmp_path)
    assert isinstance(outcome, outcomes.Stale)
    assert f"Application argocd/dev authorizes only namespace(s) team-a ({authorization.ANNOTATION}), not {NS}" \
        in outcome.reason
    assert repo.head("env/dev") is None


def test_applications_of_projects_with_different_credentials_are_not_pushed_together(
        repo: ConfigRepo, kustomize: Kustomize, tmp_path: Path) -> None:
    outcome = push(repo, [application(DEV, repo, NS, "shop"), application(WEB, repo, NS, "web")], kustomize,
                   tmp_path)
    assert isinstance(outcome, outcomes.PushFailed)
    assert "argocd/dev (project shop), argocd/web (project web) share one atomic push" in outcome.reason
    assert TOKEN not in outcome.reason
    assert repo.head("env/dev") is None and repo.head("env/web") is None


def test_opted_in_applications_of_one_project_are_pushed(repo: ConfigRepo, kustomize: Kustomize,
                                                         tmp_path: Path) -> None:
    """The control case (the file:// remote takes any credentials)."""
    outcome = push(repo, [application(DEV, repo, f"team-a,{NS}"), application(WEB, repo, NS)], kustomize, tmp_path)
    assert isinstance(outcome, outcomes.Pushed), outcome
    assert {c.branch: c.commit for c in outcome.commits} == {"env/dev": repo.head("env/dev"),
                                                            "env/web": repo.head("env/web")}

