"""Unit ``PushStation``: render a ticket's snapshot onto a Station's app branches, one atomic push per repository.

Each Application resolves to a repository, an app branch and an overlay (``core.sources``); every group
is one ``appbranch.promote`` (idempotent through the ``K8sTA-Ticket``/``K8sTA-Station`` trailers). Git
errors propagate as they are: ``reactor.execution`` turns them into outcomes. After the commits are
recorded, ``refresh_and_sync`` makes Argo CD look at once.
"""

from __future__ import annotations

import logging

from k8sta_cmp import contract
from k8sta_daemon.adapters.git import appbranch
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.core import actions, model, outcomes, sources
from k8sta_daemon.reactor.refresher import Refresher
from k8sta_daemon.reactor.units.context import Context

log = logging.getLogger("k8sta.controller")


def run(action: actions.PushStation, context: Context) -> outcomes.Outcome:
    git = context.git
    # Only the Applications pushed to (the cache also holds every Application K8sTA does not manage).
    applications = {ref: app for ref in action.applications if (app := context.cache.application(ref)) is not None}
    plan = sources.plan_push(action, applications, git.default_source_branch)
    pushed: list[model.PushedCommit] = []
    for group in plan.groups:
        repo_url = group.repo_url
        mirror = Mirror.open(repo_url, cache_dir=git.mirrors, creds=git.credentials(repo_url))
        targets = [appbranch.AppTarget(application=contract.ObjectRef(s.app.namespace, s.app.name),
                                       branch=s.branch, overlay_dir=s.overlay_dir) for s in group.sources]
        heads = appbranch.promote(
            mirror, source_branch=group.source_branch, config_commit=plan.config_commit,
            targets=targets, ticket=contract.ObjectRef(action.ticket.namespace, action.ticket.name),
            track=action.track, station=action.station, images=action.snapshot.images,
            kustomize=git.kustomize, limits=git.limits, input_key=git.input_key)
        pushed.extend(model.PushedCommit(app=s.app, repo_url=repo_url, branch=s.branch, commit=heads[s.branch])
                      for s in group.sources)
    return outcomes.Pushed(tuple(pushed))


def refresh_and_sync(commits: tuple[model.PushedCommit, ...], context: Context) -> None:
    """Make Argo CD compare the new commits now instead of at its next poll (syncs are ``RequestSync``'s).

    Best effort: a failure here only delays arrival until Argo CD's own poll, so it is logged, not an outcome.
    With the daemon's ``Refresher`` they are sent from its threads: Argo CD answers a refresh only once
    it is done, and the loop need not wait for that; without one (tests, tools) in line.
    """
    refresher = context.refresher or Refresher(context.argo, context.metrics, workers=0)
    refresher.submit(commit.app for commit in commits)
