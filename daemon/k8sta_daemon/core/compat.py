"""Which Argo CD releases K8sTA works with: the verdict on the version Argo CD reports at start.

Pure: the caller reads ``GET /api/version`` and the tested pins (``toolchain/versions.env``:
``ARGOCD_VERSION`` and ``ARGOCD_COMPAT_VERSION``); this module only judges. The support table in
docs/operations.md ("Argo CD versions") says the same in words:

- a minor that CI tests (the two pins' minors): supported, logged;
- any other 3.x from 3.1 on: untested, a warning naming the tested minors;
- below 3.1: refused. Those releases lack ``POST .../resource/actions/v2`` (added in 3.1), which K8sTA
  resumes paused Rollouts with;
- a version that does not parse (a fork's own scheme): untested, a warning quoting it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

OLDEST_COMPATIBLE = (3, 1)
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


class Support(enum.Enum):
    TESTED = "tested"
    UNTESTED = "untested"
    INCOMPATIBLE = "incompatible"


@dataclass(frozen=True)
class ArgoCDVerdict:
    support: Support
    version: str
    message: str


def parse(version: str) -> tuple[int, int, int] | None:
    """``v3.6.2+abc1234`` -> (3, 6, 2); None when it is not a release version."""
    match = _VERSION.match(version.strip())
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def judge_argocd(version: str, tested: Iterable[str]) -> ArgoCDVerdict:
    """The verdict on Argo CD ``version`` given the pins CI tests against (see the module docstring)."""
    minors = sorted({release[:2] for release in (parse(t) for t in tested) if release is not None})
    named = ", ".join(f"{major}.{minor}" for major, minor in minors) or "none"
    release = parse(version)
    if release is None:
        return ArgoCDVerdict(Support.UNTESTED, version,
                             f"Argo CD reports version {version!r}, which K8sTA cannot read; "
                             f"tested minors: {named}. Continuing")
    if release[:2] < OLDEST_COMPATIBLE:
        oldest = ".".join(map(str, OLDEST_COMPATIBLE))
        return ArgoCDVerdict(Support.INCOMPATIBLE, version,
                             f"Argo CD {version} is not supported: K8sTA needs Argo CD {oldest} or newer "
                             f"(it resumes Rollouts through resource actions v2, added in 3.1); tested minors: "
                             f"{named}. Upgrade Argo CD, or run the K8sTA release that supported it")
    if release[:2] in minors:
        return ArgoCDVerdict(Support.TESTED, version, f"Argo CD {version}: a release line K8sTA is tested with")
    return ArgoCDVerdict(Support.UNTESTED, version,
                         f"Argo CD {version} is untested with this K8sTA (tested minors: {named}); the API "
                         "paths K8sTA uses are the same in every tested minor, so it should work; report what breaks")
