"""Argo CD 3 keeps the reasons for an Application's health in its resource tree; the ticket's message
names them (``codec.health_reasons`` and ``app_status_from_dict(..., reasons)``)."""

from __future__ import annotations

import pytest

from k8sta_daemon.core import codec, model

# Shaped like GET /api/v1/applications/{name}/resource-tree of Argo CD v3.2 (nodes: group, kind,
# name, namespace, health {status, message}); a paused canary and its healthy Service.
TREE = {"nodes": [
    {"group": "argoproj.io", "kind": "Rollout", "name": "api", "namespace": "prod",
     "health": {"status": "Suspended", "message": "CanaryPauseStep"}},
    {"kind": "Service", "name": "api", "namespace": "prod", "health": {"status": "Healthy"}},
    {"group": "apps", "kind": "ReplicaSet", "name": "api-6d9f", "namespace": "prod",
     "health": {"status": "Suspended", "message": " "}},
    {"kind": "ConfigMap", "name": "shared", "namespace": "prod"},
]}


@pytest.mark.parametrize(("tree", "health", "expected"), [
    (TREE, "Suspended", "Rollout api: CanaryPauseStep"),
    (TREE, "Degraded", ""),
    ({"nodes": [
        {"kind": "Deployment", "name": "web",
         "health": {"status": "Degraded", "message": 'Deployment "web" exceeded its progress deadline'}},
        {"kind": "Deployment", "name": "api", "health": {"status": "Degraded", "message": "second"}}]},
     "Degraded", 'Deployment api: second; Deployment web: Deployment "web" exceeded its progress deadline'),
    ({}, "Degraded", ""),
    ({"nodes": "not a list"}, "Degraded", ""),
    ({"nodes": [None, 3, {"health": "x"}]}, "Degraded", ""),
], ids=["suspended-canary", "other-health", "two-sorted", "no-nodes", "nodes-not-a-list", "junk-nodes"])
def test_health_reasons(tree: object, health: str, expected: str) -> None:
    assert codec.health_reasons(tree, health) == expected


def test_the_trees_reasons_come_before_argo_cds_own_message() -> None:
    """Argo CD 3.6 sets ``Caused by <group>/<Kind>:<ns>/<name>`` (controller/health.go): it names the
    resource, not why, and stays while the status does; the tree says why. Without reasons, it is kept."""
    app = {"metadata": {"name": "prod", "namespace": "argocd"},
           "status": {"health": {"status": "Suspended"}, "sync": {"status": "Synced", "revision": "a" * 40}}}
    assert codec.app_status_from_dict(app, "Rollout api: CanaryPauseStep").health_message == \
        "Rollout api: CanaryPauseStep"
    app["status"]["health"]["message"] = "Caused by argoproj.io/Rollout:shop/api"
    assert codec.app_status_from_dict(app, "Rollout api: CanaryPauseStep").health_message == \
        "Rollout api: CanaryPauseStep"
    assert codec.app_status_from_dict(app).health_message == "Caused by argoproj.io/Rollout:shop/api"
    assert codec.app_status_from_dict(app).health is model.HealthStatus.SUSPENDED
