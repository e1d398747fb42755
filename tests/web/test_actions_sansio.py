"""The board actions' pure parts: the CSRF token's binding (user, credential, time), form parsing with
errors that name the field, and the RBAC each action is checked for."""

from __future__ import annotations

import pytest

from k8sta_daemon.web.sansio import actions, authz

NOW = 1_800_000_000.0
TOKEN = "a-bearer-token"


def test_a_token_verifies_for_its_user_and_credential_only() -> None:
    minted = actions.csrf_token(TOKEN, "alice", NOW)
    assert actions.csrf_problem(minted, TOKEN, "alice", NOW + 60) is None
    assert "does not belong" in (actions.csrf_problem(minted, TOKEN, "mallory", NOW) or "")
    assert "does not belong" in (actions.csrf_problem(minted, "another-token", "alice", NOW) or "")
    assert TOKEN not in minted


@pytest.mark.parametrize(("token", "problem"), [
    (None, "carries no CSRF token"),
    ("", "carries no CSRF token"),
    ("nodot", "malformed"),
    ("x.abc", "malformed"),
    ("123.", "malformed"),
], ids=["missing", "empty", "no-dot", "bad-time", "no-mac"])
def test_malformed_tokens_say_why(token: str | None, problem: str) -> None:
    assert problem in (actions.csrf_problem(token, TOKEN, "alice", NOW) or "")


def test_a_token_expires_and_one_from_the_future_is_refused() -> None:
    minted = actions.csrf_token(TOKEN, "alice", NOW)
    assert actions.csrf_problem(minted, TOKEN, "alice", NOW + actions.CSRF_SECONDS) is None
    assert "expired" in (actions.csrf_problem(minted, TOKEN, "alice", NOW + actions.CSRF_SECONDS + 1) or "")
    assert "expired" in (actions.csrf_problem(minted, TOKEN, "alice", NOW - 3600) or "")


@pytest.mark.parametrize(("action", "namespace", "form", "message"), [
    ("launch", "shop", {}, "unknown board action 'launch'"),
    ("approve", "shop", {"station": "prod"}, "the form has no ticket"),
    ("approve", "shop", {"ticket": "api-1"}, "the form has no station"),
    ("approve", "shop", {"ticket": "API 1", "station": "prod"}, "ticket 'API 1' is not a Kubernetes object name"),
    ("hold", "shop", {}, "the form has no track"),
    ("freeze", "Shop!", {}, "namespace 'Shop!' is not a Kubernetes object name"),
    ("hold", "shop", {"track": "api", "reason": "x" * 1025}, "reason is 1025 characters long"),
], ids=["unknown", "no-ticket", "no-station", "bad-name", "no-track", "bad-namespace", "long-reason"])
def test_bad_forms_name_the_field(action: str, namespace: str, form: dict[str, str], message: str) -> None:
    with pytest.raises(actions.BadRequest, match=message):
        actions.parse(action, namespace, form)


def test_a_parsed_request_keeps_only_its_fields() -> None:
    got = actions.parse("approve", "shop", {"ticket": "api-1", "station": "prod", "reason": "ignored"})
    assert (got.name, got.station, got.reason) == ("api-1", "prod", "")
    assert actions.parse("freeze", "shop", {"reason": "  incident  ", "track": "x"}).name is None
    assert actions.parse("freeze", "shop", {"reason": "  incident  "}).reason == "incident"


def test_every_action_is_checked_for_its_write_and_its_event() -> None:
    for action in actions.ACTIONS.values():
        assert action.needs[0].verb == "patch"
        assert actions.EVENTS_CREATE in action.needs
    assert actions.ACTIONS["approve"].needs[0] == actions.Permission("patch", "k8sta.io", "tickets")
    assert actions.ACTIONS["freeze"].needs[0] == actions.Permission("patch", "k8sta.io", "tracks")


def test_the_review_asks_about_the_exact_identity_and_permission() -> None:
    who = authz.Identity("alice", uid="u-1", groups=("ops",), extra=(("scopes", ("a",)),))
    body = actions.access_review(who, "shop", actions.TICKETS_PATCH)
    assert body["spec"] == {"user": "alice", "uid": "u-1", "groups": ["ops"], "extra": {"scopes": ["a"]},
                            "resourceAttributes": {"group": "k8sta.io", "resource": "tickets", "verb": "patch",
                                                   "namespace": "shop"}}


@pytest.mark.parametrize(("at", "expected"), [(None, "dev"), ("dev", "staging"), ("prod", None), ("gone", None)])
def test_the_next_station_is_the_gate_offered_first(at: str | None, expected: str | None) -> None:
    assert actions.next_station(("dev", "staging", "prod"), at) == expected
