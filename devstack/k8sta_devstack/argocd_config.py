"""Argo CD's CRDs and configuration, taken from the pinned Argo CD module, plus our knobs and secrets.

Argo CD's own ``manifests/crds`` and ``manifests/base/config`` are applied (server-side) so the
stack runs the configuration Argo CD ships; ``manifests/argocd-overrides.yaml`` adds the devstack
knobs (reconciliation interval, the ``k8sta`` automation account, test health checks). The admin
password and the API token are generated per stack and only ever written to 0600 files.
"""

from __future__ import annotations

import base64
import datetime
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import requests
import yaml
from kubernetes import client as k8s_client

from k8sta_devstack import kube, processes

NAMESPACE = "argocd"
ACCOUNT = "k8sta"
OVERRIDES = Path(__file__).parent / "manifests" / "argocd-overrides.yaml"
# The CRDs are 2 MB of YAML (Argo CD 3.6): the C loader parses them ten times faster.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _kustomization_resources(directory: Path) -> Iterator[dict[str, Any]]:
    """The documents of the files a kustomization.yaml lists (Argo CD's own choice of files)."""
    kustomization = yaml.load((directory / "kustomization.yaml").read_text(), Loader=_Loader)
    for name in kustomization["resources"]:
        for doc in yaml.load_all((directory / name).read_text(), Loader=_Loader):
            if doc:
                yield doc


def crds(module_dir: Path) -> list[dict[str, Any]]:
    return list(_kustomization_resources(module_dir / "manifests" / "crds"))


def base_config(module_dir: Path, admin_password: str,
                kustomize: tuple[str, Path] | None = None) -> list[dict[str, Any]]:
    """argocd-cm & co. from the module, with our overrides merged in and the secret filled.

    ``kustomize`` (version, binary): Argo CD's native kustomize may use the pinned binary through
    ``kustomize.path.<version>`` (Applications select it with ``kustomize: {version: <version>}``);
    bench/bench_argocd.py compares our plugin with exactly that."""
    overrides = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(OVERRIDES.read_text()) if d}
    if kustomize is not None:
        cm = overrides.setdefault(("ConfigMap", "argocd-cm"), {"data": {}})
        cm["data"] = {**cm.get("data", {}), f"kustomize.path.{kustomize[0]}": str(kustomize[1])}
    docs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]
    for doc in _kustomization_resources(module_dir / "manifests" / "base" / "config"):
        doc["metadata"]["namespace"] = NAMESPACE
        extra = overrides.get((doc["kind"], doc["metadata"]["name"]))
        if extra:
            doc["data"] = {**(doc.get("data") or {}), **extra.get("data", {})}
        if doc["kind"] == "Secret" and doc["metadata"]["name"] == "argocd-secret":
            doc["data"] = {**(doc.get("data") or {}), **_secret_data(admin_password)}
        docs.append(doc)
    return docs


def _secret_data(admin_password: str) -> dict[str, str]:
    def b64(value: str | bytes) -> str:
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode()

    hashed = bcrypt.hashpw(admin_password.encode(), bcrypt.gensalt(rounds=10))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "admin.password": b64(hashed),
        "admin.passwordMtime": b64(now),
        "server.secretkey": b64(secrets.token_bytes(32)),
    }


def apply_all(api: k8s_client.ApiClient, module_dir: Path, admin_password: str,
              kustomize: tuple[str, Path] | None = None) -> None:
    """Apply CRDs, wait until they are served, then the namespace and the base configuration."""
    crd_docs = crds(module_dir)
    for doc in crd_docs:
        kube.server_side_apply(api, doc)
    for doc in crd_docs:
        name = doc["metadata"]["name"]
        processes.poll(lambda n=name: kube.crd_established(api, n), 60, f"CRD {name} to be established")
    for doc in base_config(module_dir, admin_password, kustomize):
        kube.server_side_apply(api, doc)


def write_private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def new_password() -> str:
    return secrets.token_urlsafe(18)


def create_account_token(server_url: str, admin_password: str, timeout: float = 60.0) -> str:
    """Log in as admin, then have the API mint a token for the ``k8sta`` account (real auth path).

    Retries until the server has loaded the account from argocd-cm (its settings informer may lag).
    """
    session = requests.Session()
    result: dict[str, str] = {}

    def attempt() -> bool:
        login = session.post(f"{server_url}/api/v1/session",
                             json={"username": "admin", "password": admin_password}, timeout=10)
        if login.status_code != 200:
            return False
        minted = session.post(f"{server_url}/api/v1/account/{ACCOUNT}/token",
                              headers={"Authorization": f"Bearer {login.json()['token']}"},
                              json={"name": ACCOUNT, "id": f"devstack-{secrets.token_hex(4)}"}, timeout=10)
        if minted.status_code != 200:
            return False
        result["token"] = minted.json()["token"]
        return True

    processes.poll(attempt, timeout, f"an API token for account {ACCOUNT} from {server_url}", interval=1.0)
    return result["token"]
