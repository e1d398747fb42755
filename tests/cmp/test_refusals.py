"""Hostile inputs: the plugin never reaches the network, never runs user code, never reads outside."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from k8sta_cmp import contract

from .conftest import run_cmp, write

FUNCTION = """\
apiVersion: example.com/v1
kind: Evil
metadata:
  name: evil
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./evil.sh
"""
BUILTIN = "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {a: b}\nfieldSpecs: []\n"

HOSTILE_KUSTOMIZATIONS = [
    pytest.param("resources: [https://github.com/acme/evil//base?ref=main]", "remote input", id="url-resource"),
    pytest.param("resources: [github.com/acme/evil/base?ref=v1]", "remote input", id="github-shorthand"),
    pytest.param("resources: [git@github.com:acme/evil.git]", "remote input", id="ssh-git"),
    pytest.param("resources: [ssh://git@example.com/evil.git]", "remote input", id="ssh-url"),
    pytest.param("bases: [https://example.com/base.tar.gz]", "remote input", id="remote-base"),
    pytest.param("components: [https://example.com/component]", "remote input", id="remote-component"),
    pytest.param("resources: [example.com/acme/thing]", "not found in the checkout (remote resources are refused)",
                 id="unresolvable-is-remote"),
    pytest.param("resources: [/etc/kubernetes]", "absolute path", id="absolute"),
    pytest.param("resources: [../../../../../../etc]", "escapes the checkout", id="dotdot-escape"),
    pytest.param("resources: [../../base]\nhelmCharts:\n- name: x\n  repo: https://charts.example.com",
                 "helmCharts (helm chart inflation", id="helm-charts"),
    pytest.param("helmChartInflationGenerator:\n- chartName: x", "helmChartInflationGenerator", id="helm-generator"),
    pytest.param("resources: [../../base]\ntransformers: [fn.yaml]", "KRM function", id="krm-function-file"),
    pytest.param("resources: [../../base]\ntransformers:\n- |\n" + textwrap.indent(FUNCTION, "  "),
                 "KRM function", id="krm-function-inline"),
    pytest.param("resources: [../../base]\ngenerators: [plugin.yaml]", "is not a kustomize builtin",
                 id="external-plugin"),
    pytest.param("resources: [../../base]\nvalidators: [../../base]", "plugin configuration directories",
                 id="plugin-directory"),
    pytest.param("resources: [../../base]\nconfigMapGenerator:\n- name: x\n  files: [k=../../../../../etc/passwd]",
                 "escapes the checkout", id="generator-file-escape"),
    pytest.param("resources: [../../base]\nsecretGenerator:\n- name: x\n  envs: [/etc/environment]", "absolute path",
                 id="generator-env-absolute"),
    pytest.param("resources: [../../base]\npatches:\n- path: ../../../../../../tmp/p.yaml", "escapes the checkout",
                 id="patch-escape"),
    pytest.param("resources: [../../base]\nopenapi:\n  path: https://example.com/schema.json", "remote input",
                 id="remote-openapi"),
    pytest.param("resources: [../../base]\ncrds: [https://example.com/crd.json]", "remote input", id="remote-crd"),
]


@pytest.mark.parametrize(("kustomization", "message"), HOSTILE_KUSTOMIZATIONS)
def test_hostile_kustomization_is_refused(branch: Path, kustomization: str, message: str) -> None:
    write(branch, "env/dev/fn.yaml", FUNCTION)
    write(branch, "env/dev/plugin.yaml", "apiVersion: example.com/v1\nkind: Whatever\nmetadata: {name: p}\n")
    write(branch, "env/dev/kustomization.yaml", kustomization + "\n")
    done = run_cmp(branch)
    assert done.returncode == 1
    assert done.stdout == b""
    line = done.stderr.decode()
    assert line.startswith("k8sta: refused: env/dev/kustomization.yaml") and line.count("\n") == 1, line
    assert message in line


def test_hostile_nested_base_is_found(branch: Path) -> None:
    write(branch, "base/kustomization.yaml", "resources:\n- api.yaml\n- https://example.com/evil.yaml\n")
    done = run_cmp(branch)
    assert done.returncode == 1
    assert done.stderr.startswith(b"k8sta: refused: base/kustomization.yaml: resources[1]: remote input")


def test_builtin_transformer_is_allowed(branch: Path) -> None:
    write(branch, "env/dev/label.yaml", BUILTIN)
    write(branch, "env/dev/kustomization.yaml", "resources: [../../base]\ntransformers: [label.yaml]\n")
    done = run_cmp(branch, "verify")
    # Allowed by the checks; the changed input no longer matches the recorded digest, which is the point.
    assert b"refused" not in done.stderr and b"does not match recorded" in done.stderr


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../etc"], ids=["absolute", "relative"])
def test_symlink_escaping_the_checkout_is_refused(branch: Path, target: str) -> None:
    os.symlink(target, branch / "base" / "passwd.yaml")
    write(branch, "base/kustomization.yaml", "resources:\n- api.yaml\n- passwd.yaml\n")
    done = run_cmp(branch)
    assert done.returncode == 1
    assert done.stderr == b"k8sta: refused: symlink base/passwd.yaml points outside the checkout\n"


def test_symlinked_directory_escaping_is_refused(branch: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "kustomization.yaml", "resources: []\n")
    os.symlink(outside, branch / "env" / "shared")
    done = run_cmp(branch)
    assert done.returncode == 1 and b"symlink env/shared points outside" in done.stderr


def test_symlink_inside_the_checkout_is_allowed(branch: Path) -> None:
    os.symlink("api.yaml", branch / "base" / "alias.yaml")
    assert run_cmp(branch).returncode == 0


def test_inputs_over_the_size_cap_are_refused(branch: Path) -> None:
    write(branch, "base/big.txt", "x" * 5000)
    done = run_cmp(branch, env={"K8STA_MAX_INPUT_BYTES": "4096"})
    assert done.returncode == 1
    assert done.stderr == (b"k8sta: refused: inputs larger than 4096 bytes (0.0 MiB, K8STA_MAX_INPUT_BYTES; by "
                           b"default K8STA_CMP_TMP_BYTES / (3 x K8STA_CMP_RENDERS), what fits the sidecar's /tmp)\n")


def test_too_many_files_are_refused(branch: Path) -> None:
    for i in range(10):
        write(branch, f"base/extra/{i}.txt", "x")
    done = run_cmp(branch, env={"K8STA_MAX_INPUT_FILES": "8"})
    assert done.returncode == 1 and b"more than 8 files" in done.stderr


def test_hand_edited_wrapper_is_refused(branch: Path) -> None:
    wrapper = branch / ".k8sta/kustomization.yaml"
    wrapper.write_text(wrapper.read_text().replace('newTag: "1.4.2"', 'newTag: "6.6.6"'))
    done = run_cmp(branch)
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr == (b"k8sta: ticket k8sta/api-42: .k8sta/kustomization.yaml does not match the pins in "
                           b".k8sta/metadata.yaml; the branch was edited outside K8sTA\n")


def test_missing_wrapper_is_refused(branch: Path) -> None:
    (branch / ".k8sta/kustomization.yaml").unlink()
    done = run_cmp(branch)
    assert done.returncode == 1 and b".k8sta/kustomization.yaml is missing" in done.stderr


def test_refusal_stops_kustomize_before_its_output_is_used(branch: Path, tmp_path: Path) -> None:
    """A refusal wins and leaves nothing behind (kustomize, which starts only after the checks, never ran)."""
    write(branch, "env/dev/kustomization.yaml", "resources: [../../base, https://example.com/x.yaml]\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = run_cmp(branch, env={"TMPDIR": str(scratch)})
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.startswith(b"k8sta: refused: env/dev/kustomization.yaml: resources[1]: remote input")
    assert list(scratch.iterdir()) == []  # kustomize's private output files are gone


def test_metadata_kustomization_must_be_a_local_directory(branch: Path) -> None:
    meta = branch / ".k8sta/metadata.yaml"
    meta.write_text(meta.read_text().replace("kustomization: env/dev", "kustomization: env/missing"))
    parsed = contract.read_metadata(branch)
    (branch / contract.WRAPPER_PATH).write_text(contract.wrapper_kustomization("env/missing", parsed.images))
    done = run_cmp(branch)
    assert done.returncode == 1
    assert b"'env/missing' is not a directory in the checkout" in done.stderr


def test_metadata_symlink_is_not_followed(branch: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.yaml"
    target.write_bytes((branch / ".k8sta/metadata.yaml").read_bytes())
    (branch / ".k8sta/metadata.yaml").unlink()
    os.symlink(target, branch / ".k8sta/metadata.yaml")
    done = run_cmp(branch)
    assert done.returncode == 1 and b"metadata.yaml not found" in done.stderr
