"""The human form of ``k8sta diff`` (pure): both ends, pins with digests, commits, objects, and a Secret
reduced to its keys."""

from __future__ import annotations

import yaml

from k8sta_daemon.cli.commands import diff as command
from k8sta_daemon.core import diff, model
from k8sta_daemon.ops import board

IMAGE = "ghcr.io/acme/api"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
C1, C2 = "a" * 40, "b" * 40


def side(label: str, config: str, tag: str, digest: str | None, password: str, replicas: int) -> diff.Side:
    docs = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
             "spec": {"replicas": replicas}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "data": {"password": password}}]
    return diff.Side(label, model.Snapshot(config, (model.ImagePin(IMAGE, tag, digest),)), (yaml.safe_dump_all(docs),))


def test_the_human_form_names_both_ends_and_never_a_secret_value() -> None:
    commit = diff.ConfigCommit(C2, "shared config: version 2", "Ann <ann@example.org>", 1_796_000_000.0)
    found = diff.compute(side("prod now (api-3)", C1, "1.0.0", D1, "cGFzcy1vbGQ=", 2),
                         side("api-4 at prod", C2, "1.1.0", None, "cGFzcy1uZXc=", 3), ahead=[commit])
    text = command.render(diff.to_json(found, board.iso))
    assert text.splitlines()[:7] == [
        "diff prod now (api-3) -> api-4 at prod",
        "images:",
        f"  ~ {IMAGE}  1.0.0@{D1} -> 1.1.0 (no digest)",
        f"config: {C1} -> {C2}",
        f"  + {C2[:12]}  shared config: version 2  (Ann <ann@example.org>, 2026-11-30T00:53:20Z)",
        "objects:",
        "  ~ Deployment.apps/api",
    ]
    assert "      data changed (keys: data.password)" in text.splitlines()
    assert "cGFzcy1vbGQ=" not in text and "cGFzcy1uZXc=" not in text


def test_the_same_version_on_both_ends_says_so() -> None:
    one = side("a", C1, "1.0.0", D1, "eA==", 2)
    text = command.render(diff.to_json(diff.compute(one, diff.Side("b", one.snapshot, one.rendered)), board.iso))
    assert text == "diff a -> b\n  no difference: same images, same config commit, same rendered objects"
