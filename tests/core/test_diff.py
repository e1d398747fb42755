"""``core.diff``: image pins, config commits and rendered objects compared, with a Secret's values hidden
everywhere (the human form is the CLI's; here the data, JSON included)."""

from __future__ import annotations

import json

import pytest
import yaml

from k8sta_daemon.core import diff, model

IMAGE = "ghcr.io/acme/api"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
C1, C2 = "a" * 40, "b" * 40


def iso(seconds: float) -> str:
    return f"t{seconds:.0f}"


def deployment(image: str, config_map: str = "shared-5g2k7mc9tb", replicas: int = 2) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "api", "image": image, "envFrom": [{"configMapRef": {"name": config_map}}]}]}}}}


def config_map(name: str, version: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"VERSION": version}}


def secret(**values: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "type": "Opaque",
            "stringData": dict(values)}


def side(label: str, config: str, tag: str, digest: str, *docs: dict) -> diff.Side:
    return diff.Side(label, model.Snapshot(config, (model.ImagePin(IMAGE, tag, digest),)),
                     (yaml.safe_dump_all(docs),))


def test_an_image_bump_shows_old_and_new_pins_with_digests_and_the_one_line_that_changed() -> None:
    old = side("dev now (api-1)", C1, "1.0.0", D1, deployment(f"{IMAGE}:1.0.0@{D1}"))
    new = side("api-2", C1, "1.1.0", D2, deployment(f"{IMAGE}:1.1.0@{D2}"))
    found = diff.compute(old, new)
    assert found.images == (diff.ImageChange(IMAGE, diff.Change.CHANGED, model.ImagePin(IMAGE, "1.0.0", D1),
                                             model.ImagePin(IMAGE, "1.1.0", D2)),)
    assert found.config == diff.ConfigChange(C1, C1)
    (change,) = found.objects
    assert (str(change.key), change.change, change.secret_keys) == ("Deployment.apps/api", diff.Change.CHANGED, None)
    removed = [line for line in change.diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in change.diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert removed == [f"-        image: {IMAGE}:1.0.0@{D1}"]
    assert added == [f"+        image: {IMAGE}:1.1.0@{D2}"]
    assert change.diff.startswith("--- dev now (api-1): Deployment.apps/api\n+++ api-2: Deployment.apps/api\n")


def test_a_config_change_lists_its_commits_and_a_generated_config_map_is_one_changed_object() -> None:
    old = side("staging now", C1, "1.0.0", D1, config_map("shared-5g2k7mc9tb", "1"), deployment("x"))
    new = side("api-3", C2, "1.0.0", D1, config_map("shared-7c2hm8gt9f", "2"),
               deployment("x", config_map="shared-7c2hm8gt9f"))
    commit = diff.ConfigCommit(C2, "shared config: version 2", "Ann <ann@example.org>", 100.0)
    found = diff.compute(old, new, ahead=[commit])
    assert found.images == ()
    assert found.config == diff.ConfigChange(C1, C2, ahead=(commit,))
    by_kind = {c.key.kind: c for c in found.objects}
    assert sorted(by_kind) == ["ConfigMap", "Deployment"]
    renamed = by_kind["ConfigMap"]
    assert (renamed.change, renamed.key.name, renamed.old_name) == (diff.Change.CHANGED, "shared-7c2hm8gt9f",
                                                                     "shared-5g2k7mc9tb")
    assert "-  VERSION: '1'\n+  VERSION: '2'\n" in renamed.diff
    assert "+            name: shared-7c2hm8gt9f" in by_kind["Deployment"].diff
    data = diff.to_json(found, iso)
    assert data["config"] == {"old": C1, "new": C2, "behind": [], "ahead": [
        {"sha": C2, "subject": "shared config: version 2", "author": "Ann <ann@example.org>", "time": "t100"}]}


def test_an_overlay_change_adds_removes_and_changes_objects() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}, "spec": {"ports": [{"port": 80}]}}
    old = side("dev now", C1, "1.0.0", D1, deployment("x"), service)
    new = side("dev next", C1, "1.0.0", D1, deployment("x", replicas=3), config_map("extra", "1"))
    found = diff.compute(old, new)
    assert [(str(c.key), c.change) for c in found.objects] == [
        ("ConfigMap/extra", diff.Change.ADDED), ("Deployment.apps/api", diff.Change.CHANGED),
        ("Service/api", diff.Change.REMOVED)]
    assert "-  replicas: 2\n+  replicas: 3\n" in found.objects[1].diff
    assert found.objects[0].diff == found.objects[2].diff == ""


def test_same_versions_are_an_empty_diff() -> None:
    one = side("a", C1, "1.0.0", D1, deployment("x"))
    found = diff.compute(one, diff.Side("b", one.snapshot, one.rendered))
    assert found.empty and found.objects == () and diff.to_json(found, iso)["empty"] is True


@pytest.mark.parametrize("field", ["stringData", "data"])
def test_a_changed_secret_shows_only_the_keys_whose_values_changed_never_a_value(field: str) -> None:
    def creds(**values: str) -> dict:
        doc = secret(**values)
        doc[field] = doc.pop("stringData")
        return doc

    old = side("prod now", C1, "1.0.0", D1, creds(password="hunter2-old", user="svc-keepme"))
    new = side("api-4", C1, "1.0.0", D1, creds(password="hunter2-new", user="svc-keepme", token="tok-secret"))
    found = diff.compute(old, new)
    (change,) = found.objects
    assert (change.change, change.secret_keys) == (diff.Change.CHANGED, (f"{field}.password", f"{field}.token"))
    assert "+  token: (hidden)" in change.diff  # a new key shows as a key, its value hidden
    text = json.dumps(diff.to_json(found, iso)) + change.diff + repr(found)
    for value in ("hunter2-old", "hunter2-new", "svc-keepme", "tok-secret"):
        assert value not in text


def test_an_added_or_removed_secret_lists_its_keys_and_no_values() -> None:
    old = side("a", C1, "1.0.0", D1)
    new = side("b", C1, "1.0.0", D1, secret(password="s3cr3t-value"))
    for found, change in ((diff.compute(old, new), diff.Change.ADDED), (diff.compute(new, old), diff.Change.REMOVED)):
        (obj,) = found.objects
        assert (obj.change, obj.secret_keys, obj.diff) == (change, ("stringData.password",), "")
        assert "s3cr3t-value" not in json.dumps(diff.to_json(found, iso)) + repr(found)


def test_a_secret_whose_values_did_not_change_is_not_listed() -> None:
    old = side("a", C1, "1.0.0", D1, secret(password="same"))
    assert diff.compute(old, side("b", C1, "1.0.0", D1, secret(password="same"))).objects == ()


def test_unreadable_manifests_name_the_side() -> None:
    broken = diff.Side("api-9 at dev", model.Snapshot(C1), ("a: [unclosed\n",))
    with pytest.raises(diff.UnreadableManifests, match="api-9 at dev"):
        diff.compute(broken, broken)
