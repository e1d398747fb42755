"""Unit ``PushStation``: render a ticket's snapshot onto a Station's app branches, one atomic push per repository.

Each Application resolves to a repository, an app branch and an overlay (``core.sources``); every group
is one ``appbranch.promote`` (idempotent through the ``K8sTA-Ticket``/``K8sTA-Station`` trailers). Whether
a push may build on a head that is not K8sTA's is ``core.drift.push_base``'s decision (``_judge`` only
translates): a hand edit over a K8sTA branch is landed on and reported in ``Pushed.hand_edits``. Git
errors propagate as they are: ``reactor.execution`` turns them into outcomes. After the commits are
recorded, ``refresh_and_sync`` makes Argo CD look at once. Before anything is written the Applications'
opt-in (``core.authorization``) is asked again with what the cache holds now, and the credentials are
those of the Applications' Argo CD project (``adapters.repo_credentials``).
"""

from __future__ import annotations

import logging
from typing import Any

from k8sta_cmp import contract
from k8sta_daemon.adapters.git import appbranch, errors, redact
from k8sta_daemon.adapters.git.access import GitSettings
from k8sta_daemon.adapters.git.credentials import Credentials
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.core import actions, authorization, drift, model, outcomes, sources
from k8sta_daemon.reactor.refresher import Refresher
from k8sta_daemon.reactor.units.context import Context

log = logging.getLogger("k8sta.controller")


def run(action: actions.PushStation, context: Context) -> outcomes.Outcome:
    git = context.git
    # Only the Applications pushed to (the cache also holds every Application K8sTA does not manage).
    applications = {ref: app for ref in action.applications if (app := context.cache.application(ref)) is not None}
    refused = authorization.unauthorized(action.ticket.namespace, applications.items())
    if refused:  # the opt-in was withdrawn since the decision: push nothing, decide again (the Track blocks)
        return outcomes.Stale("; ".join(refused))
    plan = sources.plan_push(action, applications, git.default_source_branch)
    pushed: list[model.PushedCommit] = []
    edits: dict[str, model.Drift] = {}  # branch -> the hand edit its push lands on (the last one judged)
    for group in plan.groups:
        repo_url = group.repo_url
        mirror = Mirror.open(repo_url, cache_dir=git.mirrors,
                             creds=_credentials(git, repo_url, {s.app: applications[s.app] for s in group.sources}))
        targets = [appbranch.AppTarget(application=contract.ObjectRef(s.app.namespace, s.app.name),
                                       branch=s.branch, overlay_dir=s.overlay_dir) for s in group.sources]
        heads = appbranch.promote(
            mirror, source_branch=group.source_branch, config_commit=plan.config_commit,
            targets=targets, ticket=contract.ObjectRef(action.ticket.namespace, action.ticket.name),
            track=action.track, station=action.station, images=action.snapshot.images,
            kustomize=git.kustomize, limits=git.limits, input_key=git.signing_key(),
            judge=_judge({s.branch: s for s in group.sources}, edits))
        pushed.extend(model.PushedCommit(app=s.app, repo_url=repo_url, branch=s.branch, commit=heads[s.branch])
                      for s in group.sources)
    landed = tuple(e for e in edits.values() if any(p.branch == e.branch and p.app == e.app for p in pushed))
    return outcomes.Pushed(tuple(pushed), hand_edits=landed)


def _credentials(git: GitSettings, repo_url: str, applications: dict[model.AppRef, dict[str, Any]]) -> Credentials:
    """The credentials of the Applications' Argo CD project (``repo_credentials``); one atomic push has one
    set, so Applications of several projects must resolve to the same one."""
    projects = {app: authorization.project_of(application) for app, application in applications.items()}
    found = {project: git.credentials(repo_url, project) for project in sorted(set(projects.values()), key=str)}
    if len(set(found.values())) > 1:
        listed = ", ".join(f"{app} (project {projects[app] or 'none'})" for app in sorted(projects))
        raise sources.InvalidSource(f"Applications {listed} share one atomic push to {redact.url(repo_url)}, but "
                                    "their Argo CD projects have different credentials for it: keep the "
                                    "Applications of one Station's repository in one project")
    return next(iter(found.values()))


def _judge(by_branch: dict[str, sources.AppSource], edits: dict[str, model.Drift]) -> appbranch.Judge:
    """The git adapter's question "may this head be built on?", answered by ``core.drift.push_base``."""

    def judge(facts: appbranch.HeadFacts) -> appbranch.Base:
        try:
            base = drift.push_base(by_branch[facts.branch], facts.sha, facts.ticket, facts.station,
                                   facts.metadata_problem, facts.newest_k8sta)
        except drift.ForeignBranch as exc:
            raise errors.NotAnAppBranch(str(exc)) from None
        if base.hand_edit is None:
            edits.pop(facts.branch, None)
        else:
            edits[facts.branch] = base.hand_edit
        return appbranch.Base(previous=base.previous, hand_edit=base.hand_edit is not None)

    return judge


def refresh_and_sync(commits: tuple[model.PushedCommit, ...], context: Context) -> None:
    """Make Argo CD compare the new commits now instead of at its next poll (syncs are ``RequestSync``'s).

    Best effort: a failure here only delays arrival until Argo CD's own poll, so it is logged, not an outcome.
    With the daemon's ``Refresher`` they are sent from its threads: Argo CD answers a refresh only once
    it is done, and the loop need not wait for that; without one (tests, tools) in line.
    """
    refresher = context.refresher or Refresher(context.argo, context.metrics, workers=0)
    refresher.submit(commit.app for commit in commits)
