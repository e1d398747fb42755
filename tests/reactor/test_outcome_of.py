"""reactor.execution.outcome_of: the one place that turns an adapter's exception into an outcome."""

from __future__ import annotations

import pytest

from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.git import errors as git_errors
from k8sta_daemon.core import outcomes, sources
from k8sta_daemon.reactor.execution import outcome_of


@pytest.mark.parametrize(("exc", "expected"), [
    (kube.Conflict("409 on ticket", 409), outcomes.Stale("409 on ticket")),
    (kube.NotFound("Ticket a/b is not in the cache"), outcomes.Unavailable("Ticket a/b is not in the cache")),
    (argocd.ArgoCDUnavailable("HTTP 503"), outcomes.Unavailable("HTTP 503")),
    # Argo CD's answer to a sync request, shown on the ticket (the request is asked again with backoff)
    (argocd.ArgoCDRefused("Argo CD API POST /api/v1/applications/a/sync: HTTP 400 Cannot sync to abc: auto-sync "
                          "currently set to env/dev", 400, "HTTP 400: Cannot sync to abc: auto-sync currently set "
                          "to env/dev"),
     outcomes.Refused("HTTP 400: Cannot sync to abc: auto-sync currently set to env/dev")),
    (argocd.ArgoCDRefused("HTTP 403 cannot sync: blocked by sync window", 403),
     outcomes.Refused("HTTP 403 cannot sync: blocked by sync window")),
    (git_errors.CredentialsRefused("https://git.example/r.git: authentication failed (credentials refused)"),
     outcomes.PushFailed("https://git.example/r.git: authentication failed (credentials refused)")),
    (git_errors.TransportFailed("remote hung up", delay=30.0), outcomes.RetryLater("remote hung up", 30.0)),
    (git_errors.BranchMoved("env/dev kept moving"), outcomes.RetryLater("env/dev kept moving", 1.0)),
    (sources.UnknownApplication("Application argocd/x is not known"),
     outcomes.RetryLater("Application argocd/x is not known", sources.UNKNOWN_APPLICATION_DELAY)),
    (git_errors.RenderFailed("kustomize build failed"), outcomes.PushFailed("kustomize build failed")),
    (git_errors.PushRejected("hook declined"), outcomes.PushFailed("hook declined")),
    (sources.InvalidSource("pins no config commit"), outcomes.PushFailed("pins no config commit")),
], ids=lambda v: type(v).__name__)
def test_adapter_errors_become_outcomes(exc: Exception, expected: outcomes.Outcome) -> None:
    assert outcome_of(exc) == expected


def test_anything_else_is_broken_never_an_aborted_pass() -> None:
    assert outcome_of(KeyError("status")) == outcomes.Broken("KeyError: 'status'")
    assert outcome_of(OSError(28, "No space left on device")) == outcomes.Broken(
        "OSError: [Errno 28] No space left on device")
