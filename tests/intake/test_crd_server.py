"""The Subscription CRD on the real API server: its CEL rules and patterns refuse what the poller could not
use (422, nothing stored), and the printer columns show what was found."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client as k8s_client

from tests.cli.cluster import GROUP, VERSION, Cluster

pytestmark = pytest.mark.stack


@pytest.mark.parametrize(("spec", "message"), [
    ({"tracks": ["shop"]}, "exactly one source"),
    ({"tracks": ["shop"], "image": {"repository": "a/b"}, "config": {"repoURL": "x"}}, "exactly one source"),
    ({"tracks": ["shop"], "image": {"repository": "a/b", "strategy": "Digest"}}, "Digest strategy"),
    ({"tracks": ["shop"], "image": {"repository": "a/b", "constraint": "~1.2"}}, "SemVer constraint"),
    ({"tracks": ["shop"], "image": {"repository": "a:0/b"}}, "repository"),
    ({"tracks": ["shop"], "image": {"repository": "a:65536/b"}}, "repository"),
    ({"tracks": ["shop"], "image": {"repository": "a/b:1.0"}}, "repository"),
    ({"tracks": [], "image": {"repository": "a/b"}}, "tracks"),
    ({"tracks": ["shop"], "image": {"repository": "a/b", "strategy": "Newest"}}, "strategy"),
])
def test_invalid_subscriptions_are_refused(kube_api: k8s_client.ApiClient, crds: None, spec: dict[str, Any],
                                           message: str) -> None:
    cluster = Cluster(kube_api, "subcrd")
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
            "metadata": {"name": "bad", "namespace": cluster.namespace}, "spec": spec}
    with pytest.raises(k8s_client.ApiException) as caught:
        cluster.custom.create_namespaced_custom_object(GROUP, VERSION, cluster.namespace, "subscriptions", body)
    assert caught.value.status == 422 and message in caught.value.body


def test_printer_columns_show_what_was_found(kube_api: k8s_client.ApiClient, crds: None) -> None:
    cluster = Cluster(kube_api, "subcrd")
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Subscription",
            "metadata": {"name": "api", "namespace": cluster.namespace},
            "spec": {"tracks": ["shop"], "image": {"repository": "registry.example:5000/shop/api",
                                                   "constraint": ">=1.0.0, <2.0.0"}}}
    obj = cluster.custom.create_namespaced_custom_object(GROUP, VERSION, cluster.namespace, "subscriptions", body)
    assert obj["spec"]["intervalSeconds"] == 300 and obj["spec"]["image"]["strategy"] == "SemVer"  # defaults
    obj["status"] = {"found": {"reference": "registry.example:5000/shop/api:1.2.0", "tag": "1.2.0"},
                     "conditions": [{"type": "Ready", "status": "True", "reason": "Found", "message": "m"}]}
    cluster.custom.replace_namespaced_custom_object_status(GROUP, VERSION, cluster.namespace, "subscriptions", "api",
                                                           obj)
    url = f"{kube_api.configuration.host}/apis/{GROUP}/{VERSION}/namespaces/{cluster.namespace}/subscriptions"
    answer = kube_api.call_api("GET", url, header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    answer.read()
    table = json.loads(answer.data)
    columns = [c["name"] for c in table["columnDefinitions"]]
    row = dict(zip(columns, table["rows"][0]["cells"], strict=True))
    assert row["Found"] == "registry.example:5000/shop/api:1.2.0" and row["Reason"] == "Found"
