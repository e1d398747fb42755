"""Unit ``RepairDrift``: restore K8sTA's content of an app branch on top of a hand edit.

Compare-and-swap on the branch head the drift watcher saw (``action.head``): a branch that moved
since is left alone (``RetryLater``, nothing pushed: the watcher reports the new head, and a newer edit
is a new drift). What the repair commit means for the ticket is ``core.drift.after_repair``'s decision
(``reactor/repairs.py`` carries it out); this unit only pushes and reports the commit.
"""

from __future__ import annotations

from k8sta_daemon.adapters.git import repair
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.core import actions, authorization, model, outcomes, sources
from k8sta_daemon.reactor.units.context import Context

MOVED_DELAY = 2.0  # seconds: about when the drift watcher has looked at the branch again


def run(action: actions.RepairDrift, context: Context) -> outcomes.Outcome:
    application = context.cache.application(action.app)
    if application is None:
        raise sources.UnknownApplication(f"Application {action.app} is not known to Argo CD (yet)")
    namespace = action.ticket.namespace if action.ticket is not None else action.namespace
    refused = authorization.unauthorized(namespace, [(action.app, application)])
    if refused:  # the opt-in was withdrawn since the decision: push nothing, decide again
        return outcomes.Stale("; ".join(refused))
    source = sources.AppSource.from_application(action.app, application, context.git.default_source_branch)
    mirror = Mirror.open(source.repo_url, cache_dir=context.git.mirrors,
                         creds=context.git.credentials(source.repo_url, authorization.project_of(application)))
    sha = repair.restore_over(mirror, action.branch, head=action.head, restore=action.restore)
    if sha is None:
        return outcomes.RetryLater(f"{action.branch} is no longer at {action.head[:12]}: nothing to repair "
                                   "until the drift watcher looks again", MOVED_DELAY)
    return outcomes.Pushed((model.PushedCommit(app=action.app, repo_url=source.repo_url, branch=action.branch,
                                               commit=sha),))
