"""Real callers of the web part on the local stack: ServiceAccounts with real tokens (TokenRequest) and
RBAC of our own, so the app's TokenReviews and SubjectAccessReviews are answered by kube-apiserver."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

OPERATOR_ROLE = Path(__file__).resolve().parents[2] / "kustomize" / "base" / "rbac-operator.yaml"
READER_RULES = [{"apiGroups": ["k8sta.io"], "resources": ["tracks", "stations", "tickets"], "verbs": ["get", "list"]}]


AUDIENCE = "k8sta"  # the web part's default K8STA_AUTH_AUDIENCES, as `kubectl create token --audience k8sta`


def acting(api: k8s.ApiClient) -> tuple[str, ...]:
    """The audiences of a token that may also act from the board: board actions are sent to the API server
    with the user's own token, so it carries the API server's audience too (its service-account issuer,
    as `kubectl get --raw /.well-known/openid-configuration` shows)."""
    raw = k8s.WellKnownApi(api).get_service_account_issuer_open_id_configuration(_preload_content=False)
    return (AUDIENCE, str(json.loads(raw.data)["issuer"]))


def account_token(api: k8s.ApiClient, namespace: str, name: str, seconds: int = 3600,
                  audiences: tuple[str, ...] = (AUDIENCE,)) -> str:
    """A ServiceAccount ``namespace/name`` (created if missing) and a fresh token for it, for ``audiences``
    (``()``: the API server's own audience, a token the web part refuses)."""
    core = k8s.CoreV1Api(api)
    with _exists_ok():
        core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=list(audiences),
                                                                           expiration_seconds=seconds))
    return str(core.create_namespaced_service_account_token(name, namespace, request).status.token)


@contextlib.contextmanager
def _exists_ok() -> Iterator[None]:
    try:
        yield
    except k8s.ApiException as exc:
        if exc.status != 409:
            raise


def grant(api: k8s.ApiClient, where: str, account_namespace: str, account: str,
          rules: list[dict[str, list[str]]] = READER_RULES) -> None:
    """A Role in ``where`` with ``rules``, bound to ServiceAccount ``account_namespace/account``."""
    role = f"{account}-{account_namespace}-reader"
    rbac = k8s.RbacAuthorizationV1Api(api)
    with _exists_ok():
        rbac.create_namespaced_role(where, {"metadata": {"name": role}, "rules": rules})
    with _exists_ok():
        rbac.create_namespaced_role_binding(where, {
            "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": account_namespace}]})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def operator_rules() -> list[dict[str, Any]]:
    """The rules of the install's ``k8sta-operator`` ClusterRole, as the install ships them."""
    role = yaml.safe_load(OPERATOR_ROLE.read_text())
    assert role["kind"] == "ClusterRole" and role["metadata"]["name"] == "k8sta-operator"
    return list(role["rules"])
