"""Argo CD refusing K8sTA's sync request is said on the ticket, not retried in silence (issue 19, item 1).

An AppProject with a deny sync window (manual syncs included) makes Argo CD's API refuse every sync of
the project's Applications ("cannot sync: blocked by sync window", HTTP 403). The Application has no
automated sync, so the daemon asks Argo CD to sync the ticket's commit: the ticket's message names Argo
CD's answer and a Warning Event says it once. When the window is removed, the daemon's next request (its
backoff) is accepted and the ticket completes; the sync prunes nothing, as the Application's own policy
(manual sync, no prune) and Argo CD's UI and CLI would (issue 19, item 8).
"""

from __future__ import annotations

import contextlib

import pytest
from kubernetes import client as k8s

from k8sta_devstack.railway import ARGOCD_NS, Railway, base, overlay

pytestmark = pytest.mark.stack


def windowed_project(api: k8s.ApiClient, name: str) -> None:
    k8s.CustomObjectsApi(api).create_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "appprojects", {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": name, "namespace": ARGOCD_NS},
        "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                 "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                 "syncWindows": [{"kind": "deny", "schedule": "* * * * *", "duration": "1h",
                                  "applications": ["*"], "manualSync": False}]}})


def test_a_sync_argo_cd_refuses_is_named_in_the_ticket_until_it_is_accepted(railway: Railway) -> None:
    config = railway.commit({**base(), **overlay("windowed")})
    project = f"windowed-{railway.suffix}"
    custom = railway.custom
    windowed_project(railway.api, project)
    try:
        railway.application("windowed", automated=False, project=project)
        railway.station("windowed", ["windowed"])
        railway.track("line", ["windowed"])
        railway.ticket("api-1", "line", config, "15.0.0")

        def message() -> str:
            return str((railway.get("tickets", "api-1").get("status") or {}).get("message") or "")

        railway.wait("the refusal in the ticket's message", lambda: "blocked by sync window" in message(),
                     timeout=120)
        assert railway.state("api-1") == "Deploying"
        assert "Argo CD refused K8sTA's sync of " in message() and "HTTP 403" in message(), message()
        events = k8s.CoreV1Api(railway.api).list_namespaced_event(
            railway.namespace, field_selector="involvedObject.name=api-1").items
        refused = [e for e in events if e.reason == "SyncRefused"]
        assert len(refused) == 1 and refused[0].type == "Warning", refused
        assert "blocked by sync window" in refused[0].message

        custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "appprojects", project,
                                              {"spec": {"syncWindows": None}})  # the window is lifted
        railway.wait("Completed once Argo CD accepts", lambda: railway.state("api-1") == "Completed", timeout=180)
        app = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications",
                                                  railway.apps["windowed"])
    finally:
        with contextlib.suppress(k8s.ApiException):
            custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications",
                                                   f"windowed-{railway.suffix}")
        with contextlib.suppress(k8s.ApiException):
            custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "appprojects", project)
    sync = app["status"]["operationState"]["operation"]["sync"]
    assert not sync.get("prune"), sync  # manual sync without prune in its policy: K8sTA does not prune either
