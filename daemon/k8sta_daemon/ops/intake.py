"""Pure rules for new tickets: image references, snapshot inheritance, ticket names and bodies.

Callers: the ``ticket create`` and ``rollback`` commands, intake (through ``operations``), and the image
webhook (which only validates a pushed reference with ``parse_image``). Nothing here does I/O,
so the rules ("a new image replaces the pin with the same name, every other pin is inherited from
the Track's newest snapshot") are table-tested without a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from k8sta_cmp import patterns
from k8sta_daemon.core import codec, model

from .errors import Invalid, Refused

TRACK_LABEL = codec.TRACK_LABEL
SOURCE_ANNOTATION = codec.CREATED_BY_ANNOTATION
REASON_ANNOTATION = "k8sta.io/created-for"
ROLLBACK_ANNOTATION = "k8sta.io/rollback-of"

# The Ticket CRD's own patterns (kustomize/crds/tickets.yaml; the shared ones are k8sta_cmp.patterns),
# checked here for a clear message before the API server answers 422.
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_REGISTRY_PORT = re.compile(rf"^[^/]+:{_PORT}/")


def parse_image(reference: str, digest: str | None = None) -> model.ImagePin:
    """``repo:tag[@sha256:…]`` -> an ImagePin; a tag is required (K8sTA pins, it never floats).

    A separately given ``digest`` (webhooks send it apart) must agree with one in the reference.
    """
    if not isinstance(reference, str) or reference != reference.strip() or any(c.isspace() for c in reference):
        raise Invalid(f"image {reference!r} has spaces or line breaks")
    text = reference
    inline: str | None = None
    if "@" in text:
        text, inline = text.split("@", 1)
        if not inline:
            raise Invalid(f"image {reference!r} ends in '@' without a digest")
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon <= slash:  # no tag (a colon before the last slash is a registry port)
        raise Invalid(f"image {reference!r} has no tag: write repo:tag or repo:tag@sha256:<digest>")
    name, tag = text[:colon], text[colon + 1:]
    if not patterns.IMAGE_NAME.match(name):
        raise Invalid(f"image {reference!r}: {name!r} is not a valid repository name")
    first = name.split("/", 1)[0]
    if "/" in name and ":" in first and not _REGISTRY_PORT.match(name):
        raise Invalid(f"image {reference!r}: the registry port must be 1-65535")
    if not patterns.TAG.match(tag):
        raise Invalid(f"image {reference!r}: {tag!r} is not a valid tag")
    if digest is not None and not isinstance(digest, str):
        raise Invalid(f"image {reference!r}: digest must be a string")
    if inline and digest and inline != digest:
        raise Invalid(f"image {reference!r}: digest {digest} disagrees with the reference's digest")
    chosen = inline or digest or None
    if chosen is not None and not patterns.DIGEST.match(chosen):
        raise Invalid(f"image {reference!r}: digest {chosen!r} is not sha256:<64 hex digits>")
    return model.ImagePin(name=name, tag=tag, digest=chosen)


def check_commit(commit: str) -> str:
    """A config commit must be a full commit id: branch names and short SHAs would float or clash."""
    if not patterns.COMMIT.match(commit):
        raise Invalid(f"config commit {commit!r} is not a full git commit id (40 or 64 lowercase hex digits)")
    return commit


def newest_ticket(tickets: Iterable[model.Ticket], track: str) -> model.Ticket | None:
    """The Track's newest ticket that an operator did not abandon (creation order).

    Abandoned tickets are skipped: abandoning says "not this change", so its pins must not leak into
    the next ticket. Failed ones count: a new ticket fixes forward on top of them.
    """
    candidates = [t for t in tickets if t.track == track and t.status.state is not model.TicketState.ABANDONED]
    return max(candidates, key=lambda t: t.order_key) if candidates else None


def newest_snapshot(tickets: Iterable[model.Ticket], track: str) -> model.Snapshot | None:
    """What a new ticket on ``track`` inherits: the newest ticket's snapshot (None on an empty Track)."""
    newest = newest_ticket(tickets, track)
    return newest.snapshot if newest is not None else None


