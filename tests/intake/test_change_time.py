"""Intake records when each change was made on the tickets it creates (``k8sta.io/changed-at``), for the
delivery figures' lead time (``core.delivery``): an image's build time from its config's ``created``,
whatever the strategy; the config commit's time is checked end to end in tests/browser/test_delivery.py."""

from __future__ import annotations

import pytest

from k8sta_daemon.core import delivery

from .test_poller import World, world

__all__ = ["world"]

pytestmark = pytest.mark.stack


def changed_at(world: World) -> list[str | None]:
    return [t["metadata"]["annotations"].get(delivery.CHANGED_AT_ANNOTATION) for t in world.new_tickets().values()]


def test_a_semver_image_ticket_carries_the_images_build_time(world: World) -> None:
    key = world.subscription(constraint=">=1.0.0")
    world.push("1.0.0", created="2026-03-04T05:06:07Z")
    world.poll(key)
    assert changed_at(world) == ["2026-03-04T05:06:07Z"]


def test_a_newest_build_ticket_carries_the_build_time_of_its_platform(world: World) -> None:
    key = world.subscription(strategy="NewestBuild", platform="linux/arm64")
    world.push("b", created="2026-06-01T00:00:00Z", platforms=("linux/amd64", "linux/arm64"))
    world.poll(key)
    assert changed_at(world) == ["2026-06-01T00:00:00Z"]
