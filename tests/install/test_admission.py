"""The install's ValidatingAdmissionPolicy ``k8sta-web-nudges-only`` on the real API server: the web part's
ServiceAccount (a real token) may change a Subscription's ``k8sta.io/nudged-at`` annotation and nothing
else, though RBAC grants it ``patch`` on the whole object. Other identities are not affected."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from k8sta_daemon.adapters import kube
from k8sta_daemon.core import subscriptions as subs
from k8sta_devstack.stack import Stack

from . import rbac
from .cluster import account_kubeconfig, apply
from .kustomizations import Built

pytestmark = pytest.mark.stack

POLICY_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
REFUSAL = "the web part (k8sta-web) may change only the annotation k8sta.io/nudged-at of a Subscription"


@pytest.fixture(scope="module")
def policy(dynamic: DynamicClient, installed_rbac: None, base: Built) -> Iterator[None]:
    """The install's policy and binding, applied for real; removed afterwards (the stack is shared with
    tests of other versions of the web part)."""
    objects = [o for o in base.objects if o["kind"] in POLICY_KINDS]
    assert [o["kind"] for o in objects] == list(POLICY_KINDS)
    for obj in objects:
        apply(dynamic, obj, dry_run=False)
    yield
    for obj in reversed(objects):
        dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"]).delete(name=obj["metadata"]["name"])


@pytest.fixture(scope="module")
def web(stack: Stack, kube_api: k8s.ApiClient, installed_rbac: None,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[k8s.CustomObjectsApi]:
    path = account_kubeconfig(kube_api, stack.kubeconfig, rbac.NAMESPACE, rbac.WEB,
                              tmp_path_factory.mktemp("admission") / "web")
    api = kube.api_client(str(path))
    yield k8s.CustomObjectsApi(api)
    api.close()


@pytest.fixture
def subscription(kube_api: k8s.ApiClient, installed_rbac: None) -> Iterator[tuple[str, str]]:
    namespace = f"vap-{secrets.token_hex(3)}"
    core = k8s.CoreV1Api(kube_api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    k8s.CustomObjectsApi(kube_api).create_namespaced_custom_object(kube.GROUP, kube.VERSION, namespace,
                                                                   "subscriptions", {
        "apiVersion": kube.API_VERSION, "kind": "Subscription",
        "metadata": {"name": "images", "namespace": namespace, "annotations": {"team": "shop"}},
        "spec": {"tracks": ["line"], "image": {"repository": "registry.invalid/acme/api"}}})
    yield namespace, "images"
    core.delete_namespace(namespace)


def _patch(api: k8s.CustomObjectsApi, where: tuple[str, str], body: dict[str, Any], *, dry_run: bool = False) -> None:
    namespace, name = where
    api.patch_namespaced_custom_object(kube.GROUP, kube.VERSION, namespace, "subscriptions", name, body,
                                       **({"dry_run": "All"} if dry_run else {}))


def _read(api: k8s.CustomObjectsApi, where: tuple[str, str]) -> dict[str, Any]:
    namespace, name = where
    return dict(api.get_namespaced_custom_object(kube.GROUP, kube.VERSION, namespace, "subscriptions", name))


def _refused(api: k8s.CustomObjectsApi, where: tuple[str, str], body: dict[str, Any], *,
             dry_run: bool = False) -> str | None:
    """The API server's refusal of ``body`` as the web part (None: accepted)."""
    try:
        _patch(api, where, body, dry_run=dry_run)
    except k8s.ApiException as exc:
        assert exc.status == 403, exc.body
        return str(exc.body)
    return None


def _wait_for_the_policy(web: k8s.CustomObjectsApi, where: tuple[str, str]) -> None:
    """A new policy takes the API server a moment to load; probe with a dry run (changes nothing)."""
    deadline = time.monotonic() + 30
    while _refused(web, where, {"spec": {"tracks": ["probe"]}}, dry_run=True) is None:
        assert time.monotonic() < deadline, "the policy was not enforced within 30 s"
        time.sleep(0.5)


SPEC_REPOSITORY = {"spec": {"image": {"repository": "registry.invalid/mallory/api"}}}


@pytest.mark.parametrize("body", [
    pytest.param(SPEC_REPOSITORY, id="spec.image.repository"),
    pytest.param({"spec": {"tracks": ["line", "prod"]}}, id="spec.tracks"),
    pytest.param({"metadata": {"annotations": {"team": "mallory"}}}, id="another-annotation"),
    pytest.param({"metadata": {"annotations": {"team": None}}}, id="removing-an-annotation"),
    pytest.param({"metadata": {"labels": {"k8sta.io/x": "y"}}}, id="a-label"),
    pytest.param({"metadata": {"finalizers": ["k8sta.io/stuck"]}}, id="a-finalizer"),
    pytest.param({"metadata": {"annotations": {subs.NUDGE_ANNOTATION: "2026-12-07T21:00:00Z"}},
                  "spec": {"tracks": ["prod"]}}, id="a-nudge-with-a-spec-change"),
])
def test_the_web_part_may_not_change_anything_but_the_nudge(policy: None, web: k8s.CustomObjectsApi,
                                                            kube_api: k8s.ApiClient, subscription: tuple[str, str],
                                                            body: dict[str, Any]) -> None:
    _wait_for_the_policy(web, subscription)
    admin = k8s.CustomObjectsApi(kube_api)
    before = _read(admin, subscription)
    refusal = _refused(web, subscription, body)
    assert refusal is not None and REFUSAL in refusal, refusal
    after = _read(admin, subscription)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]  # nothing changed


def test_the_web_part_may_nudge_and_others_are_not_affected(policy: None, web: k8s.CustomObjectsApi,
                                                            kube_api: k8s.ApiClient,
                                                            subscription: tuple[str, str]) -> None:
    _wait_for_the_policy(web, subscription)
    namespace, name = subscription
    nudger = kube.Kube(web.api_client, component="k8sta-web")  # the web part's own call (ops.store)
    for at in ("2026-12-07T21:00:00Z", "2026-12-07T21:00:01Z"):
        nudger.patch_metadata("Subscription", namespace, name, {"annotations": {subs.NUDGE_ANNOTATION: at}})
    admin = k8s.CustomObjectsApi(kube_api)
    _patch(admin, subscription, SPEC_REPOSITORY)  # the Subscription's owners edit it as before
    obj = _read(admin, subscription)
    assert obj["metadata"]["annotations"] == {"team": "shop", subs.NUDGE_ANNOTATION: "2026-12-07T21:00:01Z"}
    assert obj["spec"]["image"]["repository"] == "registry.invalid/mallory/api"
