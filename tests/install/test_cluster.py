"""The renders, checked by the real API server of the local stack.

Every object of every kustomization is server-side applied with ``dryRun=All`` and strict field
validation, as ``kubectl apply --server-side --dry-run=server -k`` would: schemas, defaults and
admission run, nothing is stored. Only what the dry-runs depend on is created for real: our CRDs and the
``k8sta`` namespace (Argo CD's namespace and CRDs come with the stack). Then the install's RBAC is
applied for real and the API server's own authorizer answers the access table (SubjectAccessReview).
Objects are left in place: applying them again is idempotent, and the stack is throw-away.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError

from . import rbac
from .cluster import FIELD_MANAGER, apply
from .kustomizations import Builder, discover

pytestmark = pytest.mark.stack

Obj = dict[str, Any]


def _order(obj: Obj) -> int:
    # Namespaces and CRDs before what lives in them or is typed by them, as kubectl orders them.
    return {"Namespace": 0, "CustomResourceDefinition": 1}.get(obj["kind"], 2)


@pytest.mark.parametrize("name", discover())
def test_every_object_passes_a_server_side_dry_run(builder: Builder, dynamic: DynamicClient, prerequisites: None,
                                                   name: str) -> None:
    result = builder.build(name)
    refused: list[str] = []
    for obj in sorted(result.objects, key=_order):
        what = f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
        try:
            answer = apply(dynamic, obj, dry_run=True)
        except DynamicApiError as exc:
            refused.append(f"{what}: HTTP {exc.status}: {_reason(exc)}")
            continue
        # The server answered with the object as it would store it.
        assert answer["kind"] == obj["kind"] and answer["metadata"]["name"] == obj["metadata"]["name"], what
        assert any(m.get("manager") == FIELD_MANAGER for m in answer["metadata"].get("managedFields", [])), what
    assert not refused, "\n".join(refused)


def test_dry_run_is_not_stored(builder: Builder, dynamic: DynamicClient, prerequisites: None) -> None:
    web = builder.build("base").one("Deployment", "k8sta-web")
    apply(dynamic, web, dry_run=True)
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    with pytest.raises(DynamicApiError) as raised:
        dynamic.get(deployments, name="k8sta-web", namespace=rbac.NAMESPACE)
    assert raised.value.status == 404


@pytest.mark.parametrize(("path", "value", "status", "complaint"), [
    # kube-apiserver answers an unknown field in an apply patch with 500 (not a metav1.Status), but refuses it.
    pytest.param(["spec", "replica"], 2, 500, ".spec.replica: field not declared in schema", id="unknown-field"),
    pytest.param(["spec", "replicas"], "two", 500, ".spec.replicas: expected numeric", id="wrong-type"),
    pytest.param(["spec", "template", "spec", "containers", 0, "image"], None, 422,
                 "spec.template.spec.containers[0].image: Required value", id="missing-image"),
])
def test_the_dry_run_really_validates(builder: Builder, dynamic: DynamicClient, prerequisites: None,
                                      path: list[str | int], value: object, status: int, complaint: str) -> None:
    """A broken copy of the web Deployment is refused, so a passing dry-run means something."""
    broken = json.loads(json.dumps(builder.build("base").one("Deployment", "k8sta-web")))
    target: Any = broken
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    with pytest.raises(DynamicApiError) as raised:
        apply(dynamic, broken, dry_run=True)
    assert raised.value.status == status
    assert complaint in _reason(raised.value)


def _reason(exc: DynamicApiError) -> str:
    try:
        return str(json.loads(exc.body)["message"])
    except (TypeError, ValueError, KeyError):
        return str(exc.summary())


@pytest.mark.parametrize("access", rbac.TABLE, ids=lambda a: a.id)
def test_the_api_server_grants_exactly_what_each_process_does(kube_api: k8s.ApiClient, installed_rbac: None,
                                                              access: rbac.Access) -> None:
    group, _, subresource = access.resource.partition("/")
    review = k8s.V1SubjectAccessReview(spec=k8s.V1SubjectAccessReviewSpec(
        user=f"system:serviceaccount:{rbac.NAMESPACE}:{access.account}",
        groups=["system:serviceaccounts", f"system:serviceaccounts:{rbac.NAMESPACE}", "system:authenticated"],
        resource_attributes=k8s.V1ResourceAttributes(
            verb=access.verb, group=access.group, resource=group, subresource=subresource or None,
            namespace=access.namespace, name=access.name)))
    answer = k8s.AuthorizationV1Api(kube_api).create_subject_access_review(review)
    assert answer.status.allowed is access.allowed, answer.status.reason
