"""The install's identities are *enough*: the daemon's own Kubernetes adapters and the web app, authenticated
as the installed ServiceAccounts (real tokens, real RBAC on the local stack), do everything they do in a
cluster; and what they never do is refused. ``test_cluster`` checks the grants one by one; this checks
that the code's requests are the ones granted (a patch where RBAC grants update would fail here).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from web.identities import account_token, bearer, grant  # tests/ is the rootdir of the test packages

from k8sta_daemon.adapters import kube
from k8sta_daemon.adapters.leader import LeaderElector, LeaseSettings
from k8sta_daemon.core import codec, model
from k8sta_daemon.core import subscriptions as subs
from k8sta_daemon.web import boardwatch, create_app
from k8sta_daemon.web.sansio import auth
from k8sta_devstack.stack import Stack

from . import rbac
from .cluster import account_kubeconfig

pytestmark = pytest.mark.stack

CONFIG_COMMIT = "c" * 40
IMAGE = "ghcr.io/acme/api"
WATCHED = "registry.invalid/acme/api"  # never resolves: a poller nudged on a shared stack finds nothing to ride
WEBHOOK_TOKEN = secrets.token_hex(16)


@pytest.fixture(scope="module")
def kubeconfigs(stack: Stack, kube_api: k8s.ApiClient, installed_rbac: None,
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("identities")
    return {account: account_kubeconfig(kube_api, stack.kubeconfig, rbac.NAMESPACE, account, where / account)
            for account in (rbac.CONTROLLER, rbac.WEB)}


@pytest.fixture(scope="module")
def controller_api(kubeconfigs: dict[str, Path]) -> Iterator[k8s.ApiClient]:
    api = kube.api_client(str(kubeconfigs[rbac.CONTROLLER]))
    yield api
    api.close()


@pytest.fixture
def namespace(kube_api: k8s.ApiClient, installed_rbac: None) -> str:
    """A fresh user namespace with a Track (its Station deliberately absent: nothing will ride)."""
    name = f"install-{secrets.token_hex(3)}"
    k8s.CoreV1Api(kube_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    k8s.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        kube.GROUP, kube.VERSION, name, "tracks",
        {"apiVersion": kube.API_VERSION, "kind": "Track", "metadata": {"name": "line", "namespace": name},
         "spec": {"stations": ["nowhere"]}})
    return name


def ticket_body(namespace: str, name: str, tag: str) -> dict[str, Any]:
    return {"apiVersion": kube.API_VERSION, "kind": "Ticket", "metadata": {"name": name, "namespace": namespace},
            "spec": {"track": "line", "snapshot": {"configCommit": CONFIG_COMMIT,
                                                   "images": [{"name": IMAGE, "tag": tag}]}}}


def retrying_conflicts(write: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Another controller on the same stack (the daemon e2e tests') may write the same status first."""
    for _ in range(5):
        try:
            return write()
        except kube.KubeError as exc:
            if exc.status != 409:
                raise
    return write()


def events_about(kube_api: k8s.ApiClient, namespace: str, kind: str, name: str) -> list[k8s.CoreV1Event]:
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    return list(k8s.CoreV1Api(kube_api).list_namespaced_event(namespace, field_selector=selector).items)