def check_unique(images: Sequence[model.ImagePin]) -> None:
    """One pin per image name: two tags of one image in one ticket cannot both be deployed."""
    names = [pin.name for pin in images]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise Invalid(f"image {duplicates[0]} is given more than once")


def inherit(base: model.Snapshot | None, images: Sequence[model.ImagePin] = (),
            config_commit: str | None = None) -> model.Snapshot:
    """A complete snapshot: ``base`` with each new image replacing the pin of the same name.

    Pins keep the base's order, new names are appended; the config commit is the given one or the
    base's (None when neither: see ``require_config``).
    """
    check_unique(images)
    new = {pin.name: pin for pin in images}
    pins = [new.pop(pin.name, pin) for pin in (base.images if base else ())]
    pins.extend(pin for pin in images if pin.name in new)
    commit = config_commit if config_commit is not None else (base.config_commit if base else None)
    return model.Snapshot(config_commit=commit, images=tuple(pins))


def drop(base: model.Snapshot | None, names: Sequence[str]) -> model.Snapshot | None:
    """``base`` without the pins of image ``names`` (``--drop-image``); each must be pinned there."""
    if base is None or not names:
        if names:
            raise Invalid(f"image {names[0]} is not pinned on the track (it has no ticket yet)")
        return base
    pinned = {pin.name for pin in base.images}
    for name in names:
        if name not in pinned:
            raise Invalid(f"image {name} is not pinned by the track's newest ticket (pinned: "
                          f"{', '.join(sorted(pinned)) or 'none'})")
    return model.Snapshot(base.config_commit, tuple(p for p in base.images if p.name not in names))


def require_config(snapshot: model.Snapshot, track: str) -> model.Snapshot:
    """A ticket pins its config commit at creation (the CRD requires it), so every Station deploys the
    same commit; on a Track without tickets nothing can be inherited and the creator must name one."""
    if snapshot.config_commit is None:
        raise Refused(f"track {track} has no ticket yet to inherit a config commit from: create its first ticket "
                      f"with one (k8sta ticket create --track {track} --config <full commit id> [--image ...])")
    return snapshot


def next_ticket_name(track: str, existing: Iterable[str]) -> str:
    """``<track>-<n>``: one more than the highest such number in the namespace (humans type these)."""
    pattern = re.compile(rf"^{re.escape(track)}-(\d+)$")
    numbers = [int(m.group(1)) for m in map(pattern.match, existing) if m]
    return f"{track}-{max(numbers, default=0) + 1}"


def check_name(kind: str, name: str) -> str:
    if not patterns.OBJECT_NAME.match(name) or len(name) > 253:
        raise Invalid(f"{kind} name {name!r} is not a valid Kubernetes name (lowercase letters, digits, '-', '.')")
    return name


def ticket_body(namespace: str, name: str, track: str, snapshot: model.Snapshot, created_at: float,
                annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Ticket manifest; ``annotations`` record who asked for it and why (the audit trail), and
    ``created_at`` orders it exactly among tickets created within the same second."""
    return {
        "apiVersion": codec.API_VERSION,
        "kind": "Ticket",
        "metadata": {"name": name, "namespace": namespace, "labels": {TRACK_LABEL: track},
                     "annotations": {codec.CREATED_AT_ANNOTATION: codec.format_time(created_at),
                                     **(annotations or {})}},
        "spec": {"track": track, "snapshot": codec.snapshot_to_dict(snapshot)},
    }


def describe_snapshot(snapshot: model.Snapshot) -> str:
    """One line for Events and messages: ``config abc1234, ghcr.io/x/api:1.2``."""
    parts = [f"config {snapshot.config_commit[:12]}" if snapshot.config_commit else "config (source tip)"]
    parts.extend(pin.reference if not pin.digest else f"{pin.name}:{pin.tag}@{pin.digest[:19]}"
                 for pin in snapshot.images)
    return ", ".join(parts)
