"""The image pollers on the real stack's API server against a real registry (docker-registry, skopeo):
a new image becomes one ticket per subscribed Track with the other pins inherited, exactly once; held
Tracks get nothing until resumed; every bad input is a condition naming its cause, and creates nothing."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest
from kubernetes import client as k8s_client

from k8sta_daemon.adapters import kube
from k8sta_daemon.core import codec, model
from k8sta_daemon.core import subscriptions as subs
from k8sta_daemon.ops.store import Store
from k8sta_daemon.watch import images
from k8sta_daemon.watch.poller import Intake
from k8sta_devstack import processes
from k8sta_devstack import registry as devregistry
from tests.cli.cluster import GROUP, VERSION, Cluster

pytestmark = pytest.mark.stack

CONFIG = "c" * 40
OTHER = model.ImagePin("registry.example/shop/web", "3.1.0", "sha256:" + "e" * 64)


def _connect_with_ca(ca: str | None) -> images.Connect:
    def connect(source: subs.ImageSource, credentials: Any) -> Any:
        from k8sta_daemon.adapters import registry
        return registry.Registry(source.repository, credentials=credentials, insecure=source.insecure, ca_file=ca,
                                 timeout=3)
    return connect


class World:
    """A namespace with Track ``shop`` (one ticket pinning a config commit and another image) and helpers."""

    def __init__(self, kube_api: k8s_client.ApiClient, reg: devregistry.Registry, repo: str) -> None:
        self.cluster = Cluster(kube_api, "intake")
        self.ns = self.cluster.namespace
        self.api = kube_api
        self.reg = reg
        self.repo = repo
        self.custom = k8s_client.CustomObjectsApi(kube_api)
        self.cluster.track("shop", ["dev"])
        self.cluster.ticket("shop-1", "shop", model.Snapshot(CONFIG, (OTHER,)))
        self.intake = self.fresh_intake()

    def fresh_intake(self) -> Intake:
        """A new Intake, as a restarted or second daemon would have (nothing in memory)."""
        return Intake(kube=kube.Kube(self.api, component="k8sta-intake"), store=Store(self.api, "k8sta-intake"),
                      connect=_connect_with_ca(str(self.reg.ca_cert) if self.reg.ca_cert else None))

    def subscription(self, name: str = "api", tracks: tuple[str, ...] = ("shop",), repository: str | None = None,
                     **image: Any) -> tuple[str, str]:
        spec_image = {"repository": repository or f"{self.reg.host}/{self.repo}", "insecure": self.reg.insecure,
                      **image}
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
                "metadata": {"name": name, "namespace": self.ns},
                "spec": {"tracks": list(tracks), "intervalSeconds": 60, "image": spec_image}}
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, "subscriptions", body)
        return (self.ns, name)

    def poll(self, key: tuple[str, str], intake: Intake | None = None) -> float | None:
        intake = intake or self.intake  # the test drives reads itself: no watch, no poller threads
        for obj in self.custom.list_namespaced_custom_object(GROUP, VERSION, self.ns, "subscriptions")["items"]:
            intake.objects[(self.ns, obj["metadata"]["name"])] = obj
        return intake.poll(key)

    def status(self, name: str = "api") -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, "subscriptions", name)["status"]

    def ready(self, name: str = "api") -> dict[str, Any]:
        return self.status(name)["conditions"][0]

    def tickets(self) -> dict[str, dict[str, Any]]:
        return {t["metadata"]["name"]: t for t in self.cluster.tickets()}

    def new_tickets(self) -> dict[str, dict[str, Any]]:
        return {n: t for n, t in self.tickets().items() if n != "shop-1"}

    def push(self, tag: str, **kwargs: Any) -> str:
        return devregistry.push(self.reg, self.repo, tag, **kwargs)

    def hold(self, reason: str | None) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.ns, "tracks", "shop",
                                                   {"spec": {"hold": {"reason": reason} if reason else None}})


@pytest.fixture
def world(kube_api: k8s_client.ApiClient, crds: None, plain_registry: devregistry.Registry, repo_name: str) -> World:
    return World(kube_api, plain_registry, repo_name)


def _images(ticket: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {i["name"]: (i["tag"], i.get("digest")) for i in ticket["spec"]["snapshot"]["images"]}


def test_semver_image_becomes_one_ticket_with_inherited_pins_exactly_once(world: World) -> None:
    key = world.subscription(constraint=">=1.0.0, <2.0.0", ignoreTags=["1.3.*"])
    digest = world.push("1.0.0")
    assert world.poll(key) == 60
    (name, ticket), = world.new_tickets().items()
    repo = f"{world.reg.host}/{world.repo}"
    assert name == subs.ticket_name("shop", "api", digest)
    assert ticket["spec"]["snapshot"]["configCommit"] == CONFIG  # inherited from the Track's newest snapshot
    assert _images(ticket) == {OTHER.name: (OTHER.tag, OTHER.digest), repo: ("1.0.0", digest)}
    assert ticket["metadata"]["annotations"][subs.SUBSCRIPTION_ANNOTATION] == "api"
    status = world.status()
    assert status["found"] == {"reference": f"{repo}:1.0.0", "tag": "1.0.0", "digest": digest}
    assert status["acted"][0]["key"] == digest and status["acted"][0]["tickets"] == [name]
    assert world.ready()["reason"] == "Found" and world.ready()["status"] == "True"

    world.push("2.0.0")  # outside the constraint
    world.push("1.3.0")  # ignored
    world.poll(key)
    world.poll(key)  # a repeated poll
    assert set(world.new_tickets()) == {name}
    assert "already acted on" in world.ready()["message"]

    newer = world.push("1.2.0")
    world.poll(key)
    assert set(world.new_tickets()) == {name, subs.ticket_name("shop", "api", newer)}


def test_restart_or_second_replica_with_a_lost_status_creates_nothing_twice(world: World) -> None:
    key = world.subscription(constraint=">=1.0.0")
    world.push("1.0.0")
    world.poll(key)
    assert len(world.new_tickets()) == 1
    # the status write was lost (say, the daemon died right after creating the ticket)
    obj = world.custom.get_namespaced_custom_object(GROUP, VERSION, world.ns, "subscriptions", "api")
    obj["status"] = {}
    world.custom.replace_namespaced_custom_object_status(GROUP, VERSION, world.ns, "subscriptions", "api", obj)
    world.poll(key, world.fresh_intake())
    world.poll(key, world.fresh_intake())
    assert len(world.new_tickets()) == 1


def test_every_subscribed_track_gets_one_and_a_held_track_none_until_resumed(world: World) -> None:
    world.cluster.track("eu", ["eu-dev"])
    world.cluster.ticket("eu-1", "eu", model.Snapshot(CONFIG))
    key = world.subscription(tracks=("shop", "eu"), constraint=">=1.0.0")
    world.hold("rollback to shop-1")
    digest = world.push("1.0.0")
    world.poll(key)
    assert set(world.new_tickets()) == {"eu-1", subs.ticket_name("eu", "api", digest)}
    assert "held, nothing created on track shop" in world.ready()["message"]
    world.poll(key)
    assert len(world.new_tickets()) == 2
    world.hold(None)
    world.poll(key)
    assert set(world.new_tickets()) == {"eu-1", subs.ticket_name("eu", "api", digest),
                                        subs.ticket_name("shop", "api", digest)}


def test_a_frozen_namespace_still_gets_the_tickets_intake_finds(world: World) -> None:
    """Stop-the-line (``k8sta freeze``: the ``k8sta.io/freeze`` annotation) stops entries into Stations, not
    intake: what the poller finds while frozen becomes a ticket, which waits (unlike a hold, which the poller
    skips), so nothing is lost."""
    key = world.subscription(constraint=">=1.0.0, <2.0.0")
    world.custom.patch_namespaced_custom_object(GROUP, VERSION, world.ns, "tracks", "shop", {
        "metadata": {"annotations": {codec.FREEZE_ANNOTATION: "incident 7"}}})
    digest = world.push("1.0.0")
    world.poll(key)
    assert set(world.new_tickets()) == {subs.ticket_name("shop", "api", digest)}
    assert world.ready()["reason"] == "Found"


def test_digest_strategy_follows_a_repushed_tag(world: World) -> None:
    key = world.subscription(strategy="Digest", constraint="stable")
    world.push("latest", content=b"other")
    first = world.push("stable", content=b"one")
    world.poll(key)
    world.poll(key)
    second = world.push("stable", content=b"two")
    world.poll(key)
    names = set(world.new_tickets())
    assert names == {subs.ticket_name("shop", "api", first), subs.ticket_name("shop", "api", second)}
    assert _images(world.tickets()[subs.ticket_name("shop", "api", second)])[f"{world.reg.host}/{world.repo}"] == (
        "stable", second)


def test_newest_build_goes_by_created_not_by_push_order(world: World) -> None:
    key = world.subscription(strategy="NewestBuild", platform="linux/arm64")
    newest = world.push("b", created="2026-06-01T00:00:00Z", platforms=("linux/amd64", "linux/arm64"))
    world.push("c", created="2026-01-01T00:00:00Z", platforms=("linux/amd64", "linux/arm64"))  # pushed last, older
    world.push("a", created="2026-09-01T00:00:00Z")  # the newest build, but for linux/amd64 only
    world.poll(key)
    assert set(world.new_tickets()) == {subs.ticket_name("shop", "api", newest)}
    assert world.status()["found"]["tag"] == "b"


@pytest.mark.parametrize("case", ["unknown-repository", "registry-down", "no-matching-tag", "bad-constraint",
                                  "missing-track"])
def test_bad_input_is_a_named_condition_with_backoff_and_creates_nothing(world: World, case: str) -> None:
    world.push("1.0.0")
    spec: dict[str, Any] = {"constraint": ">=1.0.0"}
    tracks = ("shop",)
    if case == "unknown-repository":
        spec["repository"] = f"{world.reg.host}/{world.repo}-nope"
    elif case == "registry-down":
        spec["repository"] = f"127.0.0.1:{processes.free_port()}/{world.repo}"
    elif case == "no-matching-tag":
        spec["constraint"] = ">=5.0.0"
    elif case == "bad-constraint":
        spec["allowTags"] = "(unclosed"
    else:
        tracks = ("nope",)
    key = world.subscription(tracks=tracks, **spec)
    delays = [world.poll(key) for _ in range(3)]
    reason = {"unknown-repository": "RepositoryNotFound", "registry-down": "RegistryUnavailable",
              "no-matching-tag": "NoMatchingTag", "bad-constraint": "InvalidSpec", "missing-track": "TrackNotFound"}
    ready = world.ready()
    assert (ready["status"], ready["reason"]) == ("False", reason[case])
    assert world.status()["failures"] == 3 and delays == [2.0, 4.0, 8.0]
    assert not world.new_tickets()


def test_pull_secret_credentials(kube_api: k8s_client.ApiClient, crds: None, auth_registry: devregistry.Registry,
                                 repo_name: str) -> None:
    world = World(kube_api, auth_registry, repo_name)
    core = k8s_client.CoreV1Api(kube_api)

    def secret(name: str, config: str, type_: str = "kubernetes.io/dockerconfigjson") -> None:
        core.create_namespaced_secret(world.ns, k8s_client.V1Secret(
            metadata=k8s_client.V1ObjectMeta(name=name), type=type_,
            data={".dockerconfigjson": base64.b64encode(config.encode()).decode()}))

    secret("good", auth_registry.dockerconfigjson())
    secret("wrong", auth_registry.dockerconfigjson().replace(devregistry.PASSWORD, "wrong"))
    secret("opaque", auth_registry.dockerconfigjson(), type_="Opaque")
    digest = world.push("1.0.0")
    for name, reason in (("none", "Unauthorized"), ("wrong", "Unauthorized"), ("missing", "PullSecretInvalid"),
                         ("opaque", "PullSecretInvalid")):
        extra = {} if name == "none" else {"pullSecret": {"name": name}}
        key = world.subscription(name=f"sub-{name}", **extra)
        world.poll(key)
        assert world.ready(f"sub-{name}")["reason"] == reason, world.ready(f"sub-{name}")
    assert not world.new_tickets()
    key = world.subscription(name="sub-good", pullSecret={"name": "good"})
    world.poll(key)
    assert set(world.new_tickets()) == {subs.ticket_name("shop", "sub-good", digest)}


def test_the_watch_runs_a_poller_and_a_nudge_reads_at_once(world: World) -> None:
    """The threads as the daemon runs them. Polling alone (intervalSeconds 1), then intervalSeconds 60, where
    only the nudge can explain the next ticket. The times from push to ticket are printed."""
    stop = threading.Event()
    intake = world.fresh_intake()
    thread = threading.Thread(target=intake.run, args=(stop,), daemon=True)
    key = world.subscription(constraint=">=1.0.0")
    world.custom.patch_namespaced_custom_object(GROUP, VERSION, world.ns, "subscriptions", key[1],
                                                {"spec": {"intervalSeconds": 1}})
    world.push("1.0.0")
    thread.start()
    try:
        processes.poll(lambda: len(world.new_tickets()) == 1, 30, "the first poll's ticket")
        started = time.monotonic()
        world.push("1.1.0")
        processes.poll(lambda: len(world.new_tickets()) == 2, 30, "the next poll's ticket", interval=0.05)
        polled = time.monotonic() - started
        world.custom.patch_namespaced_custom_object(GROUP, VERSION, world.ns, "subscriptions", key[1],
                                                    {"spec": {"intervalSeconds": 60}})
        processes.poll(lambda: world.status().get("observedGeneration") == 3, 30, "the re-read after the change")
        started = time.monotonic()
        world.push("1.2.0")
        world.custom.patch_namespaced_custom_object(GROUP, VERSION, world.ns, "subscriptions", key[1], {
            "metadata": {"annotations": {subs.NUDGE_ANNOTATION: str(time.time())}}})
        processes.poll(lambda: len(world.new_tickets()) == 3, 30, "the nudged poll's ticket", interval=0.05)
        nudged = time.monotonic() - started
        print(f"\nskopeo push -> ticket: polling alone (intervalSeconds 1) {polled:.2f} s; "
              f"push + nudge (intervalSeconds 60) {nudged:.2f} s")
    finally:
        stop.set()