def test_the_controller_account_is_enough_for_the_controller(controller_api: k8s.ApiClient,
                                                             kube_api: k8s.ApiClient, namespace: str) -> None:
    adapter = kube.Kube(controller_api)  # every namespace, as installed
    # Lists and a watch of our resources, cluster-wide.
    assert "line" in {t["metadata"]["name"] for t in adapter.list("Track")[0]}
    adapter.list("Station")
    seen: list[str] = []
    listed, stop = threading.Event(), threading.Event()

    def on_event(kind: str, obj: dict[str, Any]) -> None:
        if obj["metadata"]["namespace"] == namespace and kind == "ADDED":
            seen.append(obj["metadata"]["name"])

    watcher = threading.Thread(target=adapter.watch, args=("Ticket", on_event, lambda _items: listed.set(), stop),
                               daemon=True)
    watcher.start()
    try:
        # Created after the list, so only the watch (from the list's resourceVersion) can report it.
        assert listed.wait(30), "the controller account could not list Tickets"
        # A junction child is created by the controller.
        created = adapter.create("Ticket", namespace, ticket_body(namespace, "line-1", "1.0"))
        assert created is not None
        deadline = time.monotonic() + 30
        while "line-1" not in seen and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "line-1" in seen, "the watch did not deliver the new Ticket"
    finally:
        stop.set()
    # Status writes, as the executor does them.
    status = codec.ticket_status_to_dict(model.TicketStatus(message="checked by the install tests"))
    written = retrying_conflicts(lambda: adapter.replace_status(
        "Ticket", adapter.get("Ticket", namespace, "line-1"), status))
    assert written["status"]["message"] == "checked by the install tests"
    condition = model.Condition(model.ConditionType.READY, model.ConditionStatus.FALSE,
                                model.ConditionReason.STATION_NOT_FOUND, "station nowhere not found")

    def write_track() -> dict[str, Any]:
        obj = adapter.get("Track", namespace, "line")
        return adapter.replace_status("Track", obj, codec.track_status_with_condition(obj, condition))

    track = retrying_conflicts(write_track)
    assert track["status"]["conditions"][-1]["reason"] == "StationNotFound"
    # Events on the Ticket, and on an Application in Argo CD's namespace.
    uid = created["metadata"]["uid"]
    adapter.emit_event({"apiVersion": kube.API_VERSION, "kind": "Ticket", "namespace": namespace, "name": "line-1",
                        "uid": uid}, "Normal", "Entered", "checked by the install tests")
    app = f"install-{secrets.token_hex(3)}"
    adapter.emit_event({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "namespace": rbac.ARGOCD_NAMESPACE,
                        "name": app, "uid": ""}, "Normal", "Arrived", "checked by the install tests")
    assert [e.reason for e in events_about(kube_api, namespace, "Ticket", "line-1")] == ["Entered"]
    assert [e.reason for e in events_about(kube_api, rbac.ARGOCD_NAMESPACE, "Application", app)] == ["Arrived"]
    # Git credentials from Argo CD's repository Secrets, and nowhere else.
    adapter.list_secrets(rbac.ARGOCD_NAMESPACE, "argocd.argoproj.io/secret-type=repository")
    adapter.list_secrets(rbac.ARGOCD_NAMESPACE, "argocd.argoproj.io/secret-type=repo-creds")
    with pytest.raises(kube.KubeError) as refused:
        adapter.list_secrets(namespace, "argocd.argoproj.io/secret-type=repository")
    assert refused.value.status == 403
    # The servers Argo CD trusts: its known hosts and TLS ConfigMaps (absent ones read as empty).
    adapter.config_map_data(rbac.ARGOCD_NAMESPACE, "argocd-ssh-known-hosts-cm")
    adapter.config_map_data(rbac.ARGOCD_NAMESPACE, "argocd-tls-certs-cm")
    with pytest.raises(kube.KubeError) as refused:
        adapter.config_map_data(rbac.ARGOCD_NAMESPACE, "argocd-cm")
    assert refused.value.status == 403
    # The controller never edits what humans asked for.
    with pytest.raises(kube.KubeError) as refused:
        adapter.patch_spec("Ticket", namespace, "line-1", {"abandon": True})
    assert refused.value.status == 403


def test_the_controller_account_holds_its_lease_and_no_other(controller_api: k8s.ApiClient,
                                                             installed_rbac: None) -> None:
    identity = f"install-test-{secrets.token_hex(3)}"
    ours = LeaderElector(controller_api, LeaseSettings(namespace=rbac.NAMESPACE, identity=identity, lease_seconds=1))
    time.sleep(1.1)  # a Lease left by an earlier run on a reused stack has expired by now
    assert ours.try_acquire() is True  # create (or take over)
    assert ours.try_acquire() is True  # renew (update)
    elsewhere = LeaderElector(controller_api, LeaseSettings(namespace="default", identity=identity))
    assert elsewhere.try_acquire() is False
    renamed = LeaderElector(controller_api, LeaseSettings(namespace=rbac.NAMESPACE, name="another", identity=identity))
    assert renamed.try_acquire() is False  # any other Lease cannot even be read


