"""Subscriptions as values, and the pure rules of intake: what a found change means for each Track.

Callers: the pollers (``watch/``) parse each Subscription with ``from_dict``, read the source, and ask
``plan`` which tickets to create; ``status_body`` is what they write back. Nothing here does I/O.

The rules:
- one change (an image digest, a main commit) acts at most once per Track: the ticket's name is derived
  from (Track, Subscription, change) by ``ticket_name``, so a redelivery, a restart or a second replica
  meets AlreadyExists instead of creating a second ticket; ``status.acted`` records what was done;
- a held Track gets nothing (and is told so in the status); on resume the change found is acted on;
- a failed read backs off exponentially (``retry_delay``), a good one waits ``intervalSeconds``.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from k8sta_cmp import patterns
from k8sta_daemon.core import codec, model
from k8sta_daemon.core.selection import ImageRule, Strategy

NUDGE_ANNOTATION = "k8sta.io/nudged-at"
SUBSCRIPTION_ANNOTATION = "k8sta.io/subscription"
CHANGE_ANNOTATION = "k8sta.io/change"
MAX_ACTED = 64  # the CRD's bound on status.acted; the oldest entries go first
MIN_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 600.0
DEFAULT_PLATFORM = "linux/amd64"



class Reason(enum.Enum):
    """``status.conditions[Ready].reason`` of a Subscription (the CRD's enum)."""

    FOUND = "Found"
    UNAUTHORIZED = "Unauthorized"
    REGISTRY_UNAVAILABLE = "RegistryUnavailable"
    REPOSITORY_NOT_FOUND = "RepositoryNotFound"
    NO_MATCHING_TAG = "NoMatchingTag"
    INVALID_SPEC = "InvalidSpec"
    PULL_SECRET_INVALID = "PullSecretInvalid"
    REPO_UNAVAILABLE = "RepoUnavailable"
    BRANCH_NOT_FOUND = "BranchNotFound"
    TRACK_NOT_FOUND = "TrackNotFound"
    HELD = "Held"


@dataclass(frozen=True)
class ImageSource:
    repository: str
    rule: ImageRule
    platform: str = DEFAULT_PLATFORM
    pull_secret: str | None = None
    insecure: bool = False


@dataclass(frozen=True)
class ConfigSource:
    repo_url: str
    branch: str = "main"


@dataclass(frozen=True)
class Acted:
    """One change acted on: ``key`` is the digest or commit; the tickets and re-rendered branches made."""

    key: str
    reference: str = ""
    tickets: tuple[str, ...] = ()
    rerendered: tuple[str, ...] = ()
    at: float | None = None


@dataclass(frozen=True)
class Subscription:
    namespace: str
    name: str
    tracks: tuple[str, ...]
    interval: float
    image: ImageSource | None = None
    config: ConfigSource | None = None
    generation: int = 0
    nudged_at: str | None = None
    acted: tuple[Acted, ...] = ()
    found_commit: str | None = None
    found_change: str | None = None  # what the found commit changed (config Subscriptions)
    found_overlays: tuple[str, ...] = ()
    failures: int = 0
    raw_status: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def acted_ticket(self, name: str) -> bool:
        return any(name in entry.tickets for entry in self.acted)


def from_dict(obj: Any) -> Subscription:
    """A Subscription object; ``codec.MalformedObject`` names the field when it breaks the schema."""
    meta, what, namespace, name = codec._meta(obj, "Subscription")
    spec = codec._fields(obj.get("spec"), what, "spec")
    status = codec._fields(obj.get("status") or {}, what, "status")
    tracks = spec.strings("tracks")
    if not tracks:
        raise spec.fail("tracks", "names no Track")
    image = config = None
    if spec.data.get("image") is not None:
        img = spec.nested("image")
        strategy = img.enum("strategy", Strategy, Strategy.SEMVER)
        constraint = img.string("constraint")
        if strategy is Strategy.DIGEST and not constraint:
            raise img.fail("constraint", "the Digest strategy needs the tag to follow")
        secret = img.nested("pullSecret").string("name") if img.data.get("pullSecret") is not None else None
        image = ImageSource(repository=img.required("repository"),
                            rule=ImageRule(strategy, constraint, img.string("allowTags"), img.strings("ignoreTags")),
                            platform=img.string("platform") or DEFAULT_PLATFORM, pull_secret=secret,
                            insecure=img.boolean("insecure"))
    if spec.data.get("config") is not None:
        cfg = spec.nested("config")
        config = ConfigSource(repo_url=cfg.required("repoURL"), branch=cfg.string("branch") or "main")
    if (image is None) == (config is None):
        raise spec.fail("image", "exactly one of spec.image and spec.config must be given")
    acted = tuple(Acted(key=a.required("key"), reference=a.string("reference") or "", tickets=a.strings("tickets"),
                        rerendered=a.strings("rerendered"), at=a.parsed("at", codec.parse_time))
                  for a in status.mappings("acted"))
    annotations = meta.data.get("annotations") or {}
    nudged = annotations.get(NUDGE_ANNOTATION) if isinstance(annotations, Mapping) else None
    return Subscription(
        namespace=namespace, name=name, tracks=tracks,
        interval=float(spec.integer("intervalSeconds", minimum=1, default=300) or 300),
        image=image, config=config, generation=meta.integer("generation") or 0,
        nudged_at=nudged if isinstance(nudged, str) else None, acted=acted,
        found_commit=status.nested("found").string("commit"), found_change=status.nested("found").string("change"),
        found_overlays=status.nested("found").strings("overlays"), failures=status.integer("failures") or 0,
        raw_status=dict(obj.get("status") or {}),
    )


def seen_config(objects: Iterable[Any], track: str) -> str | None:
    """The main commit a config Subscription of ``track`` among ``objects`` found (None: there is none).

    The default config commit of a new ticket on ``track``; Subscriptions that do not parse are passed over.
    """
    for obj in objects:
        try:
            sub = from_dict(obj)
        except codec.MalformedObject:
            continue
        if sub.config is not None and track in sub.tracks and sub.found_commit:
            return sub.found_commit
    return None


def ticket_name(track: str, subscription: str, key: str) -> str:
    """``<track>-<12 hex>``: the same (Track, Subscription, change) always names the same ticket."""
    digest = hashlib.sha256(f"{subscription}\n{key}".encode()).hexdigest()[:12]
    return f"{track[:240]}-{digest}"


def retry_delay(failures: int) -> float:
    """Seconds before the next read after ``failures`` failed reads in a row (2, 4, 8 … 600)."""
    return min(MAX_RETRY_SECONDS, MIN_RETRY_SECONDS * 2 ** max(0, min(failures, 30) - 1))


@dataclass(frozen=True)
class Plan:
    """What to do with one found change: tickets to create (Track -> name), Tracks held or missing."""

    create: tuple[tuple[str, str], ...] = ()
    held: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    done: tuple[str, ...] = ()  # tickets acted on before (nothing to do)


def plan(sub: Subscription, key: str, tracks: Mapping[str, model.TrackSpec | None]) -> Plan:
    """For change ``key``: one ticket per subscribed Track that is present, not held and not yet given it."""
    create, held, missing, done = [], [], [], []
    for track in sub.tracks:
        spec = tracks.get(track)
        name = ticket_name(track, sub.name, key)
        if spec is None:
            missing.append(track)
        elif sub.acted_ticket(name):
            done.append(name)
        elif spec.hold is not None:
            held.append(track)
        else:
            create.append((track, name))
    return Plan(tuple(create), tuple(held), tuple(missing), tuple(done))


def with_acted(acted: tuple[Acted, ...], entry: Acted) -> tuple[Acted, ...]:
    """``acted`` with ``entry`` merged in (same key: tickets united), newest last, bounded."""
    merged = [a for a in acted if a.key != entry.key]
    old = next((a for a in acted if a.key == entry.key), None)
    if old is not None:
        entry = Acted(entry.key, entry.reference or old.reference,
                      tuple(dict.fromkeys(old.tickets + entry.tickets)),
                      tuple(dict.fromkeys(old.rerendered + entry.rerendered)), entry.at or old.at)
    return (*merged, entry)[-MAX_ACTED:]


def acted_to_dict(entry: Acted) -> dict[str, Any]:
    body: dict[str, Any] = {"key": entry.key, "reference": entry.reference, "tickets": list(entry.tickets)}
    if entry.rerendered:
        body["rerendered"] = list(entry.rerendered)
    if entry.at is not None:
        body["at"] = codec.format_time(entry.at)
    return body


def status_body(sub: Subscription, *, now: float, source: str, ready: bool, reason: Reason, message: str,
                found: Mapping[str, str] | None, acted: tuple[Acted, ...], failures: int) -> dict[str, Any]:
    """The Subscription's status: what was found, what was acted on, the Ready condition (its transition
    time kept while status and reason stay the same, so an unchanged poll changes only ``checkedAt``)."""
    old = next((c for c in sub.raw_status.get("conditions") or [] if isinstance(c, Mapping)
                and c.get("type") == "Ready"), None)
    status_text = "True" if ready else "False"
    since = now
    if old is not None and old.get("status") == status_text and old.get("reason") == reason.value:
        try:
            since = codec.parse_time(old.get("lastTransitionTime"))
        except (ValueError, TypeError):
            since = now
    previous_found = sub.raw_status.get("found")
    body: dict[str, Any] = {
        "observedGeneration": sub.generation, "source": source[:2048], "checkedAt": codec.format_time(now),
        "failures": min(failures, 1_000_000),
        "acted": [acted_to_dict(a) for a in acted],
        "conditions": [{"type": "Ready", "status": status_text, "reason": reason.value, "message": message[:32768],
                        "lastTransitionTime": codec.format_time(since)}],
    }
    if found is not None:
        body["found"] = dict(found)
    elif isinstance(previous_found, Mapping):
        body["found"] = dict(previous_found)  # a failed read does not forget what was last found
    return body


def check_name(name: str) -> bool:
    return bool(patterns.OBJECT_NAME.match(name)) and len(name) <= 253
