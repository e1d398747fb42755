"""Pure rules of new tickets: image references, snapshot inheritance, names and bodies."""

from __future__ import annotations

import pytest

from k8sta_daemon.core import model
from k8sta_daemon.ops import errors, intake

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64
Pin = model.ImagePin


@pytest.mark.parametrize(("reference", "digest", "expected"), [
    ("nginx:1.27", None, Pin("nginx", "1.27")),
    ("ghcr.io/acme/api:v1.2.3", None, Pin("ghcr.io/acme/api", "v1.2.3")),
    ("localhost:5000/api:7", None, Pin("localhost:5000/api", "7")),
    ("registry.example.com:443/team/sub/api:2024-11-26_1", None, Pin("registry.example.com:443/team/sub/api",
                                                                      "2024-11-26_1")),
    (f"ghcr.io/acme/api:1.0@{D1}", None, Pin("ghcr.io/acme/api", "1.0", D1)),
    ("ghcr.io/acme/api:1.0", D1, Pin("ghcr.io/acme/api", "1.0", D1)),
    (f"ghcr.io/acme/api:1.0@{D1}", D1, Pin("ghcr.io/acme/api", "1.0", D1)),
    ("  acme/api:1.0  ", None, Pin("acme/api", "1.0")),
    ("acme/my_app.x-y:latest", None, Pin("acme/my_app.x-y", "latest")),
], ids=["short", "ghcr", "registry-port", "deep-path-port", "inline-digest", "separate-digest", "both-agree",
        "whitespace", "underscores"])
def test_parse_image(reference: str, digest: str | None, expected: model.ImagePin) -> None:
    assert intake.parse_image(reference, digest) == expected


@pytest.mark.parametrize(("reference", "digest", "message"), [
    ("nginx", None, "has no tag"),
    ("localhost:5000/api", None, "has no tag"),
    ("ghcr.io/acme/api:", None, "not a valid tag"),
    ("ghcr.io/Acme/api:1", None, "not a valid repository name"),
    ("ghcr.io/acme/api:1.0@sha256:xyz", None, "is not sha256"),
    ("ghcr.io/acme/api:1.0", "md5:abc", "is not sha256"),
    (f"ghcr.io/acme/api:1.0@{D1}", D2, "disagrees"),
    ("ghcr.io/acme/api:-bad", None, "not a valid tag"),
    (":1.0", None, "not a valid repository name"),
    ("acme/my__app:1", None, "not a valid repository name"),
    ("acme/app-:1", None, "not a valid repository name"),
    ("ghcr.io/acme/api:1.0@sha256:" + "A" * 64, None, "is not sha256"),
], ids=["no-tag", "port-no-tag", "empty-tag", "uppercase-repo", "bad-inline-digest", "bad-digest",
        "digest-mismatch", "tag-dash", "no-name", "double-separator", "trailing-separator", "uppercase-digest"])
def test_parse_image_refuses(reference: str, digest: str | None, message: str) -> None:
    with pytest.raises(errors.Invalid, match=message):
        intake.parse_image(reference, digest)


BASE = model.Snapshot("c0ffee1", (Pin("acme/api", "1.0", D1), Pin("acme/web", "2.0")))


@pytest.mark.parametrize(("base", "images", "config", "expected"), [
    (BASE, [Pin("acme/api", "1.1")], None,
     model.Snapshot("c0ffee1", (Pin("acme/api", "1.1"), Pin("acme/web", "2.0")))),
    (BASE, [Pin("acme/web", "2.1", D2)], None,
     model.Snapshot("c0ffee1", (Pin("acme/api", "1.0", D1), Pin("acme/web", "2.1", D2)))),
    (BASE, [Pin("acme/worker", "0.1")], None,
     model.Snapshot("c0ffee1", (*BASE.images, Pin("acme/worker", "0.1")))),
    (BASE, [], "deadbee", model.Snapshot("deadbee", BASE.images)),
    (BASE, [Pin("acme/web", "3"), Pin("acme/api", "4")], None,
     model.Snapshot("c0ffee1", (Pin("acme/api", "4"), Pin("acme/web", "3")))),
    (None, [Pin("acme/api", "1.0")], None, model.Snapshot(None, (Pin("acme/api", "1.0"),))),
    (None, [], "deadbee", model.Snapshot("deadbee", ())),
    (None, [], None, model.Snapshot(None, ())),
    (BASE, [], None, BASE),
    (model.Snapshot(None, ()), [Pin("a/b", "1")], "1234567", model.Snapshot("1234567", (Pin("a/b", "1"),))),
], ids=["replace-image", "replace-with-digest", "add-new-image", "new-config-keeps-images", "replace-two-keep-order",
        "no-base-image", "no-base-config", "nothing-at-all", "same-as-base", "empty-base"])
