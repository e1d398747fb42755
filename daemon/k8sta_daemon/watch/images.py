"""One read of an image Subscription's repository: the newest tag by its strategy, with its digest.

Callers: ``poller``. The tag list comes from the registry itself (never from a webhook body); only the
tags the rule allows are resolved, and for NewestBuild each such tag's config ``created`` is read
(at most ``MAX_RESOLVED`` of them, the highest by code point, so one read stays bounded); a tag
without the Subscription's platform is no candidate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from k8sta_daemon.adapters import registry
from k8sta_daemon.core import selection
from k8sta_daemon.core.subscriptions import ImageSource

MAX_RESOLVED = 100
log = logging.getLogger("k8sta.intake")

Connect = Callable[[ImageSource, registry.Credentials | None], registry.Registry]


def connect(source: ImageSource, credentials: registry.Credentials | None) -> registry.Registry:
    return registry.Registry(source.repository, credentials=credentials, insecure=source.insecure)


def newest(source: ImageSource, client: registry.Registry) -> selection.Candidate | None:
    """The newest eligible tag with its digest (None: no tag matches the rule)."""
    tags = selection.eligible(source.rule, client.tags())
    if not tags:
        return None
    rule = source.rule
    if rule.strategy is selection.Strategy.NEWEST_BUILD:
        candidates = []
        for tag in tags[-MAX_RESOLVED:]:
            try:
                found = client.resolve(tag, platform=source.platform, created=True)
            except registry.PlatformNotFound:
                continue  # a build for other platforms only: not a candidate here
            candidates.append(selection.Candidate(tag, found.digest, found.created))
        return selection.newest(rule, candidates)
    chosen = selection.newest(rule, [selection.Candidate(t) for t in tags])
    if chosen is None:
        return None
    found = client.resolve(chosen.tag, platform=source.platform)
    return selection.Candidate(chosen.tag, found.digest)


def created(source: ImageSource, client: registry.Registry, tag: str) -> float | None:
    """When ``tag``'s image for the Subscription's platform was built (its config's ``created``), for a new
    ticket's lead time; None when the registry cannot say (a read failure never stops intake)."""
    try:
        return client.resolve(tag, platform=source.platform, created=True).created
    except registry.RegistryError as exc:
        log.info("%s:%s: no build time for the lead time: %s", source.repository, tag, exc)
        return None
