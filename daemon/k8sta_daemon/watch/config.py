"""One read of a config Subscription: ``ls-remote`` the source branch; for a new main commit, what it
touched decides (``adapters.git.changes.classify`` over ``history.touched_paths``):

- outside ``env/`` (shared config, alone or with overlays): one ticket per subscribed Track pinning the
  commit (the overlays ride with it: a ticket renders the newest overlays);
- only under ``env/<name>/``: each subscribed Track's Application whose overlay that is gets its app
  branch re-rendered with its current pins (``appbranch.rerender``: the commit message names the main
  commit), an Event on the Application, a hard refresh; no ticket, no ride (a ticket visiting that
  Station is then judged against the re-rendered commit: ``core.decide``, fed by the drift watcher);
- nothing that reaches an app branch: recorded, nothing done.

The first read records the branch head as a baseline and acts on nothing (what is deployed already
came from somewhere). Credentials for the repository come from the repository Secrets, as for pushes,
the global ones (a Subscription belongs to no Argo CD project). A held Track gets neither tickets nor
re-renders; the found commit is acted on after resume. An Application that has not opted in to the
Subscription's namespace (``core.authorization``) is not re-rendered: the read says so.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from k8sta_cmp import contract
from k8sta_daemon.adapters import argocd, kube
from k8sta_daemon.adapters.git import appbranch, changes, errors, history
from k8sta_daemon.adapters.git.mirror import Mirror, normalise_url
from k8sta_daemon.core import authorization, model, sources
from k8sta_daemon.core import subscriptions as subs
from k8sta_daemon.ops import errors as ops_errors

if TYPE_CHECKING:
    from .poller import Intake, Outcome

log = logging.getLogger("k8sta.intake")


def read(intake: Intake, sub: subs.Subscription) -> Outcome:
    from .poller import Outcome, ReadFailed

    cfg = sub.config
    git, argo = intake.git, intake.argo
    assert cfg is not None
    if git is None or argo is None:
        raise ReadFailed(subs.Reason.REPO_UNAVAILABLE, "this daemon was started without git access")
    try:
        creds = git.credentials(cfg.repo_url)
    except kube.KubeError as exc:
        raise ReadFailed(subs.Reason.REPO_UNAVAILABLE, f"reading the repository Secrets: {exc}") from None
    mirror = Mirror.open(cfg.repo_url, cache_dir=git.mirrors, creds=creds)
    try:
        with mirror.lock():
            head = mirror.ls_remote(cfg.branch)
            if head is None:
                raise ReadFailed(subs.Reason.BRANCH_NOT_FOUND, f"branch {cfg.branch} not found in {mirror.shown_url}")
            if head == sub.found_commit:
                change, overlays = sub.found_change or "none", sub.found_overlays
            else:
                mirror.fetch()
                if sub.found_commit is None:
                    change, overlays = "baseline", ()
                else:
                    old = sub.found_commit if _known(mirror, sub.found_commit) else None
                    found = changes.classify(history.touched_paths(mirror, old, head))
                    change, overlays = found.kind.value, tuple(sorted(found.overlays))
            report = {"reference": f"{cfg.branch}@{head[:12]}", "commit": head, "change": change,
                      "overlays": list(overlays)}
            if change == changes.ChangeKind.SHARED_CONFIG.value:
                return intake._act(sub, head, f"{cfg.branch}@{head}", report, config_commit=head,
                                   changed_at=lambda: _committed(mirror, head))
            if change == changes.ChangeKind.OVERLAY_ONLY.value:
                return _rerender(intake, sub, mirror, head, overlays, report)
            what = "baseline recorded" if change == "baseline" else "nothing that reaches an app branch"
            return Outcome(True, subs.Reason.FOUND, f"found {cfg.branch}@{head[:12]}: {what}", report)
    except errors.TransportFailed as exc:
        raise ReadFailed(subs.Reason.REPO_UNAVAILABLE, str(exc)) from None
    except errors.GitError as exc:
        raise ReadFailed(subs.Reason.REPO_UNAVAILABLE, f"{mirror.shown_url}: {exc}") from None


def _committed(mirror: Mirror, sha: str) -> float | None:
    """When ``sha`` was committed, for its tickets' lead time; None when this mirror does not have it."""
    try:
        return float(history.commit(mirror.repo, sha, "found commit").commit_time)
    except errors.GitError:
        return None


