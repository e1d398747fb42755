"""Talking to the local stack's API server for the install tests: server-side apply (real or dry-run) as
the admin, and a kubeconfig for one of the install's ServiceAccounts (a real token from TokenRequest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

FIELD_MANAGER = "k8sta-install-test"


def apply(dynamic: DynamicClient, obj: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """Server-side apply as the admin, with strict field validation; ``dryRun=All`` when ``dry_run``."""
    resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    result = dynamic.server_side_apply(
        resource, body=obj, namespace=obj["metadata"].get("namespace"), field_manager=FIELD_MANAGER,
        force_conflicts=True, dry_run="All" if dry_run else None, query_params=[("fieldValidation", "Strict")])
    return dict(result.to_dict())


def account_kubeconfig(admin_api: k8s.ApiClient, admin_kubeconfig: Path, namespace: str, account: str,
                       path: Path) -> Path:
    """A kubeconfig that authenticates as ServiceAccount ``namespace/account``, as its pod would."""
    request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    token = k8s.CoreV1Api(admin_api).create_namespaced_service_account_token(account, namespace, request)
    config = yaml.safe_load(admin_kubeconfig.read_text())
    config["users"] = [{"name": account, "user": {"token": token.status.token}}]
    for context in config["contexts"]:
        context["context"]["user"] = account
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path
