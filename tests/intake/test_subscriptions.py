"""core.subscriptions: parsing (every field, errors naming it), the CRD schema in step with it, the plan
(one ticket per Track and change, never for a held Track, never twice), names, backoff, status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from k8sta_daemon.core import codec, model
from k8sta_daemon.core import subscriptions as subs
from k8sta_daemon.core.selection import Strategy
from tests.daemon.test_crds import _schema, _version, validate


def sub_obj(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"tracks": ["shop"], "intervalSeconds": 30,
                            "image": {"repository": "127.0.0.1:5000/shop/api", "strategy": "SemVer",
                                      "constraint": ">=1.0.0, <2.0.0", "ignoreTags": ["*-debug"],
                                      "allowTags": "^[0-9.]+$", "platform": "linux/arm64/v8",
                                      "pullSecret": {"name": "regcred"}}}
    body.update(spec)
    return {"apiVersion": "k8sta.io/v1alpha1", "kind": "Subscription",
            "metadata": {"name": "api", "namespace": "shop", "generation": 3}, "spec": body}


def test_parse_image_subscription() -> None:
    sub = subs.from_dict(sub_obj())
    assert sub.tracks == ("shop",) and sub.interval == 30 and sub.generation == 3 and sub.config is None
    assert sub.image == subs.ImageSource("127.0.0.1:5000/shop/api", subs.ImageRule(
        Strategy.SEMVER, ">=1.0.0, <2.0.0", "^[0-9.]+$", ("*-debug",)), "linux/arm64/v8", "regcred", False)


def test_parse_config_subscription_defaults_branch() -> None:
    obj = sub_obj(config={"repoURL": "https://git.example/shop.git"})
    del obj["spec"]["image"]
    sub = subs.from_dict(obj)
    assert sub.config == subs.ConfigSource("https://git.example/shop.git", "main") and sub.image is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda o: o["spec"].pop("image"), "exactly one"),
    (lambda o: o["spec"].update(config={"repoURL": "x"}), "exactly one"),
    (lambda o: o["spec"].update(tracks=[]), "names no Track"),
    (lambda o: o["spec"]["image"].update(strategy="Newest"), "strategy"),
    (lambda o: o["spec"]["image"].update(strategy="Digest", constraint=None), "Digest strategy"),
    (lambda o: o["spec"]["image"].pop("repository"), "repository"),
])
def test_malformed_subscription_names_the_field(change: Any, message: str) -> None:
    obj = sub_obj()
    change(obj)
    with pytest.raises(codec.MalformedObject, match=message):
        subs.from_dict(obj)


def test_crd_accepts_good_and_rejects_bad() -> None:
    schema = _schema("Subscription")
    assert validate(schema, sub_obj()) == []
    for field, value in [("repository", "127.0.0.1:0/shop/api"), ("repository", "127.0.0.1:65536/shop/api"),
                         ("repository", "Shop/API"), ("repository", "shop/api:1.0"), ("repository", " shop/api"),
                         ("strategy", "Alphabetical"), ("platform", "linux"), ("ignoreTags", "x")]:
        bad = copy.deepcopy(sub_obj())
        bad["spec"]["image"][field] = value
        assert validate(schema, bad), (field, value)
    for port in ("1", "5000", "65535"):
        good = sub_obj()
        good["spec"]["image"]["repository"] = f"registry.example:{port}/a/b"
        assert validate(schema, good) == []


def test_crd_enums_and_columns_in_step_with_the_core() -> None:
    image = _schema("Subscription")["properties"]["spec"]["properties"]["image"]["properties"]
    assert image["strategy"]["enum"] == [s.value for s in Strategy]
    reasons = _schema("Subscription")["properties"]["status"]["properties"]["conditions"]["items"]
    assert set(reasons["properties"]["reason"]["enum"]) == {r.value for r in subs.Reason}
    columns = {c["name"]: c["jsonPath"] for c in _version("Subscription")["additionalPrinterColumns"]}
    assert columns["Found"] == ".status.found.reference" and "Reason" in columns
    held = {c["name"]: c["jsonPath"] for c in _version("Track")["additionalPrinterColumns"]}
    assert held["Held"] == ".spec.hold.reason"


def _track(name: str, hold: str | None = None) -> model.TrackSpec:
    return model.TrackSpec("shop", name, ("dev",), hold=hold)


def test_plan_one_ticket_per_track_never_twice_never_when_held() -> None:
    obj = sub_obj(tracks=["a", "b", "c", "d"])
    sub = subs.from_dict(obj)
    key = "sha256:" + "1" * 64
    tracks = {"a": _track("a"), "b": _track("b", hold="rollback to b-1"), "c": _track("c")}
    first = subs.plan(sub, key, tracks)
    assert first.create == (("a", subs.ticket_name("a", "api", key)), ("c", subs.ticket_name("c", "api", key)))
    assert first.held == ("b",) and first.missing == ("d",)
    acted = subs.with_acted((), subs.Acted(key, "x:1", tuple(n for _, n in first.create)))
    again = subs.plan(subs.from_dict({**obj, "status": {"acted": [subs.acted_to_dict(a) for a in acted]}}), key,
                      {**tracks, "b": _track("b")})
    assert again.create == (("b", subs.ticket_name("b", "api", key)),) and len(again.done) == 2


def test_ticket_names_are_deterministic_valid_and_distinct() -> None:
    key1, key2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    assert subs.ticket_name("shop", "api", key1) == subs.ticket_name("shop", "api", key1)
    names = {subs.ticket_name(t, s, k) for t in ("shop", "eu") for s in ("api", "web") for k in (key1, key2)}
    assert len(names) == 8 and all(subs.check_name(n) for n in names)
    assert subs.check_name(subs.ticket_name("t" * 253, "api", key1))


def test_retry_delay_doubles_and_is_bounded() -> None:
    assert [subs.retry_delay(n) for n in (0, 1, 2, 3, 4)] == [2, 2, 4, 8, 16]
    assert subs.retry_delay(40) == subs.retry_delay(10_000) == subs.MAX_RETRY_SECONDS


def test_acted_is_merged_and_bounded() -> None:
    acted: tuple[subs.Acted, ...] = ()
    for i in range(100):
        acted = subs.with_acted(acted, subs.Acted(f"k{i}", tickets=(f"t{i}",)))
    assert len(acted) == subs.MAX_ACTED and acted[-1].key == "k99"
    merged = subs.with_acted(acted, subs.Acted("k99", tickets=("u",)))
    assert merged[-1].tickets == ("t99", "u")


def test_status_keeps_the_transition_time_and_what_was_found() -> None:
    sub = subs.from_dict(sub_obj())
    found = {"reference": "x:1.0.0", "tag": "1.0.0", "digest": "sha256:" + "1" * 64}
    one = subs.status_body(sub, now=100.0, source="s", ready=True, reason=subs.Reason.FOUND, message="m", found=found,
                           acted=(), failures=0)
    later = subs.from_dict({**sub_obj(), "status": one})
    two = subs.status_body(later, now=200.0, source="s", ready=True, reason=subs.Reason.FOUND, message="m",
                           found=found, acted=(), failures=0)
    assert two["conditions"][0]["lastTransitionTime"] == codec.format_time(100.0)
    bad = subs.status_body(subs.from_dict({**sub_obj(), "status": two}), now=300.0, source="s", ready=False,
                           reason=subs.Reason.UNAUTHORIZED, message="no", found=None, acted=(), failures=1)
    assert bad["found"] == found and bad["conditions"][0]["lastTransitionTime"] == codec.format_time(300.0)
    assert validate(_schema("Subscription")["properties"]["status"], bad) == []


def test_track_hold_is_read() -> None:
    obj = {"apiVersion": "k8sta.io/v1alpha1", "kind": "Track", "metadata": {"name": "shop", "namespace": "shop"},
           "spec": {"stations": ["dev"], "hold": {"reason": "rollback to shop-1", "by": "alice"}}}
    assert codec.track_from_dict(obj).hold == "rollback to shop-1"
    obj["spec"].pop("hold")
    assert codec.track_from_dict(obj).hold is None
