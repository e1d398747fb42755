"""The app-branch contract: round trips and validation errors that name the exact field."""

from __future__ import annotations

import pytest
import yaml

from k8sta_cmp import contract, errors

VALID = {
    "apiVersion": "k8sta.io/branch/v3",
    "kind": "AppBranch",
    "ticket": {"namespace": "k8sta", "name": "api-42"},
    "track": "main-line",
    "station": "dev",
    "application": {"namespace": "argocd", "name": "dev"},
    "source": {"branch": "main", "configCommit": "a" * 40, "overlayCommit": "b" * 40},
    "kustomization": "env/dev",
    "images": [{"name": "ghcr.io/acme/api", "tag": "1.20", "digest": "sha256:" + "c" * 64},
               {"name": "localhost:5000/team/worker", "tag": "v2"}],
    "renderer": {"k8sta": "0.1.0", "kustomize": "v5.7.1", "scheme": 1},
    "rendered": {"sha256": "d" * 64},
    "sequence": 7,
}


def with_change(path: str, value: object) -> str:
    doc = yaml.safe_load(yaml.safe_dump(VALID))
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is KeyError:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return yaml.safe_dump(doc)


def test_valid_metadata_parses_with_every_field() -> None:
    meta = contract.parse_metadata(yaml.safe_dump(VALID))
    assert str(meta.ticket) == "k8sta/api-42"
    assert meta.images[0].reference == "ghcr.io/acme/api:1.20@sha256:" + "c" * 64
    assert meta.images[1].digest is None
    assert meta.images[0].tag == "1.20"  # stays a string, never the float 1.2
    assert meta.renderer == contract.RendererVersions("0.1.0", "v5.7.1", 1)


def test_v3_carries_the_branch_sequence_and_older_versions_read_as_zero() -> None:
    assert contract.parse_metadata(yaml.safe_dump(VALID)).sequence == 7
    for version in ("k8sta.io/branch/v1", "k8sta.io/branch/v2"):
        old = {k: v for k, v in VALID.items() if k != "sequence"} | {"apiVersion": version}
        assert contract.parse_metadata(yaml.safe_dump(old)).sequence == 0
        with pytest.raises(errors.ContractError, match=f"sequence: is not a field of contract {version[-2:]}"):
            contract.parse_metadata(yaml.safe_dump({**old, "sequence": 3}))


def test_round_trip_is_exact_and_deterministic() -> None:
    meta = contract.parse_metadata(yaml.safe_dump(VALID))
    text = contract.metadata_to_yaml(meta)
    assert contract.parse_metadata(text) == meta
    assert contract.metadata_to_yaml(contract.parse_metadata(text)) == text
    assert "tag: '1.20'" in text


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param("apiVersion", "k8sta.io/branch/v4",
                     "apiVersion: must be one of 'k8sta.io/branch/v1', 'k8sta.io/branch/v2', 'k8sta.io/branch/v3'",
                     id="future-version"),
        pytest.param("kind", "Other", "kind: must be 'AppBranch'", id="kind"),
        pytest.param("ticket", KeyError, "ticket: is required", id="no-ticket"),
        pytest.param("ticket.name", "Not_A_Name", "ticket.name: must be a DNS-1123 subdomain", id="ticket-name"),
        pytest.param("ticket.namespace", 7, "ticket.namespace: must be a string, got int", id="ticket-ns-type"),
        pytest.param("track", KeyError, "track: is required", id="no-track"),
        pytest.param("source.configCommit", "abc", "source.configCommit: must be a full git commit id",
                     id="short-commit"),
        pytest.param("kustomization", "../outside", "kustomization: must be a relative path inside the branch",
                     id="kustomization-escape"),
        pytest.param("kustomization", "/abs", "kustomization: must be a relative path", id="kustomization-abs"),
        pytest.param("kustomization", ".k8sta/build", "kustomization: must not point into .k8sta/",
                     id="kustomization-reserved"),
        pytest.param("images.0.digest", "sha256:xyz", "images[0].digest: must be sha256:<64 lowercase hex>",
                     id="bad-digest"),
        pytest.param("images.0.tag", "-bad", "images[0].tag: must be a valid image tag", id="bad-tag"),
        pytest.param("images.1.name", "ghcr.io/acme/api", "images[1].name: 'ghcr.io/acme/api' is pinned twice",
                     id="duplicate-image"),
        pytest.param("images.0.name", "ghcr.io/acme/api:1.0", "images[0].name: must be an image name without tag",
                     id="name-with-tag"),
        pytest.param("images", {"a": 1}, "images: must be a list", id="images-type"),
        pytest.param("renderer.scheme", "1", "renderer.scheme: must be a positive integer", id="scheme-type"),
        pytest.param("rendered.sha256", "D" * 64, "rendered.sha256: must be 64 lowercase hex digits",
                     id="digest-case"),
        pytest.param("extra", 1, "extra: is not a field of contract v3", id="unknown-field"),
    ],
)
def test_invalid_metadata_names_the_field(path: str, value: object, message: str) -> None:
    with pytest.raises(errors.ContractError) as caught:
        contract.parse_metadata(with_change(path, value))
    assert message in str(caught.value)
    assert str(caught.value).startswith(".k8sta/metadata.yaml: ")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "a: [", "!!python/object:os.system {}"],
                         ids=["empty", "list", "broken", "python-tag"])
def test_non_mapping_or_unsafe_yaml_is_a_contract_error(text: str) -> None:
    with pytest.raises(errors.ContractError):
        contract.parse_metadata(text)


def test_oversized_metadata_is_refused() -> None:
    with pytest.raises(errors.ContractError, match="larger than"):
        contract.parse_metadata("#" * (contract.MAX_METADATA_BYTES + 1))


def test_branch_files_refuses_a_digest_that_does_not_match() -> None:
    meta = contract.parse_metadata(yaml.safe_dump(VALID))
    with pytest.raises(errors.ContractError, match="do not match"):
        contract.branch_files(meta, b"kind: ConfigMap\n")
