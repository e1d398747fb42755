"""Image intake end to end: the real stack, the real daemon (its intake), a real registry (docker-registry,
skopeo), the web part's nudge. A pushed image inside the SemVer constraint becomes a ticket that rides,
pinned by digest; a tag outside the constraint and an ignored tag do not; a Digest subscription follows
a re-pushed mutable tag; after a rollback nothing is created until resume; redelivered webhooks and
repeated polls create nothing twice. Times from ``skopeo copy`` to ticket are printed."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
import yaml

from k8sta_daemon.cli.main import main as k8sta_main
from k8sta_daemon.core import subscriptions as subs
from k8sta_daemon.web import create_app
from k8sta_devstack import registry as devregistry
from k8sta_devstack.railway import Railway, base, overlay
from k8sta_devstack.stack import Stack

pytestmark = pytest.mark.stack

GROUP, VERSION = "k8sta.io", "v1alpha1"
TOKEN = "e2e-intake-token"


def _subscription(rail: Railway, name: str, interval: int, image: dict[str, Any]) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
            "metadata": {"name": name, "namespace": rail.namespace},
            "spec": {"tracks": ["main-line"], "intervalSeconds": interval, "image": {"insecure": True, **image}}}
    rail.custom.create_namespaced_custom_object(GROUP, VERSION, rail.namespace, "subscriptions", body)


def _names(rail: Railway) -> set[str]:
    return {t["metadata"]["name"] for t in rail.tickets()}


def _k8sta(stack: Stack, namespace: str, *argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = k8sta_main(["--kubeconfig", str(stack.kubeconfig), "-n", namespace, *argv], environ={"NO_COLOR": "1"},
                      stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    return out.getvalue()


def test_images_become_tickets_that_ride_exactly_once(railway: Railway, stack: Stack,
                                                      plain_registry: devregistry.Registry) -> None:
    repo = f"{plain_registry.host}/acme/api-{railway.suffix}"
    web_path = f"acme/web-{railway.suffix}"
    files = {**base(), **overlay("dev", image=repo), **overlay("staging", image=repo)}
    for env in ("dev", "staging"):  # a second container whose image the web Subscription follows
        workload = yaml.safe_load(files[f"env/{env}/workload.yaml"])
        workload["spec"]["template"]["spec"]["containers"].append(
            {"name": "web", "image": f"{plain_registry.host}/{web_path}:latest"})
        files[f"env/{env}/workload.yaml"] = yaml.safe_dump(workload).encode()
    config = railway.commit(files)
    for env in ("dev", "staging"):
        railway.application(env)
    railway.station("dev", ["dev"])
    railway.station("staging", ["staging"])
    railway.track("main-line", ["dev", "staging"])
    railway.create("tickets", "api-1", {"track": "main-line", "snapshot": {
        "configCommit": config, "images": [{"name": repo, "tag": "1.0.0"}]}})
    railway.wait("api-1 Completed", lambda: railway.state("api-1") == "Completed")

    _subscription(railway, "api", 1, {"repository": repo, "strategy": "SemVer", "constraint": ">=1.0.0, <2.0.0",
                                      "ignoreTags": ["1.5.*"]})
    path = repo.split("/", 1)[1]
    started = time.monotonic()
    digest = devregistry.push(plain_registry, path, "1.1.0")
    name = subs.ticket_name("main-line", "api", digest)
    railway.wait("a ticket for 1.1.0", lambda: name in _names(railway), timeout=60)
    polled = time.monotonic() - started
    railway.wait(f"{name} Completed", lambda: railway.state(name) == "Completed")
    rendered = railway.repo.git(["show", f"{railway.repo.head('env/staging')}:.k8sta/rendered.yaml"])
    assert f"image: {repo}:1.1.0@{digest}" in rendered

    devregistry.push(plain_registry, path, "2.0.0")  # outside the constraint
    devregistry.push(plain_registry, path, "1.5.0")  # ignored
    time.sleep(4)  # several polls at intervalSeconds 1
    assert _names(railway) == {"api-1", name}

    # a Digest subscription follows a re-pushed mutable tag
    _subscription(railway, "web", 1, {"repository": f"{plain_registry.host}/{web_path}", "strategy": "Digest",
                                      "constraint": "stable"})
    first = devregistry.push(plain_registry, web_path, "stable", content=b"one")
    railway.wait("a ticket for stable", lambda: subs.ticket_name("main-line", "web", first) in _names(railway),
                 timeout=60)
    second = devregistry.push(plain_registry, web_path, "stable", content=b"two")
    railway.wait("a ticket for the re-pushed stable",
                 lambda: subs.ticket_name("main-line", "web", second) in _names(railway), timeout=60)
    railway.custom.delete_namespaced_custom_object(GROUP, VERSION, railway.namespace, "subscriptions", "web")
    railway.wait("every ticket done", lambda: all((t.get("status") or {}).get("state") in (
        "Completed", "Superseded") for t in railway.tickets()))

    # a rollback holds the Track: a new image makes no ticket until resume
    _k8sta(stack, railway.namespace, "rollback", "--track", "main-line", "--to", "api-1")
    held_digest = devregistry.push(plain_registry, path, "1.2.0")
    held_name = subs.ticket_name("main-line", "api", held_digest)
    railway.wait("the Held condition", lambda: (railway.get("subscriptions", "api").get("status") or {}).get(
        "conditions", [{}])[0].get("reason") == "Held", timeout=60)
    time.sleep(3)
    assert held_name not in _names(railway)
    assert "held (rollback to api-1" in _k8sta(stack, railway.namespace, "tracks")
    _k8sta(stack, railway.namespace, "resume", "main-line")
    railway.wait("the ticket after resume", lambda: held_name in _names(railway), timeout=60)

    # webhook: intervalSeconds 60, so only the nudge explains the ticket; redeliveries create nothing
    railway.custom.patch_namespaced_custom_object(GROUP, VERSION, railway.namespace, "subscriptions", "api",
                                                  {"spec": {"intervalSeconds": 60}})
    time.sleep(2)  # the spec change itself triggers one read
    client = create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig), "WEBHOOK_TOKEN": TOKEN,
                         "WEBHOOK_NAMESPACE": railway.namespace}).test_client()
    body = json.dumps({"repository": repo}).encode()
    started = time.monotonic()
    hooked = devregistry.push(plain_registry, path, "1.3.0")
    answer = client.post(f"/webhooks/nudge?namespace={railway.namespace}", data=body,
                         headers={"X-K8sTA-Token": TOKEN, "Content-Type": "application/json"})
    assert answer.status_code == 202 and answer.get_json()["nudged"] == ["api"]
    hooked_name = subs.ticket_name("main-line", "api", hooked)
    railway.wait("the nudged ticket", lambda: hooked_name in _names(railway), timeout=30)
    nudged = time.monotonic() - started
    count = len(_names(railway))
    for _ in range(3):  # redelivered: nudged again (202) or, within the debounce, left alone (200)
        again = client.post(f"/webhooks/nudge?namespace={railway.namespace}", data=body, headers={
            "X-K8sTA-Token": TOKEN, "Content-Type": "application/json"})
        assert (again.status_code, again.get_json()["nudged"] or again.get_json()["debounced"]) in (
            (202, ["api"]), (200, ["api"])), again.get_json()
    time.sleep(3)
    assert len(_names(railway)) == count
    acted = railway.get("subscriptions", "api")["status"]["acted"]
    assert [a["key"] for a in acted] == [digest, held_digest, hooked]
    print(f"\nskopeo copy -> ticket created: polling alone (intervalSeconds 1) {polled:.2f} s; "
          f"with the nudge webhook (intervalSeconds 60) {nudged:.2f} s")
