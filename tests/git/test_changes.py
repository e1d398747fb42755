"""classify(): which source commits start a ticket, which only re-render overlays (pure table)."""

from __future__ import annotations

import pytest

from k8sta_daemon.adapters.git import changes

K = changes.ChangeKind


@pytest.mark.parametrize(("paths", "overlay_dirs", "kind", "overlays", "shared", "unused"), [
    pytest.param([], None, K.NONE, set(), (), (), id="nothing"),
    pytest.param(["base/deployment.yaml"], None, K.SHARED_CONFIG, set(), ("base/deployment.yaml",), (),
                 id="shared"),
    pytest.param(["README.md"], None, K.SHARED_CONFIG, set(), ("README.md",), (), id="top-level-file"),
    pytest.param(["env/dev/kustomization.yaml"], None, K.OVERLAY_ONLY, {"env/dev"}, (), (), id="one-overlay"),
    pytest.param(["env/dev/a.yaml", "env/prod/b/c.yaml"], None, K.OVERLAY_ONLY, {"env/dev", "env/prod"}, (),
                 (), id="two-overlays"),
    pytest.param(["env/dev/a.yaml", "base/x.yaml"], None, K.SHARED_CONFIG, {"env/dev"}, ("base/x.yaml",), (),
                 id="mixed-is-shared"),
    pytest.param(["env/README.md"], None, K.NONE, set(), (), ("env/README.md",), id="file-directly-in-env"),
    pytest.param(["environment/x.yaml"], None, K.SHARED_CONFIG, set(), ("environment/x.yaml",), (),
                 id="prefix-is-not-env"),
    pytest.param(["env/team/dev/k.yaml", "env/team/prod/k.yaml"], ["env/team/dev"], K.OVERLAY_ONLY,
                 {"env/team/dev"}, (), ("env/team/prod/k.yaml",), id="known-nested-overlays"),
    pytest.param(["env/dev-2/k.yaml"], ["env/dev"], K.NONE, set(), (), ("env/dev-2/k.yaml",),
                 id="known-overlay-is-a-directory-not-a-prefix"),
    pytest.param(["env/a/b/k.yaml"], ["env/a", "env/a/b"], K.OVERLAY_ONLY, {"env/a/b"}, (), (),
                 id="deepest-known-overlay-wins"),
])
def test_classify(paths: list[str], overlay_dirs: list[str] | None, kind: changes.ChangeKind,
                  overlays: set[str], shared: tuple[str, ...], unused: tuple[str, ...]) -> None:
    result = changes.classify(paths, overlay_dirs=overlay_dirs)

    assert result.kind == kind
    assert result.overlays == frozenset(overlays)
    assert result.shared == shared
    assert result.unused == unused