def test_inherit(base: model.Snapshot | None, images: list[model.ImagePin], config: str | None,
                 expected: model.Snapshot) -> None:
    assert intake.inherit(base, images, config) == expected


def test_inherit_refuses_the_same_image_twice() -> None:
    with pytest.raises(errors.Invalid, match="acme/api is given more than once"):
        intake.inherit(BASE, [Pin("acme/api", "1"), Pin("acme/api", "2")])


def _ticket(name: str, created: float, track: str = "api", state: model.TicketState = model.TicketState.WAITING,
            snapshot: model.Snapshot = BASE) -> model.Ticket:
    return model.Ticket(namespace="k8sta", name=name, uid=f"uid-{name}", created=created, track=track,
                        snapshot=snapshot, status=model.TicketStatus(state=state))


S1 = model.Snapshot("1111111")
S2 = model.Snapshot("2222222")
S3 = model.Snapshot("3333333")


@pytest.mark.parametrize(("tickets", "expected"), [
    ([], None),
    ([_ticket("api-1", 1, snapshot=S1)], S1),
    ([_ticket("api-1", 1, snapshot=S1), _ticket("api-2", 2, snapshot=S2)], S2),
    ([_ticket("api-2", 2, snapshot=S2), _ticket("api-1", 1, snapshot=S1)], S2),
    ([_ticket("api-1", 1, snapshot=S1), _ticket("api-2", 2, snapshot=S2, state=model.TicketState.ABANDONED)], S1),
    ([_ticket("api-1", 1, snapshot=S1), _ticket("api-2", 2, snapshot=S2, state=model.TicketState.FAILED)], S2),
    ([_ticket("api-1", 1, snapshot=S1), _ticket("api-2", 2, snapshot=S2, state=model.TicketState.SUPERSEDED)], S2),
    ([_ticket("api-1", 1, snapshot=S1), _ticket("web-1", 5, track="web", snapshot=S3)], S1),
    ([_ticket("api-b", 1, snapshot=S2), _ticket("api-a", 1, snapshot=S1)], S2),
    ([_ticket("api-1", 1, snapshot=S1, state=model.TicketState.ABANDONED)], None),
], ids=["none", "one", "newest-wins", "order-by-creation-not-list", "skip-abandoned", "failed-counts",
        "superseded-counts", "other-track-ignored", "tie-breaks-by-name", "only-abandoned"])
def test_newest_snapshot(tickets: list[model.Ticket], expected: model.Snapshot | None) -> None:
    assert intake.newest_snapshot(tickets, "api") == expected


@pytest.mark.parametrize(("existing", "expected"), [
    ([], "api-1"),
    (["api-1", "api-2"], "api-3"),
    (["api-9", "api-10", "api-2"], "api-11"),
    (["api-1-eu", "api-x", "web-7", "apix-4"], "api-1"),
    (["api-3", "api-3-eu"], "api-4"),
], ids=["first", "next", "numeric-not-lexical", "ignore-other-shapes", "children-ignored"])
def test_next_ticket_name(existing: list[str], expected: str) -> None:
    assert intake.next_ticket_name("api", existing) == expected


