"""The plugin end to end through its console script, the way argocd-cmp-server runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from k8sta_cmp import contract

from .conftest import DIGEST, run_cmp, seal, write


def docs(out: bytes) -> list[dict]:
    return [d for d in yaml.safe_load_all(out) if d]


def test_generate_prints_only_the_pinned_manifests(branch: Path) -> None:
    done = run_cmp(branch)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    objects = docs(done.stdout)
    images = {o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["image"] for o in objects}
    assert images == {"api": f"ghcr.io/acme/api:1.4.2@{DIGEST}", "worker": "ghcr.io/acme/worker:7"}
    assert {o["metadata"]["namespace"] for o in objects} == {"dev"}
    assert done.stdout == (branch / contract.RENDERED_PATH).read_bytes()
    meta = contract.read_metadata(branch)
    wrapper = (branch / contract.WRAPPER_PATH).read_text()
    assert wrapper == contract.wrapper_kustomization(meta.kustomization, meta.images)
    assert "- ../env/dev\n" in wrapper and f"  digest: {DIGEST}\n" in wrapper


def test_verify_prints_a_summary(branch: Path) -> None:
    done = run_cmp(branch, "verify")
    sha = contract.read_metadata(branch).rendered_sha256
    assert done.returncode == 0
    assert done.stdout.decode().strip() == f"verified: ticket k8sta/api-42 station dev sha256 {sha}"


def test_edited_input_fails_naming_ticket_and_both_digests(branch: Path) -> None:
    recorded = contract.read_metadata(branch).rendered_sha256
    path = branch / "base/api.yaml"
    path.write_text(path.read_text().replace("name: main", "name: evil"))
    done = run_cmp(branch)
    assert done.returncode == 1
    assert done.stdout == b""
    line = done.stderr.decode()
    assert line.count("\n") == 1 and "Traceback" not in line
    assert "ticket k8sta/api-42" in line and f"recorded {recorded}" in line
    assert contract.sha256_hex(b"") not in line
    actual = line.split("rendered sha256 ")[1].split()[0]
    assert len(actual) == 64 and actual != recorded


def test_edited_paper_trail_fails(branch: Path) -> None:
    (branch / contract.RENDERED_PATH).write_text("kind: Nothing\n")
    done = run_cmp(branch)
    assert done.returncode == 1
    assert b".k8sta/rendered.yaml has sha256" in done.stderr
    assert b"edited outside K8sTA" in done.stderr


def test_missing_paper_trail_fails(branch: Path) -> None:
    (branch / contract.RENDERED_PATH).unlink()
    done = run_cmp(branch)
    assert done.returncode == 1 and b"rendered.yaml is missing" in done.stderr


def _set_recorded_kustomize(root: Path, version: str) -> None:
    path = root / contract.METADATA_PATH
    path.write_text(path.read_text().replace("kustomize: v5.7.1", f"kustomize: {version}"))


def test_other_renderer_version_renders_with_a_warning(branch: Path) -> None:
    _set_recorded_kustomize(branch, "v5.6.0")
    path = branch / "base/api.yaml"  # also changed: unverifiable, so it must still render
    path.write_text(path.read_text().replace("name: main", "name: changed"))
    done = run_cmp(branch)
    assert done.returncode == 0
    assert b"name: changed" in done.stdout
    assert done.stderr.decode().startswith("k8sta: warning: ticket k8sta/api-42: branch recorded kustomize v5.6.0")
    assert b"rendered without verifying" in done.stderr


def test_strict_versions_parameter_refuses_other_versions(branch: Path) -> None:
    _set_recorded_kustomize(branch, "v5.6.0")
    done = run_cmp(branch, env={"ARGOCD_ENV_K8STA_STRICT_VERSIONS": "true"})
    assert done.returncode == 1 and b"K8STA_STRICT_VERSIONS is on" in done.stderr


def test_ordinary_directory_is_not_a_k8sta_branch(tmp_path: Path) -> None:
    write(tmp_path, "kustomization.yaml", "resources: []\n")
    done = run_cmp(tmp_path)
    assert done.returncode == 1
    assert done.stderr == b"k8sta: .k8sta/metadata.yaml not found: this is not a K8sTA app branch " \
                          b"(written only by K8sTA's daemon)\n"


def test_empty_render_is_an_error_not_empty_output(tmp_path: Path, kustomize) -> None:
    root = tmp_path / "b"
    write(root, "base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    write(root, "base/kustomization.yaml", "resources: [cm.yaml]\n")
    write(root, "env/dev/kustomization.yaml", "resources: [../../base]\n")
    seal(root, kustomize, images=())
    write(root, "base/kustomization.yaml", "resources: []\n")
    done = run_cmp(root)
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr == b"k8sta: kustomization env/dev rendered no objects; refusing empty output " \
                          b"(with prune it would delete everything)\n"


def test_kustomize_error_is_one_line(branch: Path) -> None:
    write(branch, "base/api.yaml", "apiVersion: v1\nmetadata: {name: no-kind}\n")
    done = run_cmp(branch)
    assert done.returncode == 1
    assert done.stderr.count(b"\n") == 1
    assert done.stderr.startswith(b"k8sta: kustomize build failed: ")
    assert b"api.yaml" in done.stderr
    assert str(branch).encode() not in done.stderr  # paths are shown relative to the checkout


def test_unknown_k8sta_parameter_is_an_error(branch: Path) -> None:
    done = run_cmp(branch, env={"ARGOCD_ENV_K8STA_STRICT_VERSION": "true", "ARGOCD_ENV_OTHER": "x"})
    assert done.returncode == 1
    assert b"unknown plugin parameter K8STA_STRICT_VERSION" in done.stderr


def test_branch_for_another_application_is_refused(branch: Path) -> None:
    done = run_cmp(branch, env={"ARGOCD_APP_NAME": "prod", "ARGOCD_APP_REVISION": "f" * 40})
    assert done.returncode == 1
    assert b"written for Application argocd/dev (ticket k8sta/api-42), rendered for argocd/prod" in done.stderr
    assert b"at revision ffffffffffff" in done.stderr


def test_application_names_in_either_argo_cd_form_are_accepted(branch: Path) -> None:
    for name in ("dev", "argocd_dev"):
        assert run_cmp(branch, env={"ARGOCD_APP_NAME": name}).returncode == 0


def test_source_path_other_than_root_is_refused(branch: Path) -> None:
    done = run_cmp(branch, env={"ARGOCD_APP_SOURCE_PATH": "env/dev"})
    assert done.returncode == 1 and b"source path must be '.'" in done.stderr


def test_env_command_reports_the_build_environment(branch: Path) -> None:
    done = run_cmp(branch, "env", env={
        "ARGOCD_APP_NAME": "dev", "ARGOCD_APP_NAMESPACE": "apps", "ARGOCD_APP_REVISION": "abc",
        "ARGOCD_APP_SOURCE_PATH": ".", "ARGOCD_APP_SOURCE_REPO_URL": "file:///repo", "KUBE_VERSION": "1.34",
        "ARGOCD_ENV_K8STA_STRICT_VERSIONS": "yes",
    })
    lines = dict(line.split("=", 1) for line in done.stdout.decode().splitlines())
    assert lines == {
        "app_name": "dev", "app_namespace": "apps", "revision": "abc", "source_path": ".",
        "repo_url": "file:///repo", "kube_version": "1.34", "strict_versions": "True", "render_timeout": "120.0",
        "argocd_namespace": "argocd",
    }


def test_invalid_operator_settings_are_reported(branch: Path) -> None:
    for env, message in [({"K8STA_MAX_INPUT_BYTES": "lots"}, b"K8STA_MAX_INPUT_BYTES must be a positive integer"),
                         ({"K8STA_RENDER_TIMEOUT": "0"}, b"K8STA_RENDER_TIMEOUT must be a positive number"),
                         ({"K8STA_KUSTOMIZE": "/nonexistent/kustomize"}, b"pinned kustomize v5.7.1 not found")]:
        done = run_cmp(branch, env=env)
        assert done.returncode == 1 and message in done.stderr, (env, done.stderr)


def test_usage_error_exits_2(branch: Path) -> None:
    done = run_cmp(branch, "frobnicate")
    assert done.returncode == 2


def test_kustomize_on_path_is_never_used(branch: Path, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "kustomize"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'kind: Fake'\n")
    fake.chmod(0o755)
    done = run_cmp(branch, env={"PATH": f"{fake.parent}:/usr/bin:/bin"})
    assert done.returncode == 0 and b"Fake" not in done.stdout


def test_git_is_not_needed_by_the_render(branch: Path) -> None:
    """kustomize runs with an empty PATH, so it cannot start git to fetch anything."""
    assert subprocess.run(["git", "--version"], capture_output=True, check=False).returncode == 0
    done = run_cmp(branch, env={"PATH": "/nonexistent"})
    assert done.returncode == 0
