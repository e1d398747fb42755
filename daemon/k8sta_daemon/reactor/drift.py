"""The drift watcher: a background thread that reads app-branch heads and feeds ``World.drift`` (hand
edits) and ``World.rerendered`` (K8sTA's overlay-only re-renders, which the visit they name adopts), and
``heads()``: each head's metadata, for the Stations' statuses (``core.station_status``).

Off the decision's hot path: every ``interval`` seconds (and when a repair asks for it) it fetches each
repository that holds a watched app branch once (a fetch that brings nothing is one round trip), reads
the trailers of each branch head (only of heads it has not judged before: a head's verdict never
changes) and keeps the resulting ``model.Drift`` values; the loop reads them with ``current()`` when it
builds a World. Which branches to watch and what counts as drift are the core's rules
(``core.drift``): a head is judged next to the commit the tickets' statuses last recorded for its
branch (``drift.recorded_heads``), never by its trailers alone, so an old K8sTA commit pushed back is
drift. Why git and not Argo CD's status: Argo CD resolves ``targetRevision`` only when it
compares (every 3 minutes by default) and a ComparisonError (the plugin refusing a hand edit) is not
guaranteed to carry the resolved revision, while the mirror answers at once and for every case.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from k8sta_daemon.adapters.git import appbranch, repair
from k8sta_daemon.adapters.git import errors as git_errors
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.core import authorization, codec, drift, model, sources, station_status
from k8sta_daemon.reactor.cache import Cache
from k8sta_daemon.reactor.units.context import GitSettings

log = logging.getLogger("k8sta.drift")
DEFAULT_INTERVAL = 30.0
MAX_JUDGED = 10_000  # verdicts kept per watcher (one per branch head seen)


@dataclass
class DriftWatcher:
    cache: Cache
    git: GitSettings
    interval: float = DEFAULT_INTERVAL
    on_change: Callable[[], None] = lambda: None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _drift: dict[model.AppRef, model.Drift] = field(default_factory=dict)
    _rerendered: dict[model.AppRef, model.Rerendered] = field(default_factory=dict)
    _judged: dict[tuple[str, str, str, str], model.Drift | model.Rerendered | None] = field(default_factory=dict)
    _read: dict[tuple[str, str, str, str], station_status.BranchHead | None] = field(default_factory=dict)
    _heads: dict[model.AppRef, station_status.BranchHead] = field(default_factory=dict)
    _mirrors: dict[str, Mirror] = field(default_factory=dict)
    _soon: threading.Event = field(default_factory=threading.Event)

    def current(self) -> tuple[model.Drift, ...]:
        with self._lock:
            return tuple(self._drift.values())

    def rerendered(self) -> tuple[model.Rerendered, ...]:
        """The watched branches whose head is an overlay-only re-render (``World.rerendered``)."""
        with self._lock:
            return tuple(self._rerendered.values())

    def heads(self) -> dict[model.AppRef, station_status.BranchHead]:
        """Each watched branch's head and what its metadata records (as of the last scan)."""
        with self._lock:
            return dict(self._heads)

    def soon(self) -> None:
        """Scan now rather than at the next interval (the intake re-rendered a branch)."""
        self._soon.set()

    def settled(self, app: model.AppRef, head: str) -> None:
        """A repair moved ``app``'s branch from ``head`` to a K8sTA commit: stop reporting it now (the
        next scan confirms), so the next decision does not ask for the same repair again."""
        with self._lock:
            if (found := self._drift.get(app)) is not None and found.head == head:
                del self._drift[app]
        self._soon.set()

    def scan(self) -> None:
        """One look at every watched branch; a repository that cannot be fetched keeps its last verdicts."""
        objects, applications = self.cache.copy()
        stations = []
        for obj in objects["Station"].values():
            try:
                stations.append(codec.station_from_dict(obj))
            except codec.MalformedObject:
                continue  # the loop logs it
        tickets = []
        for obj in objects["Ticket"].values():
            try:
                tickets.append(codec.ticket_from_dict(obj))
            except codec.MalformedObject:
                continue  # the loop reports it; its pushes count once it reads again
        recorded = drift.recorded_heads(tickets)
        found: dict[model.AppRef, model.Drift | model.Rerendered] = {}
        by_repo: dict[str, list[sources.AppSource]] = {}
        for source in drift.watched(stations, applications, self.git.default_source_branch):
            by_repo.setdefault(source.repo_url, []).append(source)
        with self._lock:
            previous: dict[model.AppRef, model.Drift | model.Rerendered] = {**self._drift, **self._rerendered}
            heads_before = dict(self._heads)
        heads: dict[model.AppRef, station_status.BranchHead] = {}
        for repo_url, group in by_repo.items():
            try:
                # Read with the credentials of the first watched Application's Argo CD project.
                project = authorization.project_of(applications.get(group[0].app) or {})
                found.update(self._scan_repo(repo_url, group, recorded, project, heads))
            except (git_errors.GitError, OSError) as exc:
                log.warning("drift check of %s failed: %s", repo_url, exc)
                found.update({s.app: d for s in group if (d := previous.get(s.app)) is not None})
                heads.update({s.app: h for s in group if (h := heads_before.get(s.app)) is not None})
        drifted = {a: d for a, d in found.items() if isinstance(d, model.Drift)}
        rerendered = {a: r for a, r in found.items() if isinstance(r, model.Rerendered)}
        with self._lock:
            changed = drifted != self._drift or rerendered != self._rerendered
            self._drift, self._rerendered, self._heads = drifted, rerendered, heads
        if changed:
            for d in drifted.values():
                if previous.get(d.app) != d:
                    log.warning("app branch %s of %s was edited by hand: head %s", d.branch, d.app, d.head[:12])
            self.on_change()

    def _scan_repo(self, repo_url: str, group: list[sources.AppSource],
                   recorded: dict[tuple[model.AppRef, str, str], str], project: str | None,
                   heads: dict[model.AppRef, station_status.BranchHead],
                   ) -> dict[model.AppRef, model.Drift | model.Rerendered]:
        mirror = self._mirrors.get(repo_url)
        if mirror is None:
            mirror = self._mirrors[repo_url] = Mirror.open(repo_url, cache_dir=self.git.mirrors,
                                                           creds=self.git.credentials(repo_url, project))
        with mirror.lock():
            mirror.fetch()
            out: dict[model.AppRef, model.Drift | model.Rerendered] = {}
            for source in group:
                sha = mirror.branch_head(source.branch)
                ours = recorded.get((source.app, source.repo_url, source.branch))
                key = (repo_url, source.branch, sha or "", ours or "")
                if key not in self._judged:
                    if len(self._judged) > MAX_JUDGED:
                        self._judged.clear()  # old heads are never asked about again; start over
                        self._read.clear()
                    (head,) = repair.heads(mirror, [source.branch], fetch=False)
                    said = head.trailers
                    line = None
                    if ours is not None and head.sha is not None:
                        same_tree, descends = repair.lineage(mirror, head.sha, ours)
                        line = drift.Lineage(recorded=ours, same_tree=same_tree, descends=descends)
                    found = drift.judge_head(source, head.sha, said.ticket, said.station, line)
                    if found is not None:
                        found = dataclasses.replace(found, restore=ours)
                    self._judged[key] = found or drift.judge_rerender(source, head.sha, said.ticket, said.station,
                                                                      said.rerender)
                    # A head counts as a visit's only if K8sTA wrote it and it is no drift (a replay, a hand edit).
                    self._read[key] = _head_of(mirror, source.branch, sha,
                                               ours=bool(said.ticket and said.station) and found is None)
                verdict = self._judged[key]
                if (read := self._read.get(key)) is not None:
                    heads[source.app] = dataclasses.replace(read, app=source.app)
                if verdict is not None:
                    out[source.app] = dataclasses.replace(verdict, app=source.app)
            return out

    def run(self, stop: threading.Event) -> None:
        """Scan until ``stop``: every ``interval`` seconds, or sooner when a repair asked for it."""
        while not stop.is_set():
            try:
                self.scan()
            except Exception:  # one bad scan must not end drift detection; the next one retries
                log.exception("drift scan failed")
            self._soon.wait(self.interval)
            self._soon.clear()


def _head_of(mirror: Mirror, branch: str, sha: str | None, *, ours: bool) -> station_status.BranchHead | None:
    """The head ``sha`` of ``branch`` with what its metadata records; only a K8sTA commit (``ours``: its
    trailers) names a visit: a hand edit keeps the metadata file, but K8sTA did not write it."""
    if sha is None:
        return None
    if not ours:
        return station_status.BranchHead(app=model.AppRef("", ""), branch=branch, sha=sha)
    try:
        head = appbranch.read_head(mirror, branch, fetch=False)
    except git_errors.NotAnAppBranch:
        return station_status.BranchHead(app=model.AppRef("", ""), branch=branch, sha=sha)
    meta = head.metadata
    if head.sha != sha or meta is None:
        return station_status.BranchHead(app=model.AppRef("", ""), branch=branch, sha=head.sha or sha)
    return station_status.BranchHead(app=model.AppRef("", ""), branch=branch, sha=sha, ticket=meta.ticket.name,
                                     station=meta.station, config_commit=meta.source.config_commit,
                                     images=tuple(meta.images))