@pytest.mark.parametrize(("commit", "ok"), [
    ("a" * 40, True), ("0123456789abcdef" * 4, True), ("abc1234", False), ("a" * 41, False), ("a" * 63, False),
    ("main", False), ("A" * 40, False), ("HEAD~1", False),
], ids=["sha1", "sha256", "short", "41", "63", "branch", "uppercase", "revision-expression"])
def test_check_commit(commit: str, ok: bool) -> None:
    if ok:
        assert intake.check_commit(commit) == commit
    else:
        with pytest.raises(errors.Invalid, match="not a full git commit id"):
            intake.check_commit(commit)


@pytest.mark.parametrize(("name", "ok"), [
    ("api", True), ("api.eu-1", True), ("a" * 253, True), ("a" * 254, False), ("Api", False), ("-api", False),
    ("api_1", False), ("", False),
], ids=["simple", "dots-and-dashes", "longest", "too-long", "uppercase", "leading-dash", "underscore", "empty"])
def test_check_name(name: str, ok: bool) -> None:
    if ok:
        assert intake.check_name("track", name) == name
    else:
        with pytest.raises(errors.Invalid, match="not a valid Kubernetes name"):
            intake.check_name("track", name)


def test_ticket_body_is_a_complete_ticket_manifest() -> None:
    body = intake.ticket_body("k8sta", "api-3", "api", model.Snapshot(None, (Pin("acme/api", "1", D1),
                                                                              Pin("acme/web", "2"))),
                              1764150000.25, {intake.SOURCE_ANNOTATION: "alice via k8sta CLI"})
    assert body == {
        "apiVersion": "k8sta.io/v1alpha1",
        "kind": "Ticket",
        "metadata": {"name": "api-3", "namespace": "k8sta", "labels": {"k8sta.io/track": "api"},
                     "annotations": {"k8sta.io/created-at": "2025-11-26T09:40:00.250000Z",
                                     "k8sta.io/created-by": "alice via k8sta CLI"}},
        "spec": {"track": "api", "snapshot": {"images": [{"name": "acme/api", "tag": "1", "digest": D1},
                                                         {"name": "acme/web", "tag": "2"}]}},
    }
    with_config = intake.ticket_body("k8sta", "api-4", "api", model.Snapshot("c" * 40), 1764150000.0)
    assert with_config["spec"]["snapshot"] == {"configCommit": "c" * 40, "images": []}
    assert with_config["metadata"]["annotations"] == {"k8sta.io/created-at": "2025-11-26T09:40:00Z"}


def test_ticket_body_reads_back_as_the_same_ticket() -> None:
    from k8sta_daemon.core import codec

    snapshot = model.Snapshot("c" * 40, (Pin("acme/api", "1", D1), Pin("acme/web", "2")))
    body = intake.ticket_body("k8sta", "api-3", "api", snapshot, 1764150000.25)
    body["metadata"] |= {"uid": "u1", "creationTimestamp": "2025-11-26T09:40:00Z"}
    ticket = codec.ticket_from_dict(body)
    assert (ticket.snapshot, ticket.track, ticket.created) == (snapshot, "api", 1764150000.25)


@pytest.mark.parametrize(("snapshot", "expected"), [
    (model.Snapshot(None), "config (source tip)"),
    (model.Snapshot("c0ffee1", (Pin("acme/api", "1"),)), "config c0ffee1, acme/api:1"),
    (model.Snapshot("a" * 40, (Pin("acme/api", "1", D1),)), f"config {'a' * 12}, acme/api:1@{D1[:19]}"),
])
def test_describe_snapshot(snapshot: model.Snapshot, expected: str) -> None:
    assert intake.describe_snapshot(snapshot) == expected


@pytest.mark.parametrize(("snapshot", "ok"), [
    (model.Snapshot("c" * 40), True), (model.Snapshot("c" * 40, (Pin("a/b", "1"),)), True),
    (model.Snapshot(None, (Pin("a/b", "1"),)), False), (model.Snapshot(None), False),
], ids=["config-only", "config-and-image", "image-only", "nothing"])
def test_require_config(snapshot: model.Snapshot, ok: bool) -> None:
    if ok:
        assert intake.require_config(snapshot, "api") is snapshot
    else:
        with pytest.raises(errors.Refused, match="track api has no ticket yet to inherit a config commit"):
            intake.require_config(snapshot, "api")