def test_the_web_account_is_enough_for_the_web_part(kubeconfigs: dict[str, Path], kube_api: k8s.ApiClient,
                                                    namespace: str) -> None:
    custom = k8s.CustomObjectsApi(kube_api)
    ticket = custom.create_namespaced_custom_object(kube.GROUP, kube.VERSION, namespace, "tickets",
                                                    ticket_body(namespace, "line-1", "1.0"))
    app = create_app({"TESTING": True, "KUBECONFIG": str(kubeconfigs[rbac.WEB]), "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
                      "WEBHOOK_NAMESPACE": namespace})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    # Callers are checked with the web account's own TokenReview / SubjectAccessReview rights.
    reader = bearer(account_token(kube_api, namespace, "reader"))
    grant(kube_api, namespace, namespace, "reader")
    tracks = client.get("/api/v1/tracks", query_string={"namespace": namespace}, headers=reader)
    assert tracks.status_code == 200, tracks.get_json()
    assert [t["name"] for t in tracks.get_json()["items"]] == ["line"]
    assert client.get(f"/api/v1/tickets/{namespace}/line-1", headers=reader).status_code == 200
    outsider = bearer(account_token(kube_api, namespace, "outsider"))
    assert client.get(f"/api/v1/tickets/{namespace}/line-1", headers=outsider).status_code == 403
    assert client.get(f"/api/v1/tickets/{namespace}/line-1").status_code == 401
    # An image push only nudges the Subscription watching its repository (list + patch): no ticket, no Event.
    custom.create_namespaced_custom_object(kube.GROUP, kube.VERSION, namespace, "subscriptions", {
        "apiVersion": kube.API_VERSION, "kind": "Subscription",
        "metadata": {"name": "line-images", "namespace": namespace},
        "spec": {"tracks": ["line"], "image": {"repository": WATCHED}}})
    pushed = client.post("/webhooks/image", headers={auth.TOKEN_HEADER: WEBHOOK_TOKEN},
                         json={"track": "line", "namespace": namespace, "image": f"{WATCHED}:1.1"})
    assert pushed.status_code == 202, pushed.get_json()
    assert pushed.get_json() == {"nudged": ["line-images"]}
    subscription = custom.get_namespaced_custom_object(kube.GROUP, kube.VERSION, namespace, "subscriptions",
                                                       "line-images")
    assert codec.parse_time(subscription["metadata"]["annotations"][subs.NUDGE_ANNOTATION]) is not None
    unwatched = client.post("/webhooks/image", headers={auth.TOKEN_HEADER: WEBHOOK_TOKEN},
                            json={"track": "line", "namespace": namespace, "image": f"{IMAGE}:1.1"})
    assert unwatched.status_code == 200, unwatched.get_json()
    assert unwatched.get_json()["nudged"] == [] and "declare one" in unwatched.get_json()["message"]
    listed = custom.list_namespaced_custom_object(kube.GROUP, kube.VERSION, namespace, "tickets")["items"]
    assert [t["metadata"]["name"] for t in listed] == ["line-1"]
    assert "Created" not in [e.reason for e in events_about(kube_api, namespace, "Ticket", "line-1")]
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and b"k8sta_web_kubernetes_up 1.0" in metrics.data
    # The departure board watches with this account and reads a ticket's Events (recorded by the admin here).
    kube.Kube(kube_api).emit_event({"apiVersion": kube.API_VERSION, "kind": "Ticket", "namespace": namespace,
                                    "name": "line-1", "uid": ticket["metadata"]["uid"]},
                                   "Normal", "Entered", "recorded for the board page of the web account")
    try:
        board = client.get("/board/", query_string={"namespace": namespace}, headers=reader)
        assert board.status_code == 200 and f'id="track/{namespace}/line"' in board.get_data(as_text=True)
        page = client.get(f"/board/tickets/{namespace}/line-1", headers=reader)
        assert page.status_code == 200 and "recorded for the board page of the web account" in page.get_data(
            as_text=True)
        assert client.get(f"/board/tickets/{namespace}/line-1", headers=outsider).status_code == 403
        assert client.get("/board/").status_code == 401
    finally:
        app.extensions[boardwatch.EXTENSION].stop()
    # The web part never writes a ticket or an Event: creating, changing and recording are all refused.
    web = kube.Kube(kube.api_client(str(kubeconfigs[rbac.WEB])))
    for refused_write in (
            lambda: web.create("Ticket", namespace, ticket_body(namespace, "line-2", "1.1")),
            lambda: web.patch_spec("Ticket", namespace, "line-1", {"abandon": True}),
            lambda: web.emit_event({"apiVersion": kube.API_VERSION, "kind": "Ticket", "namespace": namespace,
                                    "name": "line-1", "uid": ticket["metadata"]["uid"]}, "Normal", "Created", "no")):
        with pytest.raises(kube.KubeError) as refused:
            refused_write()
        assert refused.value.status == 403
