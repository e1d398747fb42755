"""``k8sta diff`` on the real stack (issue 20, item 2): tickets ridden by the running daemon through Argo CD,
then diffed from their app branches: an image bump, a shared-config change, and an overlay change to a
Secret whose values are never shown (human or JSON); and two Stations compared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from k8sta_cmp.kustomize import Kustomize
from k8sta_devstack.railway import IMAGE, Railway, base, overlay
from k8sta_devstack.stack import Stack

pytestmark = pytest.mark.stack

OLD_PASSWORD, NEW_PASSWORD = "e2e-old-pass-3141", "e2e-new-pass-2718"  # never printed


def with_secret(env: str, password: str) -> dict[str, bytes]:
    files = overlay(env)
    kustomization = yaml.safe_load(files[f"env/{env}/kustomization.yaml"])
    kustomization["resources"].append("creds.yaml")
    return {**files, f"env/{env}/kustomization.yaml": yaml.safe_dump(kustomization).encode(),
            f"env/{env}/creds.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "Secret",
                                                     "metadata": {"name": "creds"},
                                                     "stringData": {"password": password}}).encode()}


def k8sta(stack: Stack, rail: Railway, cache: Path, *argv: str) -> str:
    env = {**os.environ, "K8STA_CACHE": str(cache), "NO_COLOR": "1",
           "K8STA_KUSTOMIZE": str(Kustomize.locate(dict(os.environ)).path)}
    done = subprocess.run([str(Path(sys.executable).parent / "k8sta"), "--kubeconfig", str(stack.kubeconfig),
                           "-n", rail.namespace, *argv], capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def ride(rail: Railway, ticket: str, config: str, tag: str) -> None:
    rail.ticket(ticket, "line", config, tag)
    rail.wait(f"{ticket} Completed", lambda: rail.state(ticket) == "Completed")
    for station in ("dev", "staging"):
        rail.wait(f"{station} runs {ticket}",
                  lambda s=station: (rail.get("stations", s).get("status") or {}).get("ticket") == ticket, timeout=60)


def edits(text: str, sign: str) -> list[str]:
    """The lines a unified diff in ``text`` removes (``-``) or adds (``+``), without their indentation."""
    return [line[7:].strip() for line in text.splitlines() if line.startswith(f"      {sign}")
            and not line.startswith(f"      {sign * 3}")]


def changed(out: str, sign: str = "~") -> list[str]:
    return [line.strip() for line in out.splitlines() if line.startswith(f"  {sign} ")]


def test_diff_of_an_image_bump_a_shared_config_change_and_an_overlay_change_to_a_secret(
        railway: Railway, stack: Stack, tmp_path: Path) -> None:
    cache = tmp_path / "cli-cache"
    c1 = railway.commit({**base("1"), **with_secret("dev", OLD_PASSWORD), **with_secret("staging", OLD_PASSWORD)},
                        "first config")
    for env in ("dev", "staging"):
        railway.application(env)
        railway.station(env, [env])
    railway.track("line", ["dev", "staging"])
    ride(railway, "api-1", c1, "1.0.0")

    # an image bump: the pin and the Deployment's image, nothing else
    ride(railway, "api-2", c1, "1.1.0")
    out = k8sta(stack, railway, cache, "diff", "api-2", "--station", "dev")
    assert out.splitlines()[0] == "diff dev before (api-1) -> api-2 at dev"
    assert changed(out) == [f"~ {IMAGE}  1.0.0 (no digest) -> 1.1.0 (no digest)", "~ Deployment.apps/api"]
    assert edits(out, "-") == [f"image: {IMAGE}:1.0.0"] and edits(out, "+") == [f"image: {IMAGE}:1.1.0"]
    assert f"config: (unchanged) {c1}" in out

    # a shared-config change: its commit (subject, author), the generated ConfigMap changed
    c2 = railway.commit(base("2"), "shared config: version 2")
    ride(railway, "api-3", c2, "1.1.0")
    out = k8sta(stack, railway, cache, "diff", "api-3")  # default: the last Station it arrived at
    assert out.splitlines()[0] == "diff staging before (api-2) -> api-3 at staging"
    assert f"config: {c1} -> {c2}" in out
    assert f"  + {c2[:12]}  shared config: version 2  (K8sTA devstack <devstack@k8sta.invalid>, " in out
    assert [line.split(" (was")[0] for line in changed(out)][:2] == [
        changed(out)[0].split(" (was")[0], "~ Deployment.apps/api"]
    assert changed(out)[0].startswith("~ ConfigMap/shared-") and "VERSION: '1'" in edits(out, "-")

    # an overlay change to a Secret at dev: keys only, in every form
    c3 = railway.commit(with_secret("dev", NEW_PASSWORD), "dev: rotate the password")
    ride(railway, "api-4", c3, "1.1.0")
    out = k8sta(stack, railway, cache, "diff", "api-4", "--station", "dev")
    assert changed(out) == ["~ Secret/creds"]
    assert "      data changed (keys: stringData.password)" in out
    as_json = k8sta(stack, railway, cache, "diff", "api-4", "--station", "dev", "-o", "json")
    (secret,) = json.loads(as_json)["objects"]
    assert (secret["object"], secret["secretKeys"]) == ("Secret/creds", ["stringData.password"])
    between = k8sta(stack, railway, cache, "diff", "--from", "dev", "--to", "staging", "-o", "yaml")
    found = yaml.safe_load(between)  # the same ticket runs at both; their overlays' Secrets differ
    assert (found["images"], found["config"]["old"], found["config"]["new"]) == ([], c3, c3)
    assert [(o["object"], o["secretKeys"]) for o in found["objects"]] == [("Secret/creds", ["stringData.password"])]
    for text in (out, as_json, between):
        assert OLD_PASSWORD not in text and NEW_PASSWORD not in text
