"""``k8sta stations``: what runs at each Station now (its status), or JSON/YAML for scripts.

Per Station: the version (config commit and image tags), the ticket that brought it and when it
arrived, and each Application's app-branch commit with Argo CD's sync and health as last seen. The
controller writes this status (``core.station_status``); a Station no ticket visited shows what its
app branches record.
"""

from __future__ import annotations

from typing import Any

from k8sta_daemon.ops import board, errors

from ..context import Context
from ..exit import EXIT_OK, ExitCode
from ..output import emit

SHORT = 12  # characters of an app-branch commit id


def run(ctx: Context, *, names: list[str], all_namespaces: bool) -> ExitCode:
    namespace = None if all_namespaces else ctx.namespace
    found = ctx.store().stations_running(namespace)
    if names:
        missing = sorted(set(names) - {spec.name for spec, _ in found})
        if missing:
            raise errors.NotFound(f"station {', '.join(missing)} not found in namespace {ctx.namespace}")
        found = [pair for pair in found if pair[0].name in names]
    data = {"items": [board.station_runs_json(spec, status) for spec, status in found]}
    emit(ctx, data, lambda d: _human(ctx, d, all_namespaces))
    return EXIT_OK


def _human(ctx: Context, data: dict[str, Any], all_namespaces: bool) -> str:
    if not data["items"]:
        return f"no stations found in namespace {ctx.namespace}" if not all_namespaces else "no stations found"
    return "\n\n".join(render_station(item, all_namespaces) for item in data["items"])


def render_station(item: dict[str, Any], with_namespace: bool = False) -> str:
    """One Station's block: the version line, where it came from, each Application."""
    title = f"{item['namespace']}/{item['name']}" if with_namespace else item["name"]
    runs = item["runs"]
    if runs is None:
        return f"{title}  nothing known yet (no ticket arrived, no app branch read)"
    lines = [f"{title}  {runs['version']}"]
    if runs["ticket"] and runs["source"] == "Ticket":
        lines.append(f"  ticket   {runs['ticket']}" + (f" (track {runs['track']})" if runs["track"] else "")
                     + (f", arrived {runs['arrivedAt']}" if runs["arrivedAt"] else ""))
    else:
        lines.append("  read from the app branches" + (f" (last written by ticket {runs['ticket']})"
                                                       if runs["ticket"] else ""))
    snapshot = runs["snapshot"]
    lines.append(f"  config   {snapshot['configCommit'] or '-'}")
    for pin in snapshot["images"]:
        lines.append(f"  image    {pin['name']}:{pin['tag']}" + (f"@{pin['digest']}" if pin["digest"] else ""))
    width = max((len(a["application"]) for a in runs["applications"]), default=0)
    for app in runs["applications"]:
        where = f"{app['branch'] or '?'}@{(app['commit'] or '?')[:SHORT]}"
        lines.append(f"  app      {app['application'].ljust(width)}  {where}  {app['sync']} {app['health']}")
    return "\n".join(lines)
