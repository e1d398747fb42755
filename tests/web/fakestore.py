"""An in-memory stand-in for ``ops.store.Store`` holding Subscriptions, for the webhook views without a
cluster. It answers only what a webhook may do (list Subscriptions, nudge one): any other call, such as
creating a ticket or recording an Event, fails the test that made it."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from flask import Flask

from k8sta_daemon.core import codec
from k8sta_daemon.core import subscriptions as subs
from k8sta_daemon.web import kubeclient


def subscription(name: str, repository: str, tracks: Iterable[str] = ("api",), namespace: str = "k8sta",
                 ) -> dict[str, Any]:
    """A Subscription object watching image ``repository`` for ``tracks``."""
    return {"apiVersion": codec.API_VERSION, "kind": "Subscription",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"tracks": list(tracks), "image": {"repository": repository}}}


class FakeStore:
    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects = [copy.deepcopy(obj) for obj in objects]
        self.calls: list[tuple[str, ...]] = []

    def subscriptions(self, namespace: str) -> list[dict[str, Any]]:
        self.calls.append(("subscriptions", namespace))
        return [copy.deepcopy(o) for o in self.objects if o["metadata"]["namespace"] == namespace]

    def nudge_subscription(self, namespace: str, name: str, stamp: str) -> None:
        self.calls.append(("nudge_subscription", namespace, name))
        obj = next(o for o in self.objects if (o["metadata"]["namespace"], o["metadata"]["name"]) == (namespace, name))
        obj["metadata"].setdefault("annotations", {})[subs.NUDGE_ANNOTATION] = stamp

    def nudged(self) -> dict[str, str]:
        """``namespace/name`` -> the nudge annotation, of every nudged Subscription."""
        found = {}
        for obj in self.objects:
            meta = obj["metadata"]
            if subs.NUDGE_ANNOTATION in meta.get("annotations", {}):
                found[f"{meta['namespace']}/{meta['name']}"] = meta["annotations"][subs.NUDGE_ANNOTATION]
        return found

    # What /metrics reads for the delivery figures (no ticket here): reads, never writes.
    def rides(self, namespace: str | None) -> list[Any]:
        return []

    def tracks(self, namespace: str | None) -> list[Any]:
        return []

    def stations(self, namespace: str | None) -> list[Any]:
        return []

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a webhook called Store.{name}: webhooks only list and nudge Subscriptions")


def install(app: Flask, store: FakeStore) -> FakeStore:
    """Make ``app``'s views use ``store`` instead of the Kubernetes API."""
    app.extensions[kubeclient.EXTENSION].store = lambda: store
    return store
