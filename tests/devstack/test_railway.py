"""The sample railway's config renders the way the daemon renders it (the plugin's own render path and
the pinned kustomize): the ticket's image pin reaches the Deployment and the Rollout, and a shared
config change reaches every pod template (so it is a real rollout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import yaml

from k8sta_cmp import contract, render, safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_devstack import railway


def rendered(tmp_path: Path, kustomize: Kustomize, files: dict[str, bytes], env: str,
             tag: str = "1.2.3") -> dict[str, dict[str, Any]]:
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(content)
    out = render.render(tmp_path, f"env/{env}", [contract.ImagePin(railway.IMAGE, tag)], kustomize,
                        safety.Limits())
    return {doc["kind"]: doc for doc in yaml.safe_load_all(out.manifests) if doc}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


def test_the_pin_reaches_the_deployment_and_it_reads_the_hashed_shared_config(tmp_path: Path,
                                                                              kustomize: Kustomize) -> None:
    docs = rendered(tmp_path, kustomize, {**railway.base("1"), **railway.overlay("dev")}, "dev")
    assert set(docs) == {"ConfigMap", "Service", "Deployment"}
    (container,) = containers(docs["Deployment"])
    assert container["image"] == f"{railway.IMAGE}:1.2.3"
    shared = docs["ConfigMap"]["metadata"]["name"]
    assert shared.startswith("shared-") and container["envFrom"] == [{"configMapRef": {"name": shared}}]


def test_the_pin_and_the_shared_config_reach_the_canary_rollout(tmp_path: Path, kustomize: Kustomize) -> None:
    one = rendered(tmp_path / "1", kustomize, {**railway.base("1"), **railway.canary_overlay("prod", "http://x")},
                   "prod")
    two = rendered(tmp_path / "2", kustomize, {**railway.base("2"), **railway.canary_overlay("prod", "http://x")},
                   "prod")
    assert set(one) == {"ConfigMap", "Service", "Rollout", "AnalysisTemplate"}
    for docs in (one, two):
        (container,) = containers(docs["Rollout"])
        assert container["image"] == f"{railway.IMAGE}:1.2.3"
        assert container["envFrom"] == [{"configMapRef": {"name": docs["ConfigMap"]["metadata"]["name"]}}]
    assert one["ConfigMap"]["metadata"]["name"] != two["ConfigMap"]["metadata"]["name"]
    assert [list(step) for step in one["Rollout"]["spec"]["strategy"]["canary"]["steps"]] == [
        ["setWeight"], ["pause"], ["analysis"]]
    assert one["AnalysisTemplate"]["spec"]["metrics"][0]["provider"]["web"]["url"] == "http://x"


def test_an_unschedulable_overlay_selects_no_node_and_has_a_short_deadline(tmp_path: Path,
                                                                          kustomize: Kustomize) -> None:
    docs = rendered(tmp_path, kustomize, {**railway.base(), **railway.overlay("bad", unschedulable=True)}, "bad")
    spec = docs["Deployment"]["spec"]
    assert spec["template"]["spec"]["nodeSelector"] == {railway.NO_NODE_LABEL: "true"}
    assert spec["progressDeadlineSeconds"] == 10


def test_the_analysis_endpoint_answers_the_verdict_its_holder_sets() -> None:
    endpoint = railway.AnalysisEndpoint("pass")
    try:
        assert requests.get(endpoint.url, timeout=5).json() == {"verdict": "pass"}
        endpoint.verdict = "fail"
        assert requests.get(endpoint.url, timeout=5).json() == {"verdict": "fail"}
        assert endpoint.requests == 2
        assert endpoint.url.startswith("http://127.0.0.1:")
    finally:
        endpoint.close()
