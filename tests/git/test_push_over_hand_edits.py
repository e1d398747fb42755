"""The push unit on real git: a hand edit of an app branch is pushed over, as the drift repair would.

Issue 19 item 4: a human commit that deletes ``.k8sta/`` or rewrites ``metadata.yaml`` (without
``apiVersion``) used to fail the next ticket ("not written by K8sTA") while the drift repair handled the
same head. ``push_station.run`` asks ``core.drift.push_base``; these tests drive it with the real git
adapter against real repositories (nothing mocked but the Argo CD client, which a push does not use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gitrepos import DEV, Remote, git, pin, ticket

from k8sta_cmp import contract, safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import errors, messages
from k8sta_daemon.adapters.git.access import GitSettings
from k8sta_daemon.adapters.git.credentials import ANONYMOUS
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.adapters.metrics import Metrics
from k8sta_daemon.core import actions, authorization, model, outcomes
from k8sta_daemon.reactor.cache import Cache
from k8sta_daemon.reactor.units import Context, push_station

APP = model.AppRef(DEV.application.namespace, DEV.application.name)


def context(remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> Context:
    cache = Cache()
    application: dict[str, Any] = {
        "metadata": {"namespace": APP.namespace, "name": APP.name, "resourceVersion": "1",
                     "annotations": {authorization.ANNOTATION: "k8sta"}},  # the tickets' namespace (opt-in)
        "spec": {"source": {"repoURL": remote.url, "targetRevision": "env/dev", "path": ".",
                            "plugin": {"name": "k8sta"}}}}
    cache.set_apps([application])
    git_settings = GitSettings(mirrors=tmp_path / "daemon-mirrors", credentials=lambda _url, _project=None: ANONYMOUS,
                               kustomize=kustomize, limits=limits, default_source_branch="main")
    return Context(kube=None, argo=None, cache=cache, metrics=Metrics(), git=git_settings)  # type: ignore[arg-type]


def push(ctx: Context, remote: Remote, name: str, tag: str) -> outcomes.Outcome:
    main = remote.head("main")
    assert main is not None
    action = actions.PushStation(ticket=model.TicketRef("k8sta", name), track="main", station="dev",
                                 applications=(APP,),
                                 snapshot=model.Snapshot(main, (model.ImagePin(pin(tag).name, tag),)))
    return push_station.run(action, ctx)


def hand_commit(remote: Remote, tmp_path: Path, change: dict[str, str | None], name: str) -> str:
    """A person clones env/dev, changes or deletes files and pushes (no K8sTA trailers)."""
    work = tmp_path / f"hand-{name}"
    git("clone", "-q", "-b", "env/dev", remote.url, str(work))
    for path, text in change.items():
        target = work / path
        if text is None:
            git("rm", "-q", "-r", path, cwd=work)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", f"hand edit ({name})", cwd=work)
    git("push", "-q", "origin", "env/dev", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.mark.parametrize("change", [
    {".k8sta": None},
    {contract.METADATA_PATH: "ticket: {namespace: k8sta, name: api-1}\nstation: dev\n"},  # no apiVersion
], ids=["k8sta-dir-removed", "metadata-without-apiVersion"])
def test_the_next_ticket_lands_on_top_of_a_hand_edit_and_reports_it(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits,
        change: dict[str, str | None]) -> None:
    ctx = context(remote, tmp_path, kustomize, limits)
    first = push(ctx, remote, "api-1", "1.0.0")
    assert isinstance(first, outcomes.Pushed)
    ours = first.commits[0].commit
    human = hand_commit(remote, tmp_path, change, "edit")

    second = push(ctx, remote, "api-2", "2.0.0")

    assert isinstance(second, outcomes.Pushed)
    (commit,) = second.commits
    assert remote.head("env/dev") == commit.commit
    assert remote.git("rev-list", "--parents", "-n1", commit.commit).split() == [commit.commit, human]
    said = messages.trailers(remote.git("log", "-1", "--format=%B", commit.commit))
    assert (said.ticket, said.station) == ("k8sta/api-2", "dev")
    meta = contract.parse_metadata(remote.show(commit.commit, contract.METADATA_PATH) + "\n")
    assert meta.ticket == ticket("api-2") and meta.images == (pin("2.0.0"),)
    assert second.hand_edits == (model.Drift(APP, "env/dev", human),)
    body = remote.git("log", "-1", "--format=%B", commit.commit)
    assert f"hand edit {human[:12]}" in body and "(was 1.0.0)" in body  # compared with {ours}'s pins
    assert remote.git("rev-parse", f"{human}^") == ours
    assert first.hand_edits == ()


def test_a_repeated_push_after_landing_is_a_no_op_without_a_hand_edit(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    ctx = context(remote, tmp_path, kustomize, limits)
    push(ctx, remote, "api-1", "1.0.0")
    hand_commit(remote, tmp_path, {".k8sta": None}, "edit")
    landed = push(ctx, remote, "api-2", "2.0.0")

    again = push(ctx, remote, "api-2", "2.0.0")

    assert isinstance(landed, outcomes.Pushed) and isinstance(again, outcomes.Pushed)
    assert again.commits == landed.commits and again.hand_edits == ()


def test_a_branch_k8sta_never_wrote_is_still_refused(
        mirror: Mirror, remote: Remote, tmp_path: Path, kustomize: Kustomize, limits: safety.Limits) -> None:
    main = remote.head("main")
    remote.git("update-ref", "refs/heads/env/dev", str(main))
    ctx = context(remote, tmp_path, kustomize, limits)

    with pytest.raises(errors.NotAnAppBranch, match="not written by K8sTA"):
        push(ctx, remote, "api-1", "1.0.0")

    assert remote.head("env/dev") == main
