"""Nudge the pollers of the Subscriptions that watch a repository (a webhook said it changed).

Callers: ``web.hooks`` (for ``/webhooks/nudge`` and ``/webhooks/image``). Only the ``k8sta.io/nudged-at``
annotation is written: the poller notices the change through its watch and reads the registry or
repository at once. Nothing of the webhook's body reaches a ticket, and which version is newest stays
the poller's decision (its strategy), never the order in which webhooks arrived.

Debounce: a Subscription whose ``k8sta.io/nudged-at`` is less than ``debounce`` seconds old is left alone
(its poller is already reading, or has just read), so a replayed or repeated webhook forces no extra
poll, whichever replica receives it. A push landing within the window after that read is found by the
poller's next regular poll.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import NamedTuple

from k8sta_daemon.adapters.git.mirror import normalise_url
from k8sta_daemon.core import codec
from k8sta_daemon.core import subscriptions as subs

from .store import Store


def _same_git(a: str, b: str) -> bool:
    def key(url: str) -> str:
        text = normalise_url(url).rstrip("/").lower()
        return text[:-4] if text.endswith(".git") else text
    return key(a) == key(b)


class Nudged(NamedTuple):
    nudged: list[str]  # annotated now: their pollers read at once
    debounced: list[str]  # matched, but nudged less than ``debounce`` seconds ago: left alone


def recently(nudged_at: str | None, now: float, debounce: float) -> bool:
    """The Subscription was nudged less than ``debounce`` seconds before ``now`` (a stamp from the future,
    such as another replica's clock running ahead, counts as recent too)."""
    if nudged_at is None or debounce <= 0:
        return False
    try:
        return now - codec.parse_time(nudged_at) < debounce
    except ValueError:
        return False


def nudge(store: Store, namespace: str, *, images: Iterable[str] = (), git_urls: Iterable[str] = (),
          track: str | None = None, debounce: float = 0.0) -> Nudged:
    """The Subscriptions in ``namespace`` watching one of ``images``/``git_urls`` and, when ``track`` is
    named (a push for one Track), feeding that Track (``spec.tracks``): nudged, or debounced."""
    images, git_urls = set(images), list(git_urls)
    nudged, debounced = [], []
    now = time.time()
    stamp = codec.format_time(now)
    for obj in store.subscriptions(namespace):
        try:
            sub = subs.from_dict(obj)
        except codec.MalformedObject:
            continue
        if track is not None and track not in sub.tracks:
            continue
        hit = (sub.image is not None and sub.image.repository in images) or (
            sub.config is not None and any(_same_git(sub.config.repo_url, url) for url in git_urls))
        if hit and recently(sub.nudged_at, now, debounce):
            debounced.append(sub.name)
        elif hit:
            store.nudge_subscription(namespace, sub.name, stamp)
            nudged.append(sub.name)
    return Nudged(sorted(nudged), sorted(debounced))
