"""Freeze windows and stop-the-line: whether a ticket may enter a Station now, and until when not.

Caller: ``core.decide`` (every move into a Station: boarding, departing, a retry) with ``World.now``;
``core.codec`` builds ``Window`` values from a Track's or Station's ``spec.windows`` and checks them
with ``check``. Pure: the clock is the World's, time zones come from the IANA database (``zoneinfo``),
cron schedules from ``cronsim`` (a 5-field cron, matched in the window's time zone, as cron does across
daylight-saving changes: a start in a skipped hour fires at the first minute after it, a repeated hour
fires once). The shape follows Argo CD's sync windows and Kargo's promotion windows: ``kind`` Deny or
Allow, a cron ``schedule`` with a ``duration`` (elapsed time, so a window that spans a DST change
lasts exactly as long), or an absolute ``start``/``end``.

Rules (tests/daemon/test_windows.py):
- a Deny window that is open stops entry until it closes (overlapping Deny windows chain);
- where any Allow window is declared, entry waits outside all of them until the next one opens;
- a Track's and a Station's windows both apply to entering that Station (each with its own Allow set:
  the Station's Allow windows do not widen the Track's, nor the other way round); the message names
  the Station's window first (it is the more specific), then the Track's;
- a namespace frozen with ``k8sta freeze`` stops every entry there, whatever the windows say and
  whether or not the ticket has a window pass;
- a ticket with a window pass (``k8sta ticket pass-window``) goes through windows, never a freeze.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

MAX_STEPS = 64  # windows chained back to back: beyond this the answer is "not within sight"


class Kind(enum.Enum):
    DENY = "Deny"
    ALLOW = "Allow"


class InvalidWindow(ValueError):
    """A window that cannot be evaluated: ``field`` is the spec field at fault (the codec names its path)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field


@dataclass(frozen=True)
class Window:
    """One window: a cron ``schedule`` (in ``timezone``) opening it for ``duration`` seconds, or the
    absolute span ``start`` to ``end`` (epoch seconds). ``reason`` is shown to whoever waits."""

    kind: Kind
    schedule: str | None = None
    duration: float = 0
    timezone: str = "UTC"
    start: float | None = None
    end: float | None = None
    reason: str = ""

    def open_span(self, now: float) -> tuple[float, float] | None:
        """The occurrence open at ``now`` (start inclusive, end exclusive), or None."""
        if self.schedule is None:
            if self.start is not None and self.end is not None and self.start <= now < self.end:
                return self.start, self.end
            return None
        zone = ZoneInfo(self.timezone)
        # cronsim yields starts strictly before its time: one second later makes ``now`` itself count
        latest = next(CronSim(self.schedule, datetime.fromtimestamp(math.floor(now) + 1, zone), reverse=True),
                      None)
        if latest is None:
            return None
        start = latest.timestamp()
        return (start, start + self.duration) if start <= now < start + self.duration else None

    def next_start(self, after: float) -> float | None:
        """The first start strictly after ``after`` (None: never again)."""
        if self.schedule is None:
            return self.start if self.start is not None and self.start > after else None
        following = next(CronSim(self.schedule, datetime.fromtimestamp(after, ZoneInfo(self.timezone))), None)
        return following.timestamp() if following is not None else None

    def describe(self) -> str:
        what = f"{self.kind.value.lower()} window"
        if self.schedule is not None:
            what += f" {self.schedule!r} ({self.timezone}, {_span(self.duration)})"
        else:
            what += f" {_iso(self.start)} to {_iso(self.end)}"
        return what + (f" ({self.reason})" if self.reason else "")


def check(window: Window) -> None:
    """Raise ``InvalidWindow`` naming the field that is wrong (the codec turns it into a field error)."""
    if window.schedule is not None:
        if window.start is not None or window.end is not None:
            raise InvalidWindow("schedule", "give either schedule (with duration) or from/to, not both")
        if len(window.schedule.split()) != 5:
            raise InvalidWindow("schedule", f"{window.schedule!r} must be a 5-field cron expression "
                                "(minute hour day-of-month month day-of-week)")
        try:
            zone = ZoneInfo(window.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidWindow("timeZone", f"{window.timezone!r} is not an IANA time zone "
                                "(e.g. Europe/Berlin, America/New_York, UTC)") from None
        try:
            CronSim(window.schedule, datetime(2000, 1, 1, tzinfo=zone))
        except CronSimError as exc:
            raise InvalidWindow("schedule", f"{window.schedule!r} is not a cron expression: {exc}") from None
        if window.duration <= 0:
            raise InvalidWindow("duration", "must be positive with a schedule (e.g. 2h, 30m, 1h30m)")
        return
    if window.start is None or window.end is None:
        raise InvalidWindow("from" if window.start is None else "to",
                            "give a schedule with a duration, or both from and to")
    if window.end <= window.start:
        raise InvalidWindow("to", f"{_iso(window.end)} must be after from ({_iso(window.start)})")


@dataclass(frozen=True)
class Closed:
    """Entry is not allowed now: ``why`` in words, ``until`` when it may be again (None: not within sight)."""

    why: str
    until: float | None

    def message(self) -> str:
        when = f"until {_iso(self.until)}" if self.until is not None else "with no opening in sight"
        return f"{self.why}, {when}"


@dataclass(frozen=True)
class Scope:
    """The windows one object declares, with the words naming it (``station prod``, ``track web``)."""

    name: str
    windows: tuple[Window, ...]


Memo = dict[tuple[tuple[Window, ...], float], tuple[str | None, float | None]]


def closed(scopes: Sequence[Scope], now: float, memo: Memo | None = None) -> Closed | None:
    """Whether entry is closed at ``now`` by the windows of ``scopes`` (all must allow), and until when.

    ``memo`` (the caller's, e.g. one per decision pass) keeps each set of windows' verdict per moment:
    a cron evaluation costs a few hundred microseconds, and many Tracks often declare the same windows."""
    memo = {} if memo is None else memo
    scopes = [s for s in scopes if s.windows]
    why: str | None = None
    moment: float | None = now
    for _ in range(MAX_STEPS):
        if moment is None:
            break
        later = moment
        for scope in scopes:
            key = (scope.windows, moment)
            if key not in memo:
                memo[key] = _scope_closed(scope.windows, moment)
            reason, opens = memo[key]
            if reason is None:
                continue
            why = why or f"{scope.name}: {reason}"
            later = opens if opens is not None else math.inf
            break
        if later == moment:
            return None if why is None else Closed(why, moment)
        moment = None if later == math.inf else later
    return None if why is None else Closed(why, None)


def _scope_closed(declared: tuple[Window, ...], now: float) -> tuple[str | None, float | None]:
    """Why ``declared`` windows close entry at ``now`` (None: they do not) and when they next might open."""
    denies = [(w, span) for w in declared if w.kind is Kind.DENY and (span := w.open_span(now))]
    if denies:
        window, _ = denies[0]
        return f"inside {window.describe()}", max(end for _, (_, end) in denies)
    allows = [w for w in declared if w.kind is Kind.ALLOW]
    if not allows or any(w.open_span(now) for w in allows):
        return None, None
    starts = [s for w in allows if (s := w.next_start(now)) is not None]
    names = "; ".join(w.describe() for w in allows)
    return f"outside every allow window ({names})", min(starts) if starts else None


def _span(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v) or "0s"


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return "?"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
