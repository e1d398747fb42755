"""``reading`` and ``appbranch.preview``: what ``k8sta diff`` reads from git, on real repositories."""

from __future__ import annotations

import pytest
import yaml
from gitrepos import DEV, Human, Remote, pin, ticket

from k8sta_cmp import contract, safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import appbranch, errors, reading
from k8sta_daemon.adapters.git.mirror import Mirror


def push(mirror: Mirror, name: str, tag: str, kustomize: Kustomize, limits: safety.Limits,
         config: str | None = None) -> str:
    return appbranch.promote(mirror, source_branch="main", config_commit=config, targets=[DEV], ticket=ticket(name),
                             track="main", station="dev", images=[pin(tag)], kustomize=kustomize,
                             limits=limits)["env/dev"]


def test_preview_renders_exactly_what_the_push_then_commits(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    mirror.fetch()
    before = remote.refs()
    shown = appbranch.preview(mirror, source_branch="main", config_commit=None, target=DEV, images=[pin("2.0.0")],
                              kustomize=kustomize, limits=limits)
    assert remote.refs() == before  # nothing written
    sha = push(mirror, "api-1", "2.0.0", kustomize, limits)
    assert shown.decode() == reading.rendered_at(mirror, sha, "app-branch commit")
    (deployment,) = [d for d in yaml.safe_load_all(shown) if d]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/api:2.0.0"


def test_replaced_by_skips_the_visits_own_rerender_and_finds_the_previous_visit(
        mirror: Mirror, human: Human, kustomize: Kustomize, limits: safety.Limits) -> None:
    first = push(mirror, "api-1", "1.0.0", kustomize, limits)
    second = push(mirror, "api-2", "1.1.0", kustomize, limits)
    human.commit({"env/dev/kustomization.yaml": "resources:\n- ../../base\nnamespace: dev2\n"}, "dev: move")
    rerendered = appbranch.rerender(mirror, source_branch="main", target=DEV, kustomize=kustomize, limits=limits)
    assert rerendered not in (None, second)
    assert reading.replaced_by(mirror, rerendered or "", "head") == first
    assert reading.replaced_by(mirror, second, "head") == first
    assert reading.replaced_by(mirror, first, "head") is None
    meta = reading.metadata_at(mirror, first, "commit")
    assert meta is not None and meta.ticket == ticket("api-1") and meta.images == (pin("1.0.0"),)


def test_between_lists_the_commits_each_side_lacks_newest_first(mirror: Mirror, human: Human) -> None:
    mirror.fetch()
    start = mirror.branch_head("main") or ""
    one = human.commit({"README.md": "one\n"}, "one")
    two = human.commit({"README.md": "two\n"}, "two\n\nwith a body")
    mirror.fetch()
    ahead, behind = reading.between(mirror, start, two)
    assert [(c.sha, c.subject) for c in ahead] == [(two, "two"), (one, "one")] and behind == []
    assert ahead[0].author.endswith(">") and ahead[0].time > 0
    assert reading.between(mirror, two, start) == ([], ahead)


def test_a_missing_commit_or_rendered_file_is_named(mirror: Mirror, remote: Remote) -> None:
    mirror.fetch()
    with pytest.raises(errors.NotFound, match="config commit " + "f" * 40):
        reading.between(mirror, "f" * 40, remote.head("main") or "")
    with pytest.raises(errors.NotFound, match=f"no {contract.RENDERED_PATH}"):
        reading.rendered_at(mirror, remote.head("main") or "", "app-branch commit")
