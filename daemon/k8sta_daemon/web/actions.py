"""The board's operator actions (``/board/actions``): approve, retry, abandon a ticket; hold and resume a
Track; freeze and unfreeze a namespace. The same ``ops`` functions as ``k8sta approve`` & co.

Each ``POST /board/actions/<namespace>/<action>`` goes through, in order:
1. the caller's bearer token, checked with a TokenReview (``auth.authenticate``; 401 without one);
2. the CSRF token of the page the form came from (``sansio.actions``; 403 when missing or not this
   user's), so another site cannot make a signed-in browser post;
3. the form (400 naming the field);
4. a SubjectAccessReview per permission the operation needs, for the caller's exact identity (user,
   groups, uid, extra), sent with the web part's ServiceAccount: 403 naming the first one missing, before
   anything is read or written;
5. the operation itself, sent to the API server with the caller's own token (``asuser``), so the web
   part holds no write verb and no ``impersonate``, and the API server authorizes and audits the write
   as the user (its answer 401/403 is a 403 here too);
6. an Event naming the user (the operation records it: "approved by <user> via the k8sta board").

Callers: the ticket page includes ``board/ticket_actions.html`` (``ticket_controls``); the board's index
links to ``controls`` per namespace.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, g, render_template, request, url_for
from kubernetes import client as k8s_client
from werkzeug.routing import BuildError

from k8sta_daemon.core import model
from k8sta_daemon.ops import errors, operations
from k8sta_daemon.ops import freeze as freezing
from k8sta_daemon.ops.store import Store

from . import asuser, auth, kubeclient
from .errors import status_of
from .sansio import actions, authz

bp = Blueprint("board_actions", __name__, url_prefix="/board/actions")
VIA = "the k8sta board"
COMPONENT = "k8sta-board"  # the source of the Events the actions record
# The page that shows what a ticket would change, when the app has one (``k8sta diff`` on the board; its
# view takes ``namespace`` and ``name``): the ticket page links to it next to the actions.
DIFF_ENDPOINTS = ("board.diff", "board.ticket_diff")
TERMINAL = frozenset(s.value for s in model.TicketState if s.terminal)


class ActionForbidden(Exception):
    """A CSRF or RBAC refusal (403); the message says which."""


@bp.before_request
def _authenticate() -> None:
    auth.authenticate()  # always the caller's real token: actions are sent with it


@bp.errorhandler(ActionForbidden)
@bp.errorhandler(auth.Forbidden)
def _forbidden(exc: Exception) -> tuple[str, int]:
    return render_template("board/error.html", message=str(exc)), 403


@bp.errorhandler(actions.BadRequest)
def _bad_request(exc: actions.BadRequest) -> tuple[str, int]:
    return render_template("board/error.html", message=f"bad request: {exc}"), 400


@bp.errorhandler(errors.K8staError)
def _operator_error(exc: errors.K8staError) -> tuple[str, int]:
    return render_template("board/error.html", message=str(exc)), status_of(exc)


def _bearer() -> str | None:
    return authz.bearer_token(request.headers.get("Authorization"))


def _max_age() -> float:
    return float(current_app.config.get("BOARD_CSRF_SECONDS") or actions.CSRF_SECONDS)


def csrf_token() -> str | None:
    """The CSRF token for this request's forms (None: no authenticated caller, e.g. an in-memory board)."""
    bearer, who = _bearer(), g.get("k8sta_identity")
    if bearer is None or who is None:
        return None
    return actions.csrf_token(bearer, who.username, time.time())


def ticket_controls(ticket: dict[str, Any]) -> dict[str, Any] | None:
    """What the ticket page's action forms need; None when the page has no authenticated caller."""
    token = csrf_token()
    if token is None:
        return None
    state = ticket["state"]
    terminal = state in TERMINAL
    try:
        stations = kubeclient.store().track(ticket["namespace"], ticket["track"]).stations
    except errors.K8staError:  # a Track gone or unreadable: no approve form, the rest still works
        stations = ()
    approvable = [s for s in stations if s not in ticket["approvedStations"]]
    diff_url = None
    for endpoint in (e for e in DIFF_ENDPOINTS if e in current_app.view_functions):
        try:
            diff_url = url_for(endpoint, namespace=ticket["namespace"], name=ticket["name"])
            break
        except BuildError:  # a diff view that takes other arguments: no link rather than a broken page
            continue
    return {
        "csrf": token, "field": actions.CSRF_FIELD,
        "url": lambda action: url_for("board_actions.perform", namespace=ticket["namespace"], action=action),
        "approvable": approvable if not terminal else [],
        "next": actions.next_station(stations, ticket["station"]),
        "retry": state == "Failed",
        "abandon": not terminal and not ticket["abandon"],
        "track_url": url_for("board_actions.controls", namespace=ticket["namespace"]),
        "diff_url": diff_url,
    }


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"ticket_controls": ticket_controls}


@bp.get("/<namespace>")
def controls(namespace: str) -> str:
    """Hold/resume per Track and freeze/unfreeze of the namespace, for a namespace the caller may list."""
    auth.require(namespace)
    tracks = kubeclient.store().tracks(namespace)
    frozen = next((t.freeze for t in tracks if t.freeze), None)
    return render_template("board/actions.html", namespace=namespace, tracks=tracks, frozen=frozen,
                           csrf=csrf_token(), field=actions.CSRF_FIELD)


