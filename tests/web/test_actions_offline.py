"""Board actions without a cluster: the client that acts as the caller keeps none of the web part's own
credentials, and the ticket page's controls degrade (no Track readable: no approve form) and link to a
diff page only when the board has one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import g
from kubernetes import client as k8s_client

from k8sta_daemon.web import asuser, create_app
from k8sta_daemon.web.actions import ticket_controls
from k8sta_daemon.web.sansio import authz

TICKET: dict[str, Any] = {"namespace": "shop", "name": "api-1", "track": "api", "state": "AwaitingApproval",
                          "station": "dev", "approvedStations": [], "abandon": False}


def test_the_action_client_carries_the_callers_token_and_nothing_of_the_web_part() -> None:
    own = k8s_client.Configuration()
    own.host = "https://api.example:6443"
    own.ssl_ca_cert = "/var/run/ca.crt"
    own.cert_file, own.key_file = "/var/run/web.crt", "/var/run/web.key"
    own.username, own.password = "web", "secret"
    own.api_key = {"authorization": "Bearer web-service-account-token"}
    own.refresh_api_key_hook = lambda config: None
    made = asuser.client_for(k8s_client.ApiClient(own), "the-users-token").configuration
    assert (made.host, made.ssl_ca_cert) == ("https://api.example:6443", "/var/run/ca.crt")
    assert (made.cert_file, made.key_file, made.refresh_api_key_hook) == (None, None, None)
    assert made.auth_settings() == {"BearerToken": {"type": "api_key", "in": "header", "key": "authorization",
                                                    "value": "Bearer the-users-token"}}


def test_the_ticket_controls_link_a_diff_page_only_when_the_board_has_one(unreachable_kubeconfig: Path) -> None:
    app = create_app({"TESTING": True, "KUBECONFIG": str(unreachable_kubeconfig), "BOARD_WATCH": False})
    headers = {"Authorization": "Bearer the-users-token"}
    with app.test_request_context("/board/tickets/shop/api-1", headers=headers):
        assert ticket_controls(TICKET) is None  # nobody authenticated: no forms
        g.k8sta_identity = authz.Identity("alice")
        controls = ticket_controls(TICKET)
        assert controls is not None
        assert controls["approvable"] == []  # the Track cannot be read: no approve form, the rest works
        assert controls["abandon"] and not controls["retry"]
        assert controls["diff_url"] is None
    app.add_url_rule("/board/diff/<namespace>/<name>", endpoint="board.diff", view_func=lambda namespace, name: "")
    with app.test_request_context("/board/tickets/shop/api-1", headers=headers):
        g.k8sta_identity = authz.Identity("alice")
        controls = ticket_controls(TICKET)
        assert controls is not None and controls["diff_url"] == "/board/diff/shop/api-1"
