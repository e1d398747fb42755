"""A retry after a real sync failure completes once the cause is fixed (issue 13, "done when" (b); issue 19,
item 1: under automated sync too).

The ticket's snapshot is pinned, so the cause must come from the cluster: a ValidatingAdmissionPolicy
(in-process admission, no webhook) makes the API server reject the ConfigMap the shared config generates
(``shared-<hash>``), so Argo CD's sync operation of our commit fails and the ticket is Failed. Deleting the
policy's binding fixes it; ``k8sta retry`` re-enters the Station, and the retry judges only what Argo CD does
from then on (the old Failed operation no longer counts), asks Argo CD to sync again and completes.

With automated sync the retry's push changes nothing (the branch head is still the commit whose sync
failed), Argo CD's automated sync never tries that revision again, and its API refuses a sync naming a
revision while automated sync is on: the daemon asks for a sync of the Application's target instead.
Either way the sync prunes only as the Application's own policy says (issue 19, item 8).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client as k8s

from k8sta_devstack.railway import ARGOCD_NS, Railway, base, overlay
from k8sta_devstack.stack import Stack

from .conftest import Daemon

pytestmark = pytest.mark.stack


def deny_shared_configmaps(api: k8s.ApiClient, name: str, namespace: str) -> None:
    admission = k8s.AdmissionregistrationV1Api(api)
    admission.create_validating_admission_policy({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {"failurePolicy": "Fail",
                 "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                         "operations": ["CREATE", "UPDATE"],
                                                         "resources": ["configmaps"]}]},
                 "validations": [{"expression": "!object.metadata.name.startsWith('shared')",
                                  "message": "the shared ConfigMap is frozen here (test policy)"}]}})
    admission.create_validating_admission_policy_binding({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": namespace}}}}})


def fail_then_retry(railway: Railway, stack: Stack, **application: object) -> dict:
    """Ticket ``api-1`` fails at Station ``frozen`` (its sync is denied), the cause is fixed, ``k8sta retry``;
    returns the Argo CD Application once the ticket completed."""
    config = railway.commit({**base(), **overlay("frozen")})
    name = f"frozen-{railway.suffix}"
    deny_shared_configmaps(railway.api, name, f"{name}-ns")  # railway.target_namespace, before the app exists
    admission = k8s.AdmissionregistrationV1Api(railway.api)
    try:
        railway.application("frozen", **application)  # type: ignore[arg-type]
        railway.station("frozen", ["frozen"])
        railway.track("line", ["frozen"])
        railway.ticket("api-1", "line", config, "14.0.0")
        railway.wait("Failed", lambda: railway.state("api-1") == "Failed", timeout=180)
        failed = railway.get("tickets", "api-1")["status"]
        assert "frozen here (test policy)" in failed["message"], failed["message"]

        admission.delete_validating_admission_policy_binding(name)  # the cause, fixed on the cluster
        cli = Path(sys.executable).parent / "k8sta"
        done = subprocess.run([str(cli), "--kubeconfig", str(stack.kubeconfig), "-n", railway.namespace,
                               "retry", "api-1"], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        railway.wait("Completed after the retry", lambda: railway.state("api-1") == "Completed", timeout=180)
    finally:
        for delete in (admission.delete_validating_admission_policy_binding,
                       admission.delete_validating_admission_policy):
            with contextlib.suppress(k8s.ApiException):
                delete(name)
    first, second = railway.get("tickets", "api-1")["status"]["journey"]
    assert (first["station"], first["state"]) == ("frozen", "Failed")
    assert (second["station"], second["state"]) == ("frozen", "Departed")
    assert "retry #1" in second["message"], second
    assert first["pushed"] == second["pushed"]  # the retry's push changed nothing
    events = k8s.CoreV1Api(railway.api).list_namespaced_event(
        railway.namespace, field_selector="involvedObject.name=api-1").items
    assert "Retried" in {e.reason for e in events}
    assert "SyncRefused" not in {e.reason for e in events}
    app = railway.custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications",
                                                      railway.apps["frozen"])
    operation = app["status"]["operationState"]
    assert operation["phase"] == "Succeeded"
    assert operation["syncResult"]["revision"] == second["pushed"][0]["commit"]
    initiated = operation["operation"]["initiatedBy"]
    assert not initiated.get("automated") and initiated.get("username"), initiated  # the daemon's request
    return app


def test_a_retry_after_a_sync_failure_completes_once_the_cause_is_fixed(railway: Railway, stack: Stack) -> None:
    # manual sync: the daemon's sync request carries no retry strategy, so one failed attempt is the
    # operation's end (an automated sync retries with Argo CD's backoff, its phase Running meanwhile)
    app = fail_then_retry(railway, stack, automated=False)
    sync = app["status"]["operationState"]["operation"]["sync"]
    assert not sync.get("prune"), sync  # manual sync without prune: as Argo CD's UI and CLI sync
    assert sync["revision"] == app["status"]["operationState"]["syncResult"]["revision"]  # our commit, pinned


def test_a_retry_under_automated_sync_completes_once_the_cause_is_fixed(railway: Railway, stack: Stack,
                                                                        daemon: Daemon) -> None:
    """Issue 19, item 1: before, the daemon asked for the failed commit by name, Argo CD refused it ("auto-sync
    currently set to ...") and the retry sat Deploying for good."""
    # automated sync with prune, as Applications usually are; Argo CD's own retries (5 by default, minutes
    # of backoff) are cut to one quick one, so its operation ends in seconds
    app = fail_then_retry(railway, stack, retry={"limit": 1, "backoff": {"duration": "1s", "factor": 1,
                                                                          "maxDuration": "1s"}})
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True}
    assert app["status"]["operationState"]["operation"]["sync"].get("prune") is True  # its policy's prune
    assert not daemon.logged("auto-sync currently set to"), "Argo CD refused a sync request"
