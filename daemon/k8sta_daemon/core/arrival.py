"""The arrival rules for one Application of a visit: has Argo CD deployed our commit, and how is it?

Callers: ``core.decide`` (every visit, every pass). Pure and table-tested (tests/daemon/test_decide.py):
the rules follow Argo CD's documented behaviour (an automated sync starts no operation when the render
did not change, and never retries a commit it attempted; timestamps have whole seconds).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from k8sta_daemon.core import model


class AppVerdict(enum.Enum):
    """How one Application stands with respect to the commit we pushed for it."""

    HEALTHY = "Healthy"  # arrived
    PENDING = "Pending"  # Argo CD has not synced and reconciled our commit yet
    PROGRESSING = "Progressing"  # reconciled at our commit, not (yet) Healthy
    SUSPENDED = "Suspended"
    DEGRADED = "Degraded"
    SYNC_FAILED = "SyncFailed"
    MISSING = "Missing"  # no such Application


def judge_app(status: model.AppStatus | None, commit: str,
              since: float | None = None) -> tuple[AppVerdict, str]:
    """The arrival rule for one Application, with a one-line reason a human reads.

    ``since`` is the start of the visit (the journey record's ``entered_at``): operations that started
    before it are history, and Argo CD must have reconciled at or after it (compared at whole seconds,
    the resolution of Argo CD's timestamps). Arrived means: Synced at ``commit``; no operation
    running; any operation for ``commit`` in this visit Succeeded and finished; reconciled after the
    visit began and after that operation; Healthy. Whether an operation exists at all does not matter
    (Argo CD's automated sync starts none for an Application whose render did not change).
    """
    if status is None or not status.exists:
        return AppVerdict.MISSING, "Application not found"
    phase = status.operation_phase
    ours = status.operation_revision == commit and _in_visit(status.operation_started_at, since)
    errors = "".join(f"; {c.type}: {c.message}" for c in status.conditions)
    if status.operation_running:
        assert phase is not None
        return AppVerdict.PENDING, f"sync operation for {short(status.operation_revision)} {phase.value}{errors}"
    if ours and phase in (model.OperationPhase.FAILED, model.OperationPhase.ERROR):
        assert phase is not None
        detail = f": {status.operation_message}" if status.operation_message else ""
        return AppVerdict.SYNC_FAILED, f"sync of {short(commit)} {phase.value}{detail}{errors}"
    if status.sync_status is not model.SyncStatus.SYNCED or status.synced_revision != commit:
        last = ""
        if phase is not None and not ours:
            last = f"; last sync operation was for {short(status.operation_revision)} ({phase.value})"
        return AppVerdict.PENDING, (f"{status.sync_status.value} at {short(status.synced_revision)}, "
                                    f"waiting for {short(commit)}{last}{errors}")
    if ours and status.operation_finished_at is None:
        assert phase is not None
        return AppVerdict.PENDING, f"sync operation for {short(commit)} {phase.value}, not finished{errors}"
    reconciled = status.reconciled_at
    if reconciled is None or not _in_visit(reconciled, since):
        return AppVerdict.PENDING, f"waiting for Argo CD to reconcile {short(commit)}{errors}"
    finished = status.operation_finished_at
    if finished is not None and _in_visit(finished, since) and reconciled < finished:
        return AppVerdict.PENDING, (f"waiting for Argo CD to reconcile after the sync operation for "
                                    f"{short(status.operation_revision)}{errors}")
    health = status.health
    detail = f" ({status.health_message})" if status.health_message else ""
    if health is model.HealthStatus.HEALTHY:
        return AppVerdict.HEALTHY, "Synced and Healthy"
    if health is model.HealthStatus.SUSPENDED:
        return AppVerdict.SUSPENDED, f"Suspended{detail}{errors}"
    if health is model.HealthStatus.DEGRADED:
        return AppVerdict.DEGRADED, f"Degraded{detail}{errors}"
    return AppVerdict.PROGRESSING, f"{health.value}{detail}{errors}"


@dataclass(frozen=True)
class Sync:
    """A sync of our commit that Argo CD accepts: with ``pin``, the commit is the request's revision;
    without, the request names none and Argo CD syncs the Application's ``targetRevision``."""

    pin: bool
    prune: bool


def sync_to_request(status: model.AppStatus | None, commit: str, since: float | None) -> Sync | None:
    """The sync decide must ask Argo CD for to deploy ``commit``, or None (see ``actions.RequestSync``).

    None while the Application is missing, an operation runs, it is Synced at ``commit``, an operation
    for ``commit`` started in this visit (judge it instead), or its automated sync will start one by
    itself (it has not attempted ``commit`` yet). Otherwise, following Argo CD's rules
    (server/application/application.go ``Sync``, controller/appcontroller.go ``autoSync``):

    - without automated sync (or unknown): ``commit`` pinned, so a head that moved since is never
      synced in its place;
    - with automated sync that attempted ``commit`` before this visit (the retry case: it never tries a
      revision again whose sync failed): Argo CD refuses a revision other than the ``targetRevision``
      while automated sync is on, so the request names none and Argo CD syncs its target, which is
      ``commit`` only once its last comparison resolved it so (``synced_revision``); until then None
      (the push's hard refresh brings that comparison).

    ``prune`` is the Application's own policy (``AppStatus.prune``), never more.
    """
    if status is None or not status.exists or status.operation_running:
        return None
    if status.sync_status is model.SyncStatus.SYNCED and status.synced_revision == commit:
        return None
    if status.operation_revision == commit and _in_visit(status.operation_started_at, since):
        return None  # there is an operation for our commit in this visit: judge it instead
    if status.automated is not True:
        return Sync(pin=True, prune=status.prune)
    attempted_before = status.operation_revision == commit
    if attempted_before and status.synced_revision == commit:
        return Sync(pin=False, prune=status.prune)
    return None


def refusal(status: model.AppStatus | None, commit: str) -> str:
    """Argo CD's refusal of K8sTA's latest request to sync ``commit``, as the ticket's message says it
    ("" when there is none)."""
    refused = status.sync_refused if status is not None else None
    if refused is None or refused.revision != commit:
        return ""
    return f"Argo CD refused K8sTA's sync of {short(commit)}: {refused.message}"


def _in_visit(moment: float | None, since: float | None) -> bool:
    """At or after the visit began, at whole seconds (Argo CD's timestamps have no fraction)."""
    return since is None or (moment is not None and moment >= math.floor(since))


def short(commit: str | None) -> str:
    """A commit as messages show it (12 hex digits, as git's abbreviations go)."""
    return commit[:12] if commit else "no revision"
