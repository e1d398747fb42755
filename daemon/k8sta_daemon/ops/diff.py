"""``k8sta diff`` and the board's diff: read both ends of a promotion from Kubernetes and git, let
``core.diff`` compare them.

Callers: the CLI command and the board's ticket page. Thin on purpose: which version is which end is
decided here, everything the comparison says is ``core.diff``'s.

- **A ticket at a Station** (``ticket_diff``): the new end is the ticket's own render there: the
  app-branch commits its visit pushed (``.k8sta/rendered.yaml``), or, before it got there, the plugin's own
  renderer run on its snapshot (nothing is pushed). The old end is what runs there now (the Station's
  status: each Application's app-branch commit), or, when the ticket itself is what runs there, the
  version it replaced (the K8sTA commit below its own on each branch). Without a Station: the one the
  ticket holds, else the first of its Track it has not arrived at, else the last it arrived at.
- **Two Stations** (``stations_diff``): what promoting ``from``'s version to ``to`` would change: old is
  what runs at ``to``, new what runs at ``from``.
- The config commits in between come from the source branch's repository (the Applications' repository,
  where the app branches are cut from).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from k8sta_cmp import contract, safety
from k8sta_cmp import errors as cmp_errors
from k8sta_cmp.kustomize import Kustomize, default_cache_dir
from k8sta_daemon.adapters import kube, repo_credentials
from k8sta_daemon.adapters.git import appbranch, reading
from k8sta_daemon.adapters.git import errors as git_errors
from k8sta_daemon.adapters.git.access import CredentialsLookup
from k8sta_daemon.adapters.git.credentials import ANONYMOUS, Credentials
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.core import authorization, diff, model, sources, station_status

from . import errors
from .store import Store


@dataclass(frozen=True)
class GitAccess:
    """How the diff reaches git: where its mirrors live, whose credentials, and the renderer for a ticket
    not yet at the Station (built on first use: a diff of pushed commits needs no kustomize)."""

    mirrors: Path
    credentials: CredentialsLookup
    kustomize: Callable[[], Kustomize]
    limits: safety.Limits = field(default_factory=safety.Limits)
    default_source_branch: str = "main"


def credentials_from(api: object, namespace: str, trust_namespace: str) -> CredentialsLookup:
    """The daemon's lookup (Argo CD-format repository Secrets in ``namespace``) for a caller that may not be
    allowed to read them (an operator's kubeconfig): then anonymous, and a repository that needs
    credentials says so when it is fetched."""
    lookup = repo_credentials.FromRepoSecrets(kube.Kube(api), namespace, trust_namespace)  # type: ignore[arg-type]

    def find(url: str, project: str | None = None, /) -> Credentials:
        try:
            return lookup(url, project)
        except kube.KubeError:
            return ANONYMOUS

    return find


def git_access(api: object, environ: Mapping[str, str]) -> GitAccess:
    """What the CLI and the web part read git with: mirrors under ``K8STA_CACHE`` (default ``~/.cache/k8sta``),
    the daemon's credential Secrets when the caller may read them, the pinned kustomize (``K8STA_KUSTOMIZE``)
    only if a render is needed."""
    env = dict(environ)

    def kustomize() -> Kustomize:
        try:
            return Kustomize.locate(env)
        except cmp_errors.K8staError as exc:  # ToolMissing: which binary, and how to get it
            raise errors.Unavailable(f"rendering a ticket not yet at the Station needs kustomize: {exc}") from None

    return GitAccess(
        mirrors=Path(default_cache_dir(env)) / "diff-mirrors",
        credentials=credentials_from(api, env.get("K8STA_REPO_SECRETS_NAMESPACE") or "k8sta",
                                     env.get("K8STA_ARGOCD_NAMESPACE") or "argocd"),
        kustomize=kustomize, limits=safety.Limits.from_environ(env),
        default_source_branch=env.get("K8STA_DEFAULT_SOURCE_BRANCH") or "main")


@dataclass(frozen=True)
class _App:
    ref: model.AppRef
    source: sources.AppSource
    project: str | None


class _Reader:
    """One diff's git reads: each repository is opened and fetched once."""

    def __init__(self, git: GitAccess) -> None:
        self.git = git
        self._mirrors: dict[str, Mirror] = {}

    def mirror(self, app: _App) -> Mirror:
        url = app.source.repo_url
        if url not in self._mirrors:
            with _git_errors(f"reading the repository of Application {app.ref}"):
                try:
                    mirror = Mirror.open(url, cache_dir=self.git.mirrors, creds=self.git.credentials(url, app.project))
                except OSError as exc:  # a read-only or full cache directory
                    raise errors.Unavailable(f"cannot keep a git mirror under {self.git.mirrors}: "
                                             f"{exc.strerror or exc} (set K8STA_CACHE)") from None
                mirror.fetch()
            self._mirrors[url] = mirror
        return self._mirrors[url]


@contextmanager
def _git_errors(what: str) -> Iterator[None]:
    """Git and render failures as the operator surface names them (what was being read, and why)."""
    try:
        yield
    except git_errors.RetryLater as exc:
        raise errors.Unavailable(f"{what}: {exc}") from None
    except git_errors.NotFound as exc:
        raise errors.NotFound(f"{what}: {exc}") from None
    except (git_errors.GitError, cmp_errors.K8staError) as exc:
        raise errors.Refused(f"{what}: {exc}") from None
    except diff.UnreadableManifests as exc:
        raise errors.Refused(str(exc)) from None


def _station(store: Store, namespace: str, name: str,
             ) -> tuple[model.StationSpec, station_status.StationStatus | None]:
    for spec, status in store.stations_running(namespace):
        if spec.name == name:
            return spec, status
    raise errors.NotFound(f"station {name} not found in namespace {namespace}")


def _apps(store: Store, git: GitAccess, refs: Sequence[model.AppRef], station: str) -> dict[model.AppRef, _App]:
    found = {}
    for ref in refs:
        application = store.application(ref.namespace, ref.name)
        try:
            source = sources.AppSource.from_application(ref, application, git.default_source_branch)
        except sources.InvalidSource as exc:
            raise errors.Invalid(f"station {station}: {exc}") from None
        found[ref] = _App(ref, source, authorization.project_of(application))
    return found


def _running(status: station_status.StationStatus | None, station: str) -> station_status.StationStatus:
    if status is None:
        raise errors.Refused(f"station {station} has nothing deployed that K8sTA knows of (no ticket arrived "
                             "there and its app branches hold no K8sTA commit)")
    missing = [str(a.app) for a in status.applications if not a.commit]
    if missing or not status.applications:
        raise errors.Refused(f"station {station}: the app-branch commit of {', '.join(missing) or 'its Applications'} "
                             "is not known yet")
    return status


def _label(station: str, status: station_status.StationStatus) -> str:
    return f"{station} now ({status.ticket})" if status.ticket else f"{station} now"


def _side_of_commits(reader: _Reader, apps: dict[model.AppRef, _App], commits: Sequence[tuple[model.AppRef, str]],
                     label: str, snapshot: model.Snapshot) -> diff.Side:
    rendered = []
    for ref, sha in commits:
        app = apps.get(ref)
        if app is None:  # an Application the Station no longer names: its branch is still where it was
            raise errors.Refused(f"{label}: Application {ref} is not one of the Station's Applications any more")
        with _git_errors(f"reading {app.source.branch}@{sha[:12]} of Application {ref}"):
            rendered.append(reading.rendered_at(reader.mirror(app), sha, f"app-branch commit of {ref}"))
    return diff.Side(label, snapshot, tuple(rendered))


def _commits(reader: _Reader, apps: dict[model.AppRef, _App], old: diff.Side, new: diff.Side,
             ) -> tuple[list[diff.ConfigCommit], list[diff.ConfigCommit]]:
    before, after = old.snapshot.config_commit, new.snapshot.config_commit
    if not apps or before is None or after is None or before == after:
        return [], []
    app = next(iter(apps.values()))
    with _git_errors(f"listing the config commits between {before[:12]} and {after[:12]}"):
        ahead, behind = reading.between(reader.mirror(app), before, after)

    def convert(found: list[reading.CommitInfo]) -> list[diff.ConfigCommit]:
        return [diff.ConfigCommit(c.sha, c.subject, c.author, c.time) for c in found]

    return convert(ahead), convert(behind)


def _compare(reader: _Reader, apps: dict[model.AppRef, _App], old: diff.Side, new: diff.Side) -> diff.Diff:
    ahead, behind = _commits(reader, apps, old, new)
    try:
        return diff.compute(old, new, ahead=ahead, behind=behind)
    except diff.UnreadableManifests as exc:
        raise errors.Refused(str(exc)) from None


def default_station(ticket: model.Ticket, track: model.TrackSpec) -> str:
    """The Station a diff of ``ticket`` is about when none is named (see the module's docstring)."""
    if ticket.status.station:
        return ticket.status.station
    arrived = [r.station for r in ticket.status.journey if r.arrived_at is not None]
    for name in track.stations:
        if name not in arrived:
            return name
    if arrived:
        return arrived[-1]
    raise errors.Refused(f"track {track.name} of ticket {ticket.name} has no Stations")


def ticket_diff(store: Store, git: GitAccess, namespace: str, name: str, station: str | None = None) -> diff.Diff:
    ticket = store.ticket(namespace, name)
    if station is None:
        station = default_station(ticket, store.track(namespace, ticket.track))
    spec, status = _station(store, namespace, station)
    status = _running(status, station)
    reader = _Reader(git)
    apps = _apps(store, git, [a.app for a in status.applications]
                 + [a for a in spec.active_applications if a not in {v.app for v in status.applications}], station)
    visit = next((r for r in reversed(ticket.status.journey) if r.station == station and r.pushed), None)
    if status.ticket == ticket.name and status.source is station_status.Source.TICKET:
        new = _side_of_commits(reader, apps, [(a.app, a.commit or "") for a in status.applications],
                               f"{ticket.name} at {station}", status.snapshot)
        old = _replaced(reader, apps, status, station)
    else:
        old = _side_of_commits(reader, apps, [(a.app, a.commit or "") for a in status.applications],
                               _label(station, status), status.snapshot)
        if visit is not None:
            new = _side_of_commits(reader, apps, [(p.app, p.commit) for p in visit.pushed],
                                   f"{ticket.name} at {station}", ticket.snapshot)
        else:
            new = _preview(reader, apps, spec, ticket, station)
    return _compare(reader, apps, old, new)


def _replaced(reader: _Reader, apps: dict[model.AppRef, _App], status: station_status.StationStatus,
              station: str) -> diff.Side:
    """What ran at ``station`` before the version its status names (empty when nothing did)."""
    commits: list[tuple[model.AppRef, str]] = []
    snapshot: model.Snapshot | None = None
    tickets: set[str] = set()
    for version in status.applications:
        app = apps[version.app]
        mirror = reader.mirror(app)
        with _git_errors(f"reading the history of {app.source.branch} of Application {version.app}"):
            below = reading.replaced_by(mirror, version.commit or "", f"app-branch commit of {version.app}")
            if below is None:
                continue
            meta = reading.metadata_at(mirror, below, f"app-branch commit of {version.app}")
        commits.append((version.app, below))
        if meta is not None:
            tickets.add(meta.ticket.name)
            if snapshot is None:
                snapshot = model.Snapshot(meta.source.config_commit, tuple(meta.images))
    if not commits:
        return diff.Side(f"{station} before (nothing)", model.Snapshot(None))
    label = f"{station} before ({', '.join(sorted(tickets))})" if tickets else f"{station} before"
    return _side_of_commits(reader, apps, commits, label, snapshot or model.Snapshot(None))


def _preview(reader: _Reader, apps: dict[model.AppRef, _App], spec: model.StationSpec, ticket: model.Ticket,
             station: str) -> diff.Side:
    """The ticket rendered for ``station`` by the plugin's own renderer, as its push would (nothing written)."""
    rendered = []
    images = ticket.snapshot.images  # model's pins are the contract's
    for ref in spec.active_applications:
        app = apps[ref]
        target = appbranch.AppTarget(application=contract.ObjectRef(ref.namespace, ref.name),
                                     branch=app.source.branch, overlay_dir=app.source.overlay_dir)
        with _git_errors(f"rendering ticket {ticket.name} for Application {ref}"):
            rendered.append(appbranch.preview(
                reader.mirror(app), source_branch=app.source.source_branch,
                config_commit=ticket.snapshot.config_commit, target=target, images=images,
                kustomize=reader.git.kustomize(), limits=reader.git.limits).decode(errors="replace"))
    return diff.Side(f"{ticket.name} (rendered, not yet at {station})", ticket.snapshot, tuple(rendered))


def stations_diff(store: Store, git: GitAccess, namespace: str, source: str, target: str) -> diff.Diff:
    """What promoting the version running at ``source`` to ``target`` would change there."""
    if source == target:
        raise errors.Invalid(f"--from and --to both name station {source}")
    _, from_status = _station(store, namespace, source)
    _, to_status = _station(store, namespace, target)
    from_status, to_status = _running(from_status, source), _running(to_status, target)
    reader = _Reader(git)
    from_apps = _apps(store, git, [a.app for a in from_status.applications], source)
    to_apps = _apps(store, git, [a.app for a in to_status.applications], target)
    old = _side_of_commits(reader, to_apps, [(a.app, a.commit or "") for a in to_status.applications],
                           _label(target, to_status), to_status.snapshot)
    new = _side_of_commits(reader, from_apps, [(a.app, a.commit or "") for a in from_status.applications],
                           _label(source, from_status), from_status.snapshot)
    return _compare(reader, {**to_apps, **from_apps}, old, new)