@bp.post("/<namespace>/<action>")
def perform(namespace: str, action: str) -> str:
    who: authz.Identity = auth.current()
    bearer = _bearer()
    if bearer is None:  # authenticate() let it through, so it had one: never act without the caller's token
        raise auth.Unauthorized
    problem = actions.csrf_problem(request.form.get(actions.CSRF_FIELD) or request.headers.get(actions.CSRF_HEADER),
                                   bearer, who.username, time.time(), _max_age())
    if problem is not None:
        raise ActionForbidden(f"forbidden: {problem}")
    wanted = actions.parse(action, namespace, request.form)
    for permission in wanted.action.needs:
        if not _allowed(who, namespace, permission):
            raise ActionForbidden(f"forbidden: user {who.username} may not {permission.describe()} in namespace "
                                  f"{namespace}, which the board action {action} needs (the k8sta-operator "
                                  "ClusterRole grants it)")
    api = asuser.client_for(kubeclient.clients().api(), bearer)
    try:
        message, back = PERFORM[wanted.action.name](Store(api, component=COMPONENT), wanted, who.username)
    except errors.Denied as exc:
        raise ActionForbidden(f"forbidden: {exc} (board actions are sent with the caller's own token, so it "
                              "must be valid for the Kubernetes API)") from None
    finally:
        api.close()
    current_app.logger.info("board action %s in %s by %s", action, namespace, who.username)
    return render_template("board/action_done.html", message=message, back=back, namespace=namespace)


def _allowed(who: authz.Identity, namespace: str, permission: actions.Permission) -> bool:
    """A fresh SubjectAccessReview (not cached: a revoked RoleBinding stops the very next action)."""
    body = actions.access_review(who, namespace, permission)
    try:
        review = k8s_client.AuthorizationV1Api(kubeclient.clients().api()).create_subject_access_review(body)
    except errors.K8staError:
        raise
    except Exception as exc:  # unreachable API, or the web ServiceAccount lacks the review RBAC
        current_app.logger.warning("cannot send a SubjectAccessReview: %s", type(exc).__name__)
        raise errors.Unavailable("cannot check permissions: the Kubernetes API did not answer a "
                                 "SubjectAccessReview") from None
    status = getattr(review, "status", None)
    return authz.allowed(status.to_dict() if status is not None else None)


# -- the operations: (store acting as the user, request, user) -> (what happened, where to go back) -------

Done = tuple[str, str]


def _ticket_page(request_: actions.Request) -> str:
    return url_for("board.ticket", namespace=request_.namespace, name=request_.name)


def _approve(store: Store, req: actions.Request, user: str) -> Done:
    assert req.name is not None and req.station is not None
    result = operations.approve(store, req.namespace, req.name, req.station, actor=user, via=VIA)
    done = "approved" if result.changed else "was already approved"
    return f"ticket {req.name}: station {req.station} {done} by {user}", _ticket_page(req)


def _retry(store: Store, req: actions.Request, user: str) -> Done:
    assert req.name is not None
    result = operations.retry_ticket(store, req.namespace, req.name, actor=user, via=VIA)
    done = "retry requested" if result.changed else "a retry was already requested"
    return f"ticket {req.name}: {done} by {user}", _ticket_page(req)


def _abandon(store: Store, req: actions.Request, user: str) -> Done:
    assert req.name is not None
    result = operations.abandon(store, req.namespace, req.name, actor=user, via=VIA)
    done = "abandon requested" if result.changed else "abandon was already requested"
    return f"ticket {req.name}: {done} by {user}", _ticket_page(req)


def _controls_page(req: actions.Request) -> str:
    return url_for("board_actions.controls", namespace=req.namespace)


def _hold(store: Store, req: actions.Request, user: str) -> Done:
    assert req.name is not None
    spec = operations.hold(store, req.namespace, req.name, req.reason or f"by {user}", actor=user)
    store.record_track(req.namespace, req.name, "Held", f"track held by {user} via {VIA}: {spec.hold}")
    return f"track {req.name} held by {user} ({spec.hold}): no ticket boards it until resumed", _controls_page(req)


def _resume(store: Store, req: actions.Request, user: str) -> Done:
    assert req.name is not None
    operations.resume(store, req.namespace, req.name)
    store.record_track(req.namespace, req.name, "Resumed", f"track resumed by {user} via {VIA}")
    return f"track {req.name} resumed by {user}: the newest waiting ticket boards", _controls_page(req)


def _freeze(store: Store, req: actions.Request, user: str) -> Done:
    result = freezing.freeze(store, req.namespace, req.reason, actor=user)
    return (f"namespace {req.namespace} frozen by {user} ({result.reason}): no ticket enters a station on "
            f"{', '.join(result.tracks)} until unfrozen", _controls_page(req))


def _unfreeze(store: Store, req: actions.Request, user: str) -> Done:
    result = freezing.unfreeze(store, req.namespace, actor=user)
    return f"namespace {req.namespace} unfrozen by {user}: {', '.join(result.tracks)} move again", _controls_page(req)


PERFORM: dict[str, Callable[[Store, actions.Request, str], Done]] = {
    "approve": _approve, "retry": _retry, "abandon": _abandon, "hold": _hold, "resume": _resume,
    "freeze": _freeze, "unfreeze": _unfreeze,
}
