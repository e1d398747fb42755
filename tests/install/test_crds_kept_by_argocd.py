"""The CRDs survive Argo CD: neither a prune (the CRD gone from git) nor deleting the Application that
installed them (with cascade) deletes them. On the local stack's real Argo CD.

The CRDs are kustomize/crds as rendered, annotations and all, with one change: their group
(``k8sta.io`` -> a throw-away one), so that a failure here would delete CRDs nobody else uses, never the
stack's own K8sTA CRDs while other tests run. A ConfigMap next to them proves that the prune and the
cascade really happened: it goes, the CRD stays.

The pinned Argo CD spares CRDs by itself: it applies them without a tracking annotation (so a prune
never selects one) and its cascade deletion skips every CRD (``shouldBeDeleted``); this test passes
without our ``Prune=false,Delete=false`` too (checked by hand). It guards the promise of
docs/uninstall.md across Argo CD upgrades; the annotations keep it where Argo CD does track a CRD
(label-based tracking, other releases).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from k8sta_daemon.adapters import argocd as argocd_client
from k8sta_daemon.core import model
from k8sta_devstack.gitrepo import ConfigRepo

from .kustomizations import Builder

pytestmark = pytest.mark.stack

ARGOCD_NS = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
TIMEOUT = 180.0

Obj = dict[str, Any]


def eventually(what: str, check: Callable[[], bool], refresh: Callable[[], None]) -> None:
    """Poll ``check`` (asking Argo CD to look at git again meanwhile) until it holds, or fail naming ``what``."""
    deadline = time.monotonic() + TIMEOUT
    asked = 0.0
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if time.monotonic() - asked > 5:
            refresh()
            asked = time.monotonic()
        time.sleep(0.5)


def renamed(crd: Obj, group: str) -> Obj:
    crd = yaml.safe_load(yaml.safe_dump(crd))
    crd["spec"]["group"] = group
    crd["metadata"]["name"] = f"{crd['spec']['names']['plural']}.{group}"
    return crd


@pytest.fixture
def group(kube_api: k8s.ApiClient) -> Iterator[str]:
    """A throw-away API group; its CRDs and the test's namespace are deleted afterwards."""
    name = f"prune-{secrets.token_hex(3)}.k8sta.test"
    yield name
    extensions = k8s.ApiextensionsV1Api(kube_api)
    for crd in extensions.list_custom_resource_definition().items:
        if crd.spec.group == name:
            extensions.delete_custom_resource_definition(crd.metadata.name)
    with contextlib.suppress(k8s.ApiException):
        k8s.CoreV1Api(kube_api).delete_namespace(f"{name.split('.')[0]}-ns")


def test_argo_cd_neither_prunes_nor_cascades_into_the_crds(builder: Builder, kube_api: k8s.ApiClient,
                                                          argocd: argocd_client.ArgoCD, group: str,
                                                          tmp_path: Path) -> None:
    crds = [renamed(c, group) for c in builder.build("crds").objects if c["spec"]["names"]["plural"] == "tickets"]
    [crd] = crds
    assert "Delete=false" in crd["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
    namespace = f"{group.split('.')[0]}-ns"
    marker = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "marker", "namespace": namespace},
              "data": {"a": "b"}}
    repo = ConfigRepo.create(tmp_path / "repo.git")
    repo.commit("main", {"crds.yaml": yaml.safe_dump(crd).encode(), "marker.yaml": yaml.safe_dump(marker).encode()},
                "the CRDs and a marker")
    name = group.split(".")[0]
    custom, core = k8s.CustomObjectsApi(kube_api), k8s.CoreV1Api(kube_api)
    extensions = k8s.ApiextensionsV1Api(kube_api)
    custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications", {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": ARGOCD_NS,
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},  # delete = cascade
        "spec": {"project": "default",
                 "source": {"repoURL": repo.url, "targetRevision": "main", "path": "."},
                 "destination": {"server": IN_CLUSTER, "namespace": namespace},
                 "syncPolicy": {"automated": {"prune": True},
                                "syncOptions": ["ServerSideApply=true", "CreateNamespace=true"]}}})
    app = model.AppRef(ARGOCD_NS, name)

    def refresh() -> None:
        with contextlib.suppress(argocd_client.ArgoCDError):  # not there yet, or being deleted
            argocd.refresh(app, hard=True)

    def exists(read: Callable[[], object]) -> bool:
        try:
            read()
        except k8s.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def crd_exists() -> bool:
        return exists(lambda: extensions.read_custom_resource_definition(crd["metadata"]["name"]))

    def marker_exists(marker_name: str) -> bool:
        return exists(lambda: core.read_namespaced_config_map(marker_name, namespace))

    eventually("Argo CD to install the CRD and the marker", lambda: crd_exists() and marker_exists("marker"), refresh)

    # 1. A prune: git no longer has the CRD (nor the first marker). The marker is pruned, the CRD stays.
    second = {**marker, "metadata": {**marker["metadata"], "name": "second"}}
    repo.commit("main", {"marker.yaml": yaml.safe_dump(second).encode()}, "the CRD is gone from git")
    eventually("Argo CD to prune the old marker", lambda: marker_exists("second") and not marker_exists("marker"),
               refresh)
    assert crd_exists(), "Argo CD pruned a CRD annotated Prune=false"

    # 2. The Application deleted with cascade (its resources finalizer): its resources go, the CRD stays.
    repo.commit("main", {"crds.yaml": yaml.safe_dump(crd).encode(), "marker.yaml": yaml.safe_dump(second).encode()},
                "the CRD is back in git")
    eventually("the Application to track the CRD again", lambda: any(
        r.get("kind") == "CustomResourceDefinition" and r.get("status") == "Synced"
        for r in argocd.get_application(app).get("status", {}).get("resources", [])), refresh)
    custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications", name)
    eventually("Argo CD to delete the Application and its marker", lambda: not exists(
        lambda: custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications", name))
        and not marker_exists("second"), lambda: None)
    assert crd_exists(), "deleting the Application deleted a CRD annotated Delete=false"
