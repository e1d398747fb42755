"""rerender(): an overlay-only source change re-renders one app branch with its current pins, no ride."""

from __future__ import annotations

from pathlib import Path

import yaml
from gitrepos import BASE_FILES, DEV, PROD, Human, Remote, pin, ticket

from k8sta_cmp import contract, safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import appbranch, changes, history, messages
from k8sta_daemon.adapters.git.mirror import Mirror


def test_rerender_keeps_ticket_and_pins_and_takes_the_new_overlay(
        mirror: Mirror, remote: Remote, human: Human, kustomize: Kustomize, limits: safety.Limits) -> None:
    pinned = remote.head("main")
    promoted = appbranch.promote(
        mirror, source_branch="main", config_commit=pinned, targets=[DEV, PROD], ticket=ticket("api-42"),
        track="main", station="dev", images=[pin("1.2.3")], kustomize=kustomize, limits=limits,
    )
    human.commit({"base/deployment.yaml": BASE_FILES["base/deployment.yaml"].replace("replicas: 1", "replicas: 3")},
                 "shared change: this one needs a ticket, not a re-render")
    overlay = human.commit({"env/dev/kustomization.yaml": "resources:\n- ../../base\nnamespace: dev\n"
                            "commonLabels: {team: payments}\n"}, "label dev")

    sha = appbranch.rerender(mirror, source_branch="main", target=DEV, kustomize=kustomize, limits=limits)

    assert sha is not None and sha != promoted["env/dev"]
    assert remote.head("env/dev") == sha
    assert remote.git("rev-list", "--parents", "-n1", sha).split() == [sha, promoted["env/dev"]]
    meta = contract.parse_metadata(remote.show(sha, contract.METADATA_PATH) + "\n")
    assert meta.ticket == ticket("api-42") and meta.station == "dev" and meta.track == "main"
    assert meta.images == (pin("1.2.3"),)
    assert meta.source.config_commit == pinned
    assert meta.source.overlay_commit == overlay
    assert "replicas: 1" in remote.show(sha, "base/deployment.yaml")
    (deployment,) = [d for d in yaml.safe_load_all(remote.show(sha, contract.RENDERED_PATH)) if d]
    assert deployment["metadata"]["labels"] == {"team": "payments"}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.2.3")
    message = remote.git("log", "-1", "--format=%B", sha)
    assert message.startswith("k8sta: re-render env/dev for main@")
    said = messages.trailers(message)
    assert (said.rerender, said.ticket, said.station) == (overlay, "k8sta/api-42", "dev")
    assert remote.head("env/prod") == promoted["env/prod"]  # only the touched overlay's branch


def test_rerender_is_idempotent(
        mirror: Mirror, remote: Remote, human: Human, kustomize: Kustomize, limits: safety.Limits) -> None:
    pinned = remote.head("main")
    appbranch.promote(mirror, source_branch="main", config_commit=pinned, targets=[DEV], ticket=ticket("api-1"),
                      track="main", station="dev", images=[pin("1.0.0")], kustomize=kustomize, limits=limits)
    unchanged = appbranch.rerender(mirror, source_branch="main", target=DEV, kustomize=kustomize, limits=limits)
    assert unchanged == remote.head("env/dev")
    assert remote.count("env/dev") == 1

    human.commit({"env/dev/note.txt": "hello\n"}, "overlay note")
    first = appbranch.rerender(mirror, source_branch="main", target=DEV, kustomize=kustomize, limits=limits)
    second = appbranch.rerender(mirror, source_branch="main", target=DEV, kustomize=kustomize, limits=limits)

    assert first == second == remote.head("env/dev")
    assert remote.count("env/dev") == 2
    # The ticket re-promoted (same pinned config) after a re-render is still "already there".
    again = appbranch.promote(mirror, source_branch="main", config_commit=pinned, targets=[DEV],
                              ticket=ticket("api-1"), track="main", station="dev", images=[pin("1.0.0")],
                              kustomize=kustomize, limits=limits)
    assert again == {"env/dev": first}


def test_rerender_of_a_branch_no_ticket_reached_does_nothing(
        mirror: Mirror, remote: Remote, kustomize: Kustomize, limits: safety.Limits) -> None:
    assert appbranch.rerender(mirror, source_branch="main", target=DEV, kustomize=kustomize, limits=limits) is None
    assert remote.head("env/dev") is None


def test_classifying_source_commits_through_the_mirror(mirror: Mirror, remote: Remote, human: Human,
                                                       tmp_path: Path) -> None:
    first = remote.head("main")
    overlay_only = human.commit({"env/dev/extra.yaml": "a: 1\n"}, "dev only")
    shared = human.commit({"README.md": "new words\n", "env/prod/kustomization.yaml": None}, "shared + prod")
    mirror.fetch()

    dev = changes.classify(history.touched_paths(mirror, first, overlay_only))
    both = changes.classify(history.touched_paths(mirror, overlay_only, shared))
    initial = changes.classify(history.touched_paths(mirror, None, first))

    assert (dev.kind, dev.overlays) == (changes.ChangeKind.OVERLAY_ONLY, frozenset({"env/dev"}))
    assert both.kind == changes.ChangeKind.SHARED_CONFIG
    assert both.shared == ("README.md",) and both.overlays == frozenset({"env/prod"})
    assert initial.overlays == frozenset({"env/dev", "env/prod"})
    assert history.source_head(mirror, "main") == shared