def _known(mirror: Mirror, sha: str) -> bool:
    try:
        history.commit(mirror.repo, sha, "found commit")
    except errors.NotFound:
        return False  # force-pushed away: everything at the new head counts as changed
    return True


def _rerender(intake: Intake, sub: subs.Subscription, mirror: Mirror, head: str, overlays: tuple[str, ...],
              report: dict[str, Any]) -> Outcome:
    from .poller import Outcome

    cfg = sub.config
    git, argo = intake.git, intake.argo
    assert cfg is not None and git is not None and argo is not None
    stations = intake.store.stations(sub.namespace)
    done, unchanged, held, failed, refused = [], [], [], [], []
    for track_name in sub.tracks:
        try:
            track = intake.store.track(sub.namespace, track_name)
        except ops_errors.K8staError:
            continue
        if track.hold is not None:
            held.append(track_name)
            continue
        for station in track.stations:
            spec = stations.get(model.StationRef(sub.namespace, station))
            for app in spec.applications if spec else ():
                try:
                    application = argo.get_application(app)
                    source = sources.AppSource.from_application(app, application, cfg.branch)
                except (argocd.ArgoCDError, sources.InvalidSource) as exc:
                    failed.append(f"{app}: {exc}")
                    continue
                if (normalise_url(source.repo_url) != normalise_url(cfg.repo_url) or source.overlay_dir not in
                        overlays or source.source_branch != cfg.branch):
                    continue
                if why := authorization.unauthorized(sub.namespace, [(app, application)]):
                    refused.extend(why)
                    continue
                target = appbranch.AppTarget(contract.ObjectRef(app.namespace, app.name), source.branch,
                                             source.overlay_dir)
                before = mirror.branch_head(source.branch)
                try:
                    after = appbranch.rerender(mirror, source_branch=cfg.branch, target=target,
                                               kustomize=git.kustomize, limits=git.limits)
                except errors.GitError as exc:
                    failed.append(f"{app}: {mirror.redact(str(exc))}")
                    continue
                if after is None or after == before:
                    unchanged.append(source.branch)
                    continue
                done.append(source.branch)
                _tell(intake, app, application, source.branch, head, after)
    parts = [f"found {cfg.branch}@{head[:12]}: overlay-only change of {', '.join(overlays)}"]
    if done:
        parts.append(f"re-rendered {', '.join(done)} (no ticket)")
    if unchanged:
        parts.append(f"already current: {', '.join(sorted(set(unchanged)))}")
    if held:
        parts.append(f"held, nothing re-rendered on track {', '.join(held)}")
    if refused:
        parts.append(f"not re-rendered: {'; '.join(refused)}")
    if failed:
        parts.append(f"failed: {'; '.join(failed)}")
    if done:
        intake.on_rerendered()  # a ticket visiting one of these Stations is judged against the new commit
    acted = subs.Acted(head, f"{cfg.branch}@{head}", rerendered=tuple(done), at=intake.clock()) if done else None
    reason = subs.Reason.HELD if held and not (done or unchanged) else subs.Reason.FOUND
    if failed:
        return Outcome(False, subs.Reason.REPO_UNAVAILABLE, "; ".join(parts), report, acted)
    return Outcome(True, reason, "; ".join(parts), report, acted)


def _tell(intake: Intake, app: model.AppRef, application: dict[str, Any], branch: str, head: str, sha: str) -> None:
    """An Event on the Application (Argo CD's Events tab) and a hard refresh, so it deploys now."""
    uid = ((application.get("metadata") or {}).get("uid")) or ""
    involved = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "namespace": app.namespace,
                "name": app.name, "uid": uid}
    try:
        intake.kube.emit_event(involved, "Normal", "ReRendered",
                               f"app branch {branch} re-rendered at {sha[:12]} for the overlay-only main commit "
                               f"{head[:12]}; pins unchanged, no ticket")
    except kube.KubeError as exc:
        log.warning("event on Application %s: %s", app, exc)
    try:
        assert intake.argo is not None
        intake.argo.refresh(app, hard=True)
    except argocd.ArgoCDError as exc:
        log.warning("refresh of %s: %s", app, exc)
