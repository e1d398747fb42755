"""Which tag of an image repository is newest: the Subscription strategies, pure and total.

Callers: the image poller (``watch/images.py``) hands the tag list (and, for NewestBuild, each tag's
build time) to ``newest``. The order comes from the strategy alone, never from the order tags were
pushed, listed or delivered by a webhook: the same tags in any order give the same answer.

Strategies (the Subscription CRD's ``spec.image.strategy``):
- ``SemVer``: the highest SemVer 2.0 version (``1.2.3``, ``v1.2.3``, ``1.2.3-rc.1``) matching every
  comparison of ``constraint`` (``">=1.2.0, <2.0.0"``, parsed and compared by the ``semver`` library).
  Pre-releases count only when the constraint names one, as npm and Masterminds semver do.
- ``NewestBuild``: the newest image config ``created`` time; ties break by the higher tag.
- ``Lexical``: the highest tag by code point.
- ``Digest``: the single tag named in ``constraint``; a new digest under it is the change.
``allowTags`` (a regular expression the whole tag must match) and ``ignoreTags`` (globs) filter first.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

import semver

__all__ = ["Candidate", "ImageRule", "InvalidRule", "Strategy", "eligible", "newest", "parse_constraint"]


class Strategy(enum.Enum):
    SEMVER = "SemVer"
    NEWEST_BUILD = "NewestBuild"
    LEXICAL = "Lexical"
    DIGEST = "Digest"


class InvalidRule(ValueError):
    """A constraint or filter that cannot be used; the message names the field."""


_COMPARISON = re.compile(r"^(==|!=|>=|<=|>|<)?\s*(v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$")


@dataclass(frozen=True)
class ImageRule:
    """What a Subscription asks of its image repository's tags."""

    strategy: Strategy = Strategy.SEMVER
    constraint: str | None = None
    allow_tags: str | None = None
    ignore_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One tag as the registry reports it; ``created`` (epoch seconds) only matters for NewestBuild."""

    tag: str
    digest: str | None = None
    created: float | None = None


def parse_version(tag: str) -> semver.Version | None:
    """A SemVer tag (an optional leading ``v``), or None when the tag is not one."""
    try:
        return semver.Version.parse(tag[1:] if tag[:1] == "v" else tag)
    except (ValueError, TypeError):
        return None


def parse_constraint(text: str | None) -> tuple[tuple[str, semver.Version], ...]:
    """``">=1.2.0, <2.0.0"`` -> ((">=", 1.2.0), ("<", 2.0.0)); empty or None: every version."""
    if text is None or not text.strip():
        return ()
    terms = []
    for part in text.split(","):
        match = _COMPARISON.match(part.strip())
        version = parse_version(match.group(2)) if match else None
        if match is None or version is None:
            raise InvalidRule(f"spec.image.constraint: {part.strip()!r} is not a comparison such as '>=1.2.0' "
                              "(operators ==, !=, >=, <=, >, <; versions MAJOR.MINOR.PATCH)")
        terms.append((match.group(1) or "==", version))
    return tuple(terms)


def _satisfies(version: semver.Version, terms: tuple[tuple[str, semver.Version], ...]) -> bool:
    if version.prerelease and not any(bound.prerelease for _, bound in terms):
        return False
    return all(version.match(f"{op}{bound}") for op, bound in terms)


def _allow(rule: ImageRule) -> re.Pattern[str] | None:
    if rule.allow_tags is None:
        return None
    try:
        return re.compile(rule.allow_tags)
    except re.error as exc:
        raise InvalidRule(f"spec.image.allowTags: {rule.allow_tags!r} is not a regular expression ({exc})") from None


def eligible(rule: ImageRule, tags: Iterable[str]) -> list[str]:
    """The tags the rule may choose from, sorted (so the result never depends on listing order)."""
    allow = _allow(rule)
    terms = parse_constraint(rule.constraint) if rule.strategy is Strategy.SEMVER else ()
    chosen = set()
    for tag in tags:
        if allow is not None and not allow.fullmatch(tag):
            continue
        if any(fnmatch.fnmatchcase(tag, glob) for glob in rule.ignore_tags):
            continue
        if rule.strategy is Strategy.DIGEST and tag != rule.constraint:
            continue
        if rule.strategy is Strategy.SEMVER:
            version = parse_version(tag)
            if version is None or not _satisfies(version, terms):
                continue
        chosen.add(tag)
    return sorted(chosen)


def newest(rule: ImageRule, candidates: Iterable[Candidate]) -> Candidate | None:
    """The newest eligible candidate by the rule's strategy, or None when no tag qualifies.

    NewestBuild ignores candidates without a ``created`` time (the registry did not say).
    """
    by_tag = {c.tag: c for c in candidates}
    pool = [by_tag[tag] for tag in eligible(rule, by_tag)]
    if rule.strategy is Strategy.NEWEST_BUILD:
        pool = [c for c in pool if c.created is not None]
        return max(pool, key=lambda c: (c.created, c.tag), default=None)
    if rule.strategy is Strategy.SEMVER:
        # equal precedence (1.2.3 and v1.2.3, or differing build metadata): the higher tag wins, so ties are total
        return max(pool, key=lambda c: (_Precedence(parse_version(c.tag)), c.tag), default=None)
    return max(pool, key=lambda c: c.tag, default=None)


class _Precedence:
    """SemVer precedence as a sort key (``semver.Version`` orders build metadata too; SemVer says not to)."""

    def __init__(self, version: semver.Version | None) -> None:
        assert version is not None
        self.version = version.replace(build=None)

    def __lt__(self, other: _Precedence) -> bool:
        return self.version < other.version

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Precedence) and self.version == other.version

    def __hash__(self) -> int:
        return hash(self.version)
