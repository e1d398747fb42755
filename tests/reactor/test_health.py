"""Argo CD's reasons for a managed Application's health: asked once per change, never before anything is deployed."""

from __future__ import annotations

from k8sta_daemon.core import model
from k8sta_daemon.reactor.health import HealthReasons

APP = model.AppRef("argocd", "dev")


class TreeArgo:
    def __init__(self) -> None:
        self.asked: list[model.AppRef] = []

    def resource_tree(self, app: model.AppRef) -> dict[str, object]:
        self.asked.append(app)
        return {"nodes": [{"kind": "Deployment", "name": "api", "health": {"status": "Progressing",
                                                                            "message": "rolling out"}}]}


def test_the_tree_is_not_asked_while_nothing_is_deployed_yet() -> None:
    argo = TreeArgo()
    health = HealthReasons(argo)  # type: ignore[arg-type]
    app = {"metadata": {"name": "dev", "namespace": "argocd", "resourceVersion": "1"},
           "status": {"health": {"status": "Missing"}, "sync": {"status": "OutOfSync"}}}
    assert health.reasons({APP: app}, [APP]) == {}
    assert argo.asked == []
    app = {"metadata": {"name": "dev", "namespace": "argocd", "resourceVersion": "2"},
           "status": {"health": {"status": "Progressing"}, "sync": {"status": "Synced"}}}
    health.reasons({APP: app}, [APP])
    assert argo.asked == [APP]


def test_the_tree_is_asked_also_when_argo_cd_sets_a_health_message() -> None:
    """Argo CD 3.6's ``status.health.message`` names resources ("Caused by apps/Deployment:ns/api"), not why."""
    argo = TreeArgo()
    health = HealthReasons(argo)  # type: ignore[arg-type]
    app = {"metadata": {"name": "dev", "namespace": "argocd", "resourceVersion": "1"},
           "status": {"health": {"status": "Progressing", "message": "Caused by apps/Deployment:shop/api"},
                      "sync": {"status": "Synced"}}}
    assert health.reasons({APP: app}, [APP]) == {APP: "Deployment api: rolling out"}
    assert argo.asked == [APP]
