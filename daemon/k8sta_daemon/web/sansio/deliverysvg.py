"""The board's delivery page: one ``<section>`` per (Track, terminal Station) with its figures over the last
days as a server-rendered SVG, drawn like the railway (``svg.py``): fixed markup and escaped values only.

Callers: ``web.delivery`` with the windows ``core.delivery.last_days`` returns. Pure: windows in, ``Markup``
out. Four strips share one x axis of days: deployments per day (bars), lead time of each deployment
(dots), changes and change failures per day (grey and red bars), time to restore of each outage (dots);
every bar and dot carries a ``<title>`` with its numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup

from k8sta_daemon.core import delivery

from .svg import escape

LEFT, RIGHT = 96, 12  # the strip labels' room; the right margin
DAY_W = 22  # px per day
STRIP_H, STRIP_GAP, TOP = 56, 26, 18
DOT_R = 3.5


def duration(seconds: float | None) -> str:
    """A duration as people read it: ``45s``, ``12m``, ``3.5h``, ``2.1d`` (``-``: none)."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3_600:
        return f"{seconds / 60:.0f}m"
    if seconds < delivery.DAY:
        return f"{seconds / 3_600:.1f}h"
    return f"{seconds / delivery.DAY:.1f}d"


def _date(start: float) -> str:
    return dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m-%d")


def _label(x: float, y: float, text: str, cls: str, anchor: str = "start") -> str:
    return f'<text x="{x:g}" y="{y:g}" class="{cls}" text-anchor="{anchor}">{escape(text)}</text>'


def _bar(x: float, base: float, height: float, cls: str, title: str) -> str:
    return (f'<rect x="{x + 3:g}" y="{base - height:g}" width="{DAY_W - 6}" height="{height:g}" class="{cls}">'
            f"<title>{escape(title)}</title></rect>")


def _dots(days: Sequence[delivery.Day], values: Sequence[tuple[float, ...]], top: float, cls: str,
          what: str) -> list[str]:
    highest = max((v for vs in values for v in vs), default=0.0)
    out = [_label(LEFT - 8, top + 10, duration(highest) if highest else "", "axis", "end")]
    for i, (day, found) in enumerate(zip(days, values, strict=True)):
        for j, value in enumerate(found):
            x = LEFT + i * DAY_W + DAY_W / 2 + (j % 3 - 1) * 5  # up to three side by side, then they overlap
            y = top + STRIP_H - (value / highest * (STRIP_H - DOT_R * 2) if highest else 0) - DOT_R
            out.append(f'<circle cx="{x:g}" cy="{y:g}" r="{DOT_R}" class="{cls}">'
                       f"<title>{escape(f'{_date(day.start)}: {what} {duration(value)}')}</title></circle>")
    return out


def render_window(window: delivery.Window) -> Markup:
    """The ``<section>`` of one series: its summary and its four strips."""
    days = window.days
    width = LEFT + DAY_W * len(days) + RIGHT
    strips = ("deployments / day", "lead time", "changes, failures", "time to restore")
    svg: list[str] = []
    tops = [TOP + k * (STRIP_H + STRIP_GAP) for k in range(len(strips))]
    for top, name in zip(tops, strips, strict=True):
        svg.append(_label(LEFT, top - 5, name, "strip-name"))
        svg.append(f'<line x1="{LEFT}" y1="{top + STRIP_H}" x2="{width - RIGHT}" y2="{top + STRIP_H}" '
                   'class="axis-line"/>')
    # deployments per day
    most = max((d.deployments for d in days), default=0)
    svg.append(_label(LEFT - 8, tops[0] + 10, str(most) if most else "", "axis", "end"))
    for i, day in enumerate(days):
        if day.deployments:
            svg.append(_bar(LEFT + i * DAY_W, tops[0] + STRIP_H, day.deployments / most * STRIP_H, "deploys",
                            f"{_date(day.start)}: {day.deployments} deployment{'s' * (day.deployments != 1)}"))
    svg.extend(_dots(days, [d.lead_times for d in days], tops[1], "lead", "lead time"))
    # changes (grey) with their failures (red) in front
    most = max((d.changes for d in days), default=0)
    svg.append(_label(LEFT - 8, tops[2] + 10, str(most) if most else "", "axis", "end"))
    for i, day in enumerate(days):
        if day.changes:
            title = f"{_date(day.start)}: {day.failures} of {day.changes} change{'s' * (day.changes != 1)} failed"
            svg.append(_bar(LEFT + i * DAY_W, tops[2] + STRIP_H, day.changes / most * STRIP_H, "changes", title))
            if day.failures:
                svg.append(_bar(LEFT + i * DAY_W, tops[2] + STRIP_H, day.failures / most * STRIP_H, "failures", title))
    svg.extend(_dots(days, [d.restores for d in days], tops[3], "restore", "restored after"))
    # the days under the last strip: first, middle, last
    base = tops[-1] + STRIP_H + 14
    for i in sorted({0, len(days) // 2, len(days) - 1}):
        svg.append(_label(LEFT + i * DAY_W + DAY_W / 2, base, _date(days[i].start)[5:], "axis", "middle"))
    height = base + 6
    key = window.key
    label = (f"Delivery of track {key.namespace}/{key.track} to station {key.station} over the last "
             f"{len(days)} days")
    picture = (f'<svg class="delivery" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
               f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">' + "".join(svg) + "</svg>")
    return Markup(f'<section class="series" id="{escape(f"delivery/{key.track}/{key.station}")}" '
                  f'data-track="{escape(key.track)}" data-station="{escape(key.station)}">'
                  f'<h2>{escape(key.track)} &rarr; {escape(key.station)}</h2>'
                  + _summary(window) + picture + "</section>")


def _summary(window: delivery.Window) -> str:
    days = len(window.days)
    rate = f"{window.failures / window.changes:.0%} ({window.failures} of {window.changes})" if window.changes else "-"
    facts = (("deployments", f"{window.deployments} ({window.deployments / days:.2g} a day)"),
             ("median lead time", duration(delivery.median(window.lead_times))),
             ("change failure rate", rate),
             ("median time to restore", duration(delivery.median(window.restores))))
    return ('<dl class="figures">' + "".join(f'<dt>{escape(name)}</dt><dd data-figure="{escape(name)}">'
                                             f"{escape(value)}</dd>" for name, value in facts) + "</dl>")
