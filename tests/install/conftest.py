"""Fixtures of the install tests: the kustomizations under kustomize/, each built once per session, and
(for the tests marked ``stack``) what the real API server needs before dry-runs and access checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from k8sta_cmp.kustomize import Kustomize
from k8sta_devstack import railway

from .cluster import apply
from .kustomizations import ROOT, Builder, Built

RBAC_KINDS = ("ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


@pytest.fixture(scope="session")
def builder(kustomize: Kustomize, tmp_path_factory: pytest.TempPathFactory) -> Builder:
    return Builder(kustomize.path, tmp_path_factory.mktemp("kustomize"))


@pytest.fixture(scope="session")
def base(builder: Builder) -> Built:
    return builder.build("base")


@pytest.fixture(scope="session")
def install(builder: Builder) -> Built:
    return builder.build("install")


@pytest.fixture(scope="session")
def dynamic(kube_api: k8s.ApiClient) -> Iterator[DynamicClient]:
    yield DynamicClient(kube_api)


@pytest.fixture(scope="session")
def prerequisites(kube_api: k8s.ApiClient, dynamic: DynamicClient, base: Built) -> None:
    """What namespaced dry-runs need to exist: our CRDs (established) and the k8sta namespace."""
    railway.apply_crds(kube_api, ROOT / "kustomize" / "crds")
    for namespace in base.of_kind("Namespace"):
        apply(dynamic, namespace, dry_run=False)


@pytest.fixture(scope="session")
def installed_rbac(dynamic: DynamicClient, prerequisites: None, base: Built) -> None:
    """The install's ServiceAccounts and RBAC, applied for real (idempotent; the stack is throw-away)."""
    for obj in base.objects:
        if obj["kind"] in RBAC_KINDS:
            apply(dynamic, obj, dry_run=False)
