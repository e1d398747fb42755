"""The stack is a cluster that runs workloads: controller-manager, scheduler, KWOK's fake node and the
Argo Rollouts controller turn Deployments and Rollouts into Ready pods (no Argo CD involved here)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from k8sta_devstack import controllers, railway
from k8sta_devstack.stack import Stack

pytestmark = pytest.mark.stack


def eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout:.0f} s")
        time.sleep(0.3)


@pytest.fixture
def namespace(kube_api: k8s.ApiClient) -> Iterator[str]:
    name = f"cluster-{secrets.token_hex(3)}"
    core = k8s.CoreV1Api(kube_api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def ready_pods(kube_api: k8s.ApiClient, namespace: str, image: str) -> list[k8s.V1Pod]:
    pods = k8s.CoreV1Api(kube_api).list_namespaced_pod(namespace).items
    return [p for p in pods if p.spec.containers[0].image == image and p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]


def test_the_stack_runs_the_workload_controllers_and_a_ready_fake_node(stack: Stack,
                                                                         kube_api: k8s.ApiClient) -> None:
    names = {p.name for p in stack.processes}
    assert {"kube-controller-manager", "kube-scheduler", "kwok", "rollouts-controller"} <= names
    node = k8s.CoreV1Api(kube_api).read_node(controllers.NODE_NAME)
    assert node.metadata.annotations[controllers.KWOK_ANNOTATION] == "fake"
    assert controllers.node_ready(kube_api)
    crds = {c.metadata.name for c in k8s.ApiextensionsV1Api(kube_api).list_custom_resource_definition().items}
    assert {"rollouts.argoproj.io", "analysistemplates.argoproj.io", "analysisruns.argoproj.io"} <= crds


def test_a_deployment_gets_ready_pods_on_the_fake_node_and_rolls_to_a_new_image(
        kube_api: k8s.ApiClient, namespace: str) -> None:
    apps = k8s.AppsV1Api(kube_api)
    body = railway.deployment(image=railway.IMAGE)
    del body["spec"]["template"]["spec"]["containers"][0]["envFrom"]  # no shared ConfigMap here
    apps.create_namespaced_deployment(namespace, body)
    old = f"{railway.IMAGE}:latest"
    pods = eventually(lambda: len(ready_pods(kube_api, namespace, old)) == railway.REPLICAS
                      and ready_pods(kube_api, namespace, old), "two Ready pods")
    assert {p.spec.node_name for p in pods} == {controllers.NODE_NAME}
    assert all(p.status.pod_ip.startswith("10.1.") for p in pods)  # KWOK's pod CIDR

    new = f"{railway.IMAGE}:2.0.0"
    apps.patch_namespaced_deployment("api", namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "api", "image": new}]}}}})
    eventually(lambda: len(ready_pods(kube_api, namespace, new)) == railway.REPLICAS, "the new pods Ready")
    eventually(lambda: not ready_pods(kube_api, namespace, old), "the old pods gone")

    def rolled_out() -> bool:
        status = apps.read_namespaced_deployment("api", namespace).status
        return status.replicas == status.updated_replicas == status.available_replicas == railway.REPLICAS

    eventually(rolled_out, "the Deployment's status to report the rollout done")


def test_a_rollout_is_reconciled_by_the_rollouts_controller(kube_api: k8s.ApiClient, namespace: str) -> None:
    custom = k8s.CustomObjectsApi(kube_api)
    body = railway.rollout(steps=[{"setWeight": 50}, {"pause": {}}])
    del body["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", namespace, "rollouts", body)

    def phase() -> str | None:
        obj = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", namespace, "rollouts", "api")
        return (obj.get("status") or {}).get("phase")

    eventually(lambda: phase() == "Healthy", "the first revision Healthy")
    assert len(ready_pods(kube_api, namespace, f"{railway.IMAGE}:latest")) == railway.REPLICAS
    custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", namespace, "rollouts", "api", {"spec": {
        "template": {"spec": {"containers": [{"name": "api", "image": f"{railway.IMAGE}:2.0.0"}]}}}})
    eventually(lambda: phase() == "Paused", "the canary paused at its pause step")
    eventually(lambda: len(ready_pods(kube_api, namespace, f"{railway.IMAGE}:2.0.0")) == 1, "one canary pod")


def test_a_deleted_namespace_is_finalized(kube_api: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(kube_api)
    name = f"gone-{secrets.token_hex(3)}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(name, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="x")))
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except k8s.ApiException as exc:
            return exc.status == 404
        return False

    eventually(gone, "the namespace finalized by the controller-manager")
