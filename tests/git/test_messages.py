"""Commit messages and trailers (pure)."""

from __future__ import annotations

from k8sta_cmp import contract
from k8sta_daemon.adapters.git import messages

META = contract.BranchMetadata(
    ticket=contract.ObjectRef("k8sta", "api-42"), track="main", station="dev",
    application=contract.ObjectRef("argocd", "api-dev"),
    source=contract.Source(branch="main", config_commit="a" * 40, overlay_commit="b" * 40),
    kustomization="env/dev",
    images=(contract.ImagePin("ghcr.io/acme/api", "1.2.3"),),
    renderer=contract.RendererVersions(k8sta="0.1.0", kustomize="v5.7.1"),
    rendered_sha256="c" * 64,
)


def test_first_promotion_message() -> None:
    text = messages.promotion(META, None)

    lines = text.splitlines()
    assert lines[0] == "k8sta: ticket api-42 → station dev (ghcr.io/acme/api:1.2.3)"
    assert "  image ghcr.io/acme/api:1.2.3" in lines
    assert f"  config main@{'a' * 12}" in lines
    assert text.endswith("K8sTA-Ticket: k8sta/api-42\nK8sTA-Station: dev\nK8sTA-Track: main\n")


def test_promotion_message_says_what_moved_and_keeps_the_note() -> None:
    previous = META._replace(
        images=(contract.ImagePin("ghcr.io/acme/api", "1.2.2"), contract.ImagePin("ghcr.io/acme/w", "1")),
        source=META.source._replace(config_commit="d" * 40))

    text = messages.promotion(META, previous, note="Triggered by a registry push.")

    assert "  image ghcr.io/acme/api:1.2.3 (was 1.2.2)" in text
    assert "  image ghcr.io/acme/w no longer pinned (was ghcr.io/acme/w:1)" in text
    assert f"  config main@{'a' * 12} (was {'d' * 12})" in text
    assert "\n\nTriggered by a registry push.\n\n" in text
    assert messages.trailers(text) == messages.Trailers("k8sta/api-42", "dev", "main", None)


def test_headline_without_images_and_with_many() -> None:
    pins = [contract.ImagePin(f"ghcr.io/acme/s{i}", "1") for i in range(4)]
    assert messages.headline_pins([], "f" * 40) == f"config {'f' * 12}"
    assert messages.headline_pins(pins, "f" * 40) == "ghcr.io/acme/s0:1, ghcr.io/acme/s1:1 +2 more"


def test_rerender_message_has_the_rerender_trailer() -> None:
    new = META._replace(source=META.source._replace(overlay_commit="e" * 40))

    text = messages.rerender(new, META)

    assert text.startswith(f"k8sta: re-render env/dev for main@{'e' * 12} (ticket api-42 stays at station dev)")
    assert messages.trailers(text) == messages.Trailers("k8sta/api-42", "dev", "main", "e" * 40)


def test_trailers_only_from_the_last_paragraph() -> None:
    assert messages.trailers("K8sTA-Ticket: a/b") == messages.Trailers(None, None, None, None)
    text = "title\n\nK8sTA-Ticket: x/y in the body\n\nSigned-off-by: someone\nK8sTA-Station: dev\n"
    assert messages.trailers(text) == messages.Trailers(None, "dev", None, None)
