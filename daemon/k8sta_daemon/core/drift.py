"""Hand edits of app branches (drift): which branches to watch, what counts as drift, what a repair means.

Callers: ``reactor/drift.py`` (the background watcher that fills ``World.drift`` and
``World.rerendered``) asks ``watched`` which branches to look at, ``judge_head`` whether a head is
K8sTA's and ``judge_rerender`` whether it is an overlay-only re-render of a visit's commit; the
executor asks ``after_repair`` what a ``RepairDrift`` push means for the ticket. All pure: the watcher
reads git, this module decides.

The rule: an app branch has drifted when its head is not the commit K8sTA last recorded for it in a
ticket's status (``recorded_heads``), nor K8sTA's own work on top of that commit (``Lineage``: a
re-render, a repair restoring its tree, or a push that lands before its status is written). Trailers
alone prove nothing (anyone can copy them): an old signed K8sTA commit force-pushed back (a replay)
carries K8sTA's trailers and a valid signature, but it is not on the recorded commit's line, so it is
drift and is repaired like a hand edit. Only for a branch no ticket status records a push to (tickets
deleted) does the older rule remain: a head without both K8sTA trailers (``K8sTA-Ticket`` and
``K8sTA-Station``) has drifted. That covers a human commit that breaks the render (the plugin
refuses it) and a harmless one on top of ours (item 13: Argo CD syncs it and the ticket waits for its
own commit); both are repaired the same way.

The push path follows the same rule (``push_base``, asked by the push unit for every existing head
that is not already this visit's commit): a hand edit over a branch K8sTA wrote (a K8sTA commit on
its first-parent line) is no reason to fail the ticket: its push lands on top of the human commit, as
a K8sTA commit (history keeps the edit), and the visit records the hand edit (``outcomes.follow_up``),
whether the edit deleted ``.k8sta/`` or rewrote ``metadata.yaml`` or not. Only a branch K8sTA never
wrote, or a K8sTA commit whose metadata this daemon cannot read, is refused (``ForeignBranch``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from k8sta_daemon.core import actions, model, sources


def watched(stations: Iterable[model.StationSpec], applications: Mapping[model.AppRef, Mapping[str, Any]],
            default_source_branch: str) -> list[sources.AppSource]:
    """The app branch of every Application a Station deploys and Argo CD knows (once each, stable order).

    An Application whose spec K8sTA cannot promote (``InvalidSource``) is left out: its pushes fail
    with that reason already, and there is no K8sTA branch to guard.
    """
    found: dict[model.AppRef, sources.AppSource] = {}
    for station in stations:
        for app in station.active_applications:
            application = applications.get(app)
            if app in found or application is None:
                continue
            try:
                found[app] = sources.AppSource.from_application(app, application, default_source_branch)
            except sources.InvalidSource:
                continue
    return [found[a] for a in sorted(found, key=lambda a: (a.namespace, a.name))]


@dataclass(frozen=True)
class Lineage:
    """What git says about a branch head next to the commit a ticket's status records for it.

    ``recorded`` is that commit; ``same_tree``: the head holds exactly its tree (it, or a repair
    restoring it: every K8sTA tree is unique, its metadata carries the branch's sequence);
    ``descends``: ``recorded`` is on the head's first-parent line (the head came after it)."""

    recorded: str
    same_tree: bool
    descends: bool


def recorded_heads(tickets: Iterable[model.Ticket]) -> dict[tuple[model.AppRef, str, str], str]:
    """(Application, repository, branch) -> the commit K8sTA last recorded pushing there, from the
    journey record entered last (ties: the later ticket by name), across every ticket's status."""
    newest: dict[tuple[model.AppRef, str, str], tuple[float, tuple[str, str], str]] = {}
    for ticket in tickets:
        for record in ticket.status.journey:
            for pushed in record.pushed:
                key = (pushed.app, pushed.repo_url, pushed.branch)
                rank = (record.entered_at or 0.0, (ticket.namespace, ticket.name), pushed.commit)
                if key not in newest or rank[:2] >= newest[key][:2]:
                    newest[key] = rank
    return {key: rank[2] for key, rank in newest.items()}


def judge_head(source: sources.AppSource, head: str | None, ticket_trailer: str | None,
               station_trailer: str | None, lineage: Lineage | None = None) -> model.Drift | None:
    """Drift when the branch exists and its head is not K8sTA's; None for a K8sTA head or no branch.

    With ``lineage`` (a ticket's status records a push to this branch): K8sTA's head is the recorded
    commit, one with its tree, or a commit with K8sTA's trailers that descends from it; anything else,
    an old K8sTA commit pushed back included, is drift. Without: a head lacking the trailers is."""
    if head is None:
        return None
    if lineage is not None:
        if head == lineage.recorded or lineage.same_tree or (lineage.descends and ticket_trailer and station_trailer):
            return None
        return model.Drift(app=source.app, branch=source.branch, head=head)
    if ticket_trailer and station_trailer:
        return None
    return model.Drift(app=source.app, branch=source.branch, head=head)


def judge_rerender(source: sources.AppSource, head: str | None, ticket_trailer: str | None,
                   station_trailer: str | None, rerender_trailer: str | None) -> model.Rerendered | None:
    """A K8sTA head that re-rendered an overlay-only main commit: the visit it names now means ``head``."""
    if head is None or not (ticket_trailer and station_trailer and rerender_trailer):
        return None
    return model.Rerendered(app=source.app, branch=source.branch, head=head, ticket=ticket_trailer,
                            station=station_trailer)


@dataclass(frozen=True)
class PushBase:
    """What a push builds on when its branch exists: ``previous`` is the K8sTA commit whose pins the new
    commit's message compares with; ``hand_edit`` the human head it lands on (None: the head is K8sTA's)."""

    previous: str
    hand_edit: model.Drift | None = None


class ForeignBranch(ValueError):
    """The branch exists but is not K8sTA's to write: a push would overwrite someone else's work."""


def push_base(source: sources.AppSource, head: str, ticket_trailer: str | None, station_trailer: str | None,
              metadata_problem: str | None, newest_k8sta: str | None) -> PushBase:
    """Whether a push may build on ``head`` (the branch's existing head), and how; ForeignBranch if not.

    ``metadata_problem`` says why ``.k8sta/metadata.yaml`` is missing or unreadable at ``head`` (None:
    it parses); ``newest_k8sta`` is the newest commit carrying K8sTA's trailers on ``head``'s
    first-parent line (``head`` itself when it carries them). The rule is ``judge_head``'s: a head
    without K8sTA's trailers is a hand edit, and the push treats it as the drift repair does (lands on
    top, restoring K8sTA's content), whatever the edit did to ``.k8sta/``.
    """
    drift = judge_head(source, head, ticket_trailer, station_trailer)
    if drift is None:
        if metadata_problem is not None:
            raise ForeignBranch(f"branch {source.branch} at {head} carries K8sTA's trailers but its metadata "
                                f"cannot be read ({metadata_problem}); a newer K8sTA may have written it: "
                                "upgrade this daemon, or push a fix to the branch")
        return PushBase(previous=head)
    if newest_k8sta is None:
        raise ForeignBranch(f"branch {source.branch} exists at {head} but was not written by K8sTA (no commit "
                            "with K8sTA's trailers in its history); app branches are orphan branches K8sTA "
                            "owns: delete it, or point the Application at another branch")
    return PushBase(previous=newest_k8sta, hand_edit=drift)


def after_repair(ticket: model.Ticket, action: actions.RepairDrift,
                 commit: model.PushedCommit) -> list[actions.Action]:
    """What a repair push means for ``ticket``: the repair commit becomes the visit's commit of that app.

    Only while the ticket's current journey record is still about ``action.station`` and still names
    ``action.restore`` as that app's commit (a ticket that moved on, or re-pushed meanwhile, keeps what
    it has: its own record is newer than this repair). ``decide`` then judges the new commit.
    """
    current = ticket.status.current
    if current is None or current.station != action.station or current.pushed_commit(action.app) != action.restore:
        return []
    pushed = (*(p for p in current.pushed if p.app != action.app), commit)
    journey = (*ticket.status.journey[:-1], dataclasses.replace(current, pushed=pushed))
    status = dataclasses.replace(ticket.status, journey=journey)
    return [actions.UpdateTicketStatus(action.ticket or ticket.ref, status)]
