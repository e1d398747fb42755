"""Nudge the pollers of the Subscriptions that watch a repository (a webhook said it changed).

Callers: ``web.hooks`` (for ``/webhooks/nudge`` and ``/webhooks/image``). Only the ``k8sta.io/nudged-at``
annotation is written: the poller notices the change through its watch and reads the registry or
repository at once. Nothing of the webhook's body reaches a ticket, and which version is newest stays
the poller's decision (its strategy), never the order in which webhooks arrived.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from k8sta_daemon.adapters.git.mirror import normalise_url
from k8sta_daemon.core import codec
from k8sta_daemon.core import subscriptions as subs

from .store import Store


def _same_git(a: str, b: str) -> bool:
    def key(url: str) -> str:
        text = normalise_url(url).rstrip("/").lower()
        return text[:-4] if text.endswith(".git") else text
    return key(a) == key(b)


def nudge(store: Store, namespace: str, *, images: Iterable[str] = (), git_urls: Iterable[str] = (),
          track: str | None = None) -> list[str]:
    """Names of the Subscriptions in ``namespace`` nudged: those watching one of ``images``/``git_urls``
    and, when ``track`` is named (a push for one Track), feeding that Track (``spec.tracks``)."""
    images, git_urls = set(images), list(git_urls)
    nudged = []
    stamp = codec.format_time(time.time())
    for obj in store.subscriptions(namespace):
        try:
            sub = subs.from_dict(obj)
        except codec.MalformedObject:
            continue
        if track is not None and track not in sub.tracks:
            continue
        hit = (sub.image is not None and sub.image.repository in images) or (
            sub.config is not None and any(_same_git(sub.config.repo_url, url) for url in git_urls))
        if hit:
            store.nudge_subscription(namespace, sub.name, stamp)
            nudged.append(sub.name)
    return sorted(nudged)
