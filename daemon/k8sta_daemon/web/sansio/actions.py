"""The board's operator actions as pure data and functions: what each action is, the exact RBAC it
needs, how its form is read, and the CSRF token that must come back with it.

Callers: ``web.actions`` (the blueprint that checks, performs and records them). Nothing here does I/O
or reads a clock: the time is passed in.

Why a CSRF token although the board takes a bearer token: behind an authenticating proxy (oauth2-proxy)
the browser holds a proxy cookie and the proxy adds ``Authorization`` to every request, also to a form
another site makes the browser post. The token is an HMAC, keyed with a hash of the caller's own bearer
token, over the user name and the time it was issued: stateless (any replica and worker can check it,
no secret to distribute), bound to that user and that credential, and useless to a site that never sees
the bearer token.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from k8sta_cmp import patterns

from . import authz

CSRF_FIELD = "csrf_token"  # the form field
CSRF_HEADER = "X-K8sTA-CSRF"  # or this header (scripts)
CSRF_SECONDS = 2 * 3600.0  # an open page's forms work this long; then the page must be loaded again
REASON_LIMIT = 1024


class Target(enum.Enum):
    """What an action names: a ticket, a Track, or the whole namespace."""

    TICKET = "ticket"
    TRACK = "track"
    NAMESPACE = "namespace"


@dataclass(frozen=True)
class Permission:
    """One ``verb`` on ``group``/``resource`` in the action's namespace (a SubjectAccessReview's attributes)."""

    verb: str
    group: str
    resource: str

    def describe(self) -> str:
        return f"{self.verb} {self.resource}.{self.group}" if self.group else f"{self.verb} {self.resource}"


TICKETS_GET = Permission("get", "k8sta.io", "tickets")
TICKETS_PATCH = Permission("patch", "k8sta.io", "tickets")
TRACKS_GET = Permission("get", "k8sta.io", "tracks")
TRACKS_LIST = Permission("list", "k8sta.io", "tracks")
TRACKS_PATCH = Permission("patch", "k8sta.io", "tracks")
EVENTS_CREATE = Permission("create", "", "events")


@dataclass(frozen=True)
class Action:
    """One board action: what it names and every permission the operation needs, the write's first.

    All of them are checked before anything is written, so a user allowed to patch a ticket but not to
    record an Event is refused up front rather than left with an unrecorded change.
    """

    name: str
    target: Target
    needs: tuple[Permission, ...]
    station: bool = False  # the form must name a Station (approve)
    reason: bool = False  # the form may carry a reason (hold, freeze)


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("approve", Target.TICKET, (TICKETS_PATCH, TICKETS_GET, TRACKS_GET, EVENTS_CREATE), station=True),
    Action("retry", Target.TICKET, (TICKETS_PATCH, TICKETS_GET, EVENTS_CREATE)),
    Action("abandon", Target.TICKET, (TICKETS_PATCH, TICKETS_GET, EVENTS_CREATE)),
    Action("hold", Target.TRACK, (TRACKS_PATCH, TRACKS_GET, EVENTS_CREATE), reason=True),
    Action("resume", Target.TRACK, (TRACKS_PATCH, TRACKS_GET, EVENTS_CREATE)),
    Action("freeze", Target.NAMESPACE, (TRACKS_PATCH, TRACKS_LIST, EVENTS_CREATE), reason=True),
    Action("unfreeze", Target.NAMESPACE, (TRACKS_PATCH, TRACKS_LIST, EVENTS_CREATE)),
)}


def access_review(who: authz.Identity, namespace: str, permission: Permission) -> dict[str, Any]:
    """May ``who`` (exactly as the TokenReview saw them) do ``permission`` in ``namespace``?"""
    body = authz.access_review(who, namespace)
    body["spec"]["resourceAttributes"] = {"group": permission.group, "resource": permission.resource,
                                          "verb": permission.verb, "namespace": namespace}
    return body


class BadRequest(Exception):
    """The form itself is wrong (400); the message names the field."""


@dataclass(frozen=True)
class Request:
    """A parsed action request: ``name`` is the ticket or Track (None for a namespace action)."""

    action: Action
    namespace: str
    name: str | None
    station: str | None = None
    reason: str = ""


def parse(action: str, namespace: str, form: Mapping[str, str]) -> Request:
    """The request of ``action`` in ``namespace`` from its form fields; BadRequest names what is wrong."""
    known = ACTIONS.get(action)
    if known is None:
        raise BadRequest(f"unknown board action {action!r} (known: {', '.join(ACTIONS)})")
    _name("namespace", namespace)
    name = None
    if known.target is not Target.NAMESPACE:
        field = known.target.value
        name = _name(field, (form.get(field) or "").strip())
    station = _name("station", (form.get("station") or "").strip()) if known.station else None
    reason = (form.get("reason") or "").strip() if known.reason else ""
    if len(reason) > REASON_LIMIT:
        raise BadRequest(f"reason is {len(reason)} characters long; at most {REASON_LIMIT} are kept")
    return Request(known, namespace, name, station, reason)


def _name(field: str, value: str) -> str:
    if not value:
        raise BadRequest(f"the form has no {field}")
    pattern = patterns.DNS_LABEL if field == "namespace" else patterns.OBJECT_NAME
    if len(value) > 253 or not pattern.match(value):
        raise BadRequest(f"{field} {value[:64]!r} is not a Kubernetes object name")
    return value


def next_station(stations: Sequence[str], at: str | None) -> str | None:
    """The Station a ticket standing at ``at`` (None: not boarded) enters next, None past the last one:
    the gate the approve form offers first."""
    if at is None:
        return stations[0] if stations else None
    if at not in stations:
        return None
    index = stations.index(at) + 1
    return stations[index] if index < len(stations) else None


# -- CSRF -------------------------------------------------------------------------------------------

def _key(bearer: str) -> bytes:
    return hashlib.sha256(b"k8sta-board-csrf\0" + bearer.encode()).digest()


def _mac(bearer: str, username: str, issued: int) -> str:
    return hmac.new(_key(bearer), f"{username}\0{issued}".encode(), hashlib.sha256).hexdigest()


def csrf_token(bearer: str, username: str, now: float) -> str:
    """A token for the forms of a page served to ``username`` (authenticated by ``bearer``) at ``now``."""
    issued = int(now)
    return f"{issued}.{_mac(bearer, username, issued)}"


def csrf_problem(token: str | None, bearer: str, username: str, now: float,
                 max_age: float = CSRF_SECONDS) -> str | None:
    """Why ``token`` does not authorize a request of ``username`` at ``now`` (None: it does)."""
    if not token:
        return "the request carries no CSRF token: submit the action from the board's own page"
    issued_text, _, mac = token.partition(".")
    if not issued_text.isdigit() or not mac:
        return "the CSRF token is malformed: load the board page again"
    issued = int(issued_text)
    if not hmac.compare_digest(mac.encode(), _mac(bearer, username, issued).encode()):
        return "the CSRF token does not belong to this user or credential: load the board page again"
    if now - issued > max_age or issued - now > 60:
        return "the CSRF token has expired: load the board page again"
    return None
