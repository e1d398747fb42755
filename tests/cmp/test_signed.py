"""Contract v2: the signed input manifest lets the plugin skip re-validating, and only the key can sign."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from k8sta_cmp import contract, inputs
from k8sta_cmp.kustomize import Kustomize

from .conftest import run_cmp, seal, write, write_inputs

KEY = b"k8sta-test-input-key-0123456789abcdef"
# The CLI in a child process, reporting afterwards whether it imported YAML (the full checks do).
PROBE = ("import sys; from k8sta_cmp import cli; code = cli.main(['generate']); "
         "print('yaml-imported' if 'yaml' in sys.modules else 'yaml-not-imported', file=sys.stderr); "
         "sys.exit(code)")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "input-key"
    path.write_bytes(KEY + b"\n")
    return path


@pytest.fixture
def signed_branch(tmp_path: Path, kustomize: Kustomize) -> Path:
    root = tmp_path / "branch"
    write_inputs(root)
    seal(root, kustomize, key=KEY)
    return root


def probe(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "K8STA_STRICT"))}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=root, env=environ, capture_output=True, check=False,
                          timeout=120)


def test_signed_branch_carries_a_manifest_of_every_file(signed_branch: Path) -> None:
    text = (signed_branch / contract.INPUTS_PATH).read_text()
    assert text.startswith(inputs.MAGIC + "\napplication argocd/dev\nticket k8sta/api-42\n")
    listed = [line.split(" ", 2)[2] for line in text.splitlines() if line.startswith("file ")]
    assert listed == sorted(listed)
    assert {"base/api.yaml", "env/dev/kustomization.yaml", contract.METADATA_PATH, contract.RENDERED_PATH,
            contract.WRAPPER_PATH} <= set(listed)
    assert contract.INPUTS_PATH not in listed
    assert text.splitlines()[-1].startswith("hmac-sha256 ")
    assert yaml.safe_load((signed_branch / contract.METADATA_PATH).read_text())["apiVersion"] == contract.API_VERSION


def test_signed_branch_renders_without_importing_yaml(signed_branch: Path, key_file: Path) -> None:
    done = probe(signed_branch, {inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().strip() == "yaml-not-imported"
    full = run_cmp(signed_branch)  # no key: the full checks, the same bytes out
    assert full.returncode == 0, full.stderr
    assert done.stdout == full.stdout == (signed_branch / contract.RENDERED_PATH).read_bytes()


def test_without_a_key_the_full_checks_run(signed_branch: Path) -> None:
    done = probe(signed_branch, {})
    assert done.returncode == 0, done.stderr
    assert "yaml-imported" in done.stderr.decode()


def test_branch_edited_after_signing_is_refused_naming_the_file(signed_branch: Path, key_file: Path) -> None:
    path = signed_branch / "base/api.yaml"
    path.write_text(path.read_text().replace("name: api", "name: api-evil", 1))
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 1 and done.stdout == b""
    message = done.stderr.decode()
    assert "refused: base/api.yaml was changed after K8sTA signed the inputs" in message
    assert "edited outside K8sTA" in message


def test_file_added_after_signing_is_refused(signed_branch: Path, key_file: Path) -> None:
    write(signed_branch, "env/dev/extra.yaml", "kind: ConfigMap\n")
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 1
    assert "refused: env/dev/extra.yaml is not among the inputs K8sTA signed" in done.stderr.decode()


def test_file_removed_after_signing_is_refused(signed_branch: Path, key_file: Path) -> None:
    (signed_branch / contract.RENDERED_PATH).unlink()
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 1
    assert f"refused: {contract.RENDERED_PATH} is signed but missing from the checkout" in done.stderr.decode()


def test_symlink_replacing_a_signed_file_is_refused(signed_branch: Path, key_file: Path) -> None:
    target = signed_branch / "base/worker.yaml"
    target.unlink()
    target.symlink_to("/etc/passwd")
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 1
    assert "refused: symlink base/worker.yaml points outside the checkout" in done.stderr.decode()


def test_hostile_branch_with_a_forged_manifest_is_refused(tmp_path: Path, kustomize: Kustomize,
                                                          key_file: Path) -> None:
    """Whoever writes the branch without the key: a manifest signed with another key proves nothing,
    the full checks run and refuse the remote base."""
    root = tmp_path / "branch"
    write_inputs(root)
    seal(root, kustomize, key=b"an-attacker-key-that-is-not-ours")
    write(root, "env/dev/kustomization.yaml",
          "resources:\n- ../../base\n- https://github.com/evil/repo//deploy?ref=main\nnamespace: dev\n")
    done = run_cmp(root, env={inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 1 and done.stdout == b""
    message = done.stderr.decode()
    assert "does not verify with the input key; running the full checks" in message
    assert "refused: env/dev/kustomization.yaml: resources[1]: remote input" in message


def test_manifest_without_hmac_runs_the_full_checks(signed_branch: Path, key_file: Path) -> None:
    path = signed_branch / contract.INPUTS_PATH
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    done = probe(signed_branch, {inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 0, done.stderr
    assert "carries no HMAC; running the full checks" in done.stderr.decode()
    assert "yaml-imported" in done.stderr.decode()


def test_v1_branch_still_renders_with_a_key(tmp_path: Path, kustomize: Kustomize, key_file: Path) -> None:
    root = tmp_path / "branch"
    write_inputs(root)
    seal(root, kustomize)  # unsigned
    meta_path = root / contract.METADATA_PATH
    meta_path.write_text(meta_path.read_text().replace(contract.API_VERSION, "k8sta.io/branch/v1"))
    assert "apiVersion: k8sta.io/branch/v1" in meta_path.read_text()
    done = run_cmp(root, env={inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == (root / contract.RENDERED_PATH).read_bytes()
    assert done.stderr == b""  # no manifest is not worth a warning


def test_signed_branch_for_another_application_is_refused(signed_branch: Path, key_file: Path) -> None:
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(key_file), "ARGOCD_APP_NAME": "prod"})
    assert done.returncode == 1
    assert "this branch was written for Application argocd/dev (ticket k8sta/api-42), not for prod" in \
        done.stderr.decode()


def test_signed_render_that_differs_from_the_signed_digest_is_refused(signed_branch: Path, key_file: Path,
                                                                      tmp_path: Path) -> None:
    """The fresh render is still checked: a kustomize producing other bytes is caught."""
    fake = tmp_path / "kustomize"
    fake.write_text("#!/bin/sh\necho 'apiVersion: v1'\necho 'kind: Namespace'\necho 'metadata: {name: x}'\n")
    fake.chmod(0o755)
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(key_file), "K8STA_KUSTOMIZE": str(fake)})
    assert done.returncode == 1
    assert "does not match recorded" in done.stderr.decode()


@pytest.mark.parametrize(("make", "message"), [
    pytest.param(lambda p: p.write_bytes(b"short\n"), "holds 5 bytes; an input key needs at least 16", id="short"),
    pytest.param(lambda p: p.mkdir(), "cannot read", id="unreadable"),
])
def test_unusable_key_file_is_an_error(signed_branch: Path, tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "key"
    make(path)
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(path)})
    assert done.returncode == 1
    assert f"k8sta: {inputs.KEY_ENV}: " in done.stderr.decode() and message in done.stderr.decode()


def test_key_file_that_does_not_exist_means_no_key(signed_branch: Path, tmp_path: Path) -> None:
    """The install mounts the Secret as optional: no Secret, no signing, the full checks."""
    done = probe(signed_branch, {inputs.KEY_ENV: str(tmp_path / "absent")})
    assert done.returncode == 0, done.stderr
    assert "yaml-imported" in done.stderr.decode()



@pytest.mark.parametrize("key_size", [16, 64, 65, 200])
@pytest.mark.parametrize("body", [b"", b"k8sta-inputs 2\n", b"x" * 100_000])
def test_hmac_is_the_standard_hmac_sha256(key_size: int, body: bytes) -> None:
    import hashlib
    import hmac

    key = bytes(range(256))[:key_size] if key_size <= 256 else b"k" * key_size
    assert inputs._mac(key, body) == hmac.new(key, body, hashlib.sha256).hexdigest()
