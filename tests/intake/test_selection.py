"""The Subscription strategies (core.selection), as tables, plus: the answer never depends on the order
tags are listed or delivered."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from k8sta_daemon.core.selection import Candidate, ImageRule, InvalidRule, Strategy, eligible, newest, parse_constraint

TAGS = ["1.1.0", "1.2.0", "1.10.0", "1.9.3", "2.0.0", "v1.11.0", "1.12.0-rc.1", "1.10.0-debug", "latest",
        "main-abc123", "1.2", "01.2.3"]

SEMVER_TABLE = [
    # (constraint, allow, ignore, expected newest)
    (None, None, (), "2.0.0"),
    (">=1.2.0, <2.0.0", None, (), "v1.11.0"),
    (">=1.2.0,<2.0.0", None, ("v*",), "1.10.0"),
    ("<1.10.0", None, (), "1.9.3"),
    ("==1.2.0", None, (), "1.2.0"),
    ("!=2.0.0", None, (), "v1.11.0"),
    (">1.11.0", None, (), "2.0.0"),
    (">=1.12.0-rc.0, <2.0.0", None, (), "1.12.0-rc.1"),  # a pre-release bound admits pre-releases
    (">=3.0.0", None, (), None),
    (None, r"1\.[0-9]+\.[0-9]+", (), "1.10.0"),  # allowTags is a full match: v1.11.0 is out
    (None, r"1\..*", ("1.1*",), "1.9.3"),
    (None, None, ("*",), None),
]


@pytest.mark.parametrize(("constraint", "allow", "ignore", "expected"), SEMVER_TABLE)
def test_semver(constraint: str | None, allow: str | None, ignore: tuple[str, ...], expected: str | None) -> None:
    rule = ImageRule(Strategy.SEMVER, constraint, allow, ignore)
    found = newest(rule, [Candidate(t) for t in TAGS])
    assert (found.tag if found else None) == expected


def test_semver_never_takes_non_versions_or_prereleases_unasked() -> None:
    assert eligible(ImageRule(Strategy.SEMVER), TAGS) == sorted(["1.1.0", "1.2.0", "1.10.0", "1.9.3", "2.0.0",
                                                                  "v1.11.0"])


def test_semver_equal_precedence_breaks_ties_by_tag() -> None:
    found = newest(ImageRule(), [Candidate("v1.2.3"), Candidate("1.2.3+b2"), Candidate("1.2.3")])
    assert found is not None and found.tag == "v1.2.3"


@pytest.mark.parametrize("bad", ["1.2", ">=1.2.0 <2.0.0", "~1.2.0", ">= x", "1.2.3,", ">=1.2.0,,<2.0.0"])
def test_semver_bad_constraint_is_named(bad: str) -> None:
    with pytest.raises(InvalidRule, match=r"spec\.image\.constraint"):
        newest(ImageRule(constraint=bad), [Candidate("1.2.3")])


def test_parse_constraint_reads_every_comparison() -> None:
    assert [(op, str(v)) for op, v in parse_constraint(" >=1.2.0 , <2.0.0,1.5.0")] == [
        (">=", "1.2.0"), ("<", "2.0.0"), ("==", "1.5.0")]
    assert parse_constraint(None) == parse_constraint("  ") == ()


def test_bad_allow_tags_is_named() -> None:
    with pytest.raises(InvalidRule, match=r"spec\.image\.allowTags"):
        eligible(ImageRule(Strategy.LEXICAL, allow_tags="(unclosed"), ["a"])


NEWEST_BUILD_TABLE = [
    ([("a", 10.0), ("b", 30.0), ("c", 20.0)], "b"),
    ([("a", 10.0), ("b", None), ("c", 5.0)], "a"),  # no created: never chosen
    ([("a", 10.0), ("b", 10.0)], "b"),  # same second: the higher tag, so the answer is total
    ([("a", None)], None),
    ([], None),
]


@pytest.mark.parametrize(("tags", "expected"), NEWEST_BUILD_TABLE)
def test_newest_build(tags: list[tuple[str, float | None]], expected: str | None) -> None:
    found = newest(ImageRule(Strategy.NEWEST_BUILD), [Candidate(t, created=c) for t, c in tags])
    assert (found.tag if found else None) == expected


@pytest.mark.parametrize(("tags", "ignore", "expected"), [
    (["a", "b", "B", "2026-01-02", "2026-01-10"], (), "b"),
    (["2026-01-02", "2026-01-10", "2025-12-31"], (), "2026-01-10"),
    (["main-1", "main-2", "pr-9"], ("pr-*",), "main-2"),
    ([], (), None),
])
def test_lexical(tags: list[str], ignore: tuple[str, ...], expected: str | None) -> None:
    found = newest(ImageRule(Strategy.LEXICAL, ignore_tags=ignore), [Candidate(t) for t in tags])
    assert (found.tag if found else None) == expected


def test_digest_follows_only_the_named_tag() -> None:
    rule = ImageRule(Strategy.DIGEST, constraint="stable")
    found = newest(rule, [Candidate("latest", "sha256:" + "1" * 64), Candidate("stable", "sha256:" + "2" * 64)])
    assert found == Candidate("stable", "sha256:" + "2" * 64)
    assert newest(rule, [Candidate("latest")]) is None
    assert newest(ImageRule(Strategy.DIGEST, "stable", ignore_tags=("stab*",)), [Candidate("stable")]) is None


tag_text = st.from_regex(r"v?[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}(-rc\.[0-9])?|[a-z]{1,4}", fullmatch=True)


@given(st.lists(st.tuples(tag_text, st.one_of(st.none(), st.integers(0, 50).map(float))), max_size=12,
                unique_by=lambda t: t[0]), st.randoms(use_true_random=False),
       st.sampled_from(list(Strategy)), st.sampled_from([None, ">=1.0.0", ">=0.0.0-rc.0, <9.0.0"]))
def test_order_of_delivery_never_matters(tags: list[tuple[str, float | None]], rnd: object, strategy: Strategy,
                                         constraint: str | None) -> None:
    if strategy is Strategy.DIGEST:
        constraint = tags[0][0] if tags else "x"
    rule = ImageRule(strategy, constraint)
    candidates = [Candidate(t, created=c) for t, c in tags]
    shuffled = list(candidates)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert newest(rule, candidates) == newest(rule, shuffled) == newest(rule, list(reversed(candidates)))
    found = newest(rule, candidates)
    if found is not None:  # and the choice is one of the eligible tags
        assert found.tag in eligible(rule, [c.tag for c in candidates])
