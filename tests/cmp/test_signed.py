"""Contract v3: the signed input manifest lets the plugin skip re-validating, and only the key can sign."""

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
    old = meta_path.read_text().replace(contract.API_VERSION, "k8sta.io/branch/v1")
    meta_path.write_text("".join(line for line in old.splitlines(True) if not line.startswith("sequence:")))
    assert "apiVersion: k8sta.io/branch/v1" in meta_path.read_text()
    done = run_cmp(root, env={inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == (root / contract.RENDERED_PATH).read_bytes()
    assert done.stderr == b""  # no manifest is not worth a warning


def test_signed_branch_for_another_application_is_refused(signed_branch: Path, key_file: Path) -> None:
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(key_file), "ARGOCD_APP_NAME": "prod"})
    assert done.returncode == 1 and done.stdout == b""
    assert ("refused: this branch was signed for Application argocd/dev (ticket k8sta/api-42), rendered for "
            "argocd/prod") in done.stderr.decode()


@pytest.fixture
def team_a_branch(tmp_path: Path, kustomize: Kustomize) -> Path:
    """Signed for the Application ``web`` in namespace ``team-a`` (Argo CD's apps-in-any-namespace)."""
    root = tmp_path / "team-a"
    write_inputs(root)
    seal(root, kustomize, key=KEY, application=contract.ObjectRef("team-a", "web"))
    return root


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_branch_for_the_same_name_in_another_namespace_is_refused(team_a_branch: Path, key_file: Path,
                                                                   signed: bool) -> None:
    """Argo CD names an Application of its own namespace ``web`` and team-a's ``team-a_web``: the bare
    name ``web`` is argocd/web, never team-a/web."""
    if not signed:
        (team_a_branch / contract.INPUTS_PATH).unlink()
    done = run_cmp(team_a_branch, env={inputs.KEY_ENV: str(key_file), "ARGOCD_APP_NAME": "web"})
    assert done.returncode == 1 and done.stdout == b""
    how = "signed" if signed else "written"
    assert (f"refused: this branch was {how} for Application team-a/web (ticket k8sta/api-42), rendered for "
            "argocd/web; check the Application's targetRevision") in done.stderr.decode()


@pytest.mark.parametrize(("app_name", "control_plane"), [("team-a_web", "argocd"), ("web", "team-a")],
                         ids=["apps-in-any-namespace", "control-plane-namespace"])
def test_branch_renders_for_its_own_application_in_its_namespace(team_a_branch: Path, key_file: Path,
                                                                 app_name: str, control_plane: str) -> None:
    done = probe(team_a_branch, {inputs.KEY_ENV: str(key_file), "ARGOCD_APP_NAME": app_name,
                                 "K8STA_ARGOCD_NAMESPACE": control_plane})
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().strip() == "yaml-not-imported"


def resign(root: Path, key: bytes, edit) -> None:  # type: ignore[no-untyped-def]
    """Rewrite the manifest's body with ``edit`` and sign it again with ``key`` (a writer holding it)."""
    path = root / contract.INPUTS_PATH
    body = "".join(path.read_text().splitlines(keepends=True)[:-1])
    new = edit(body).encode()
    path.write_bytes(new + b"hmac-sha256 " + inputs._mac(key, new).encode() + b"\n")


def test_manifest_binds_station_and_sequence(signed_branch: Path, key_file: Path) -> None:
    text = (signed_branch / contract.INPUTS_PATH).read_text()
    assert "\nstation dev\nsequence 1\n" in text
    path = signed_branch / contract.INPUTS_PATH
    path.write_text(text.replace("\nsequence 1\n", "\nsequence 9\n"))  # moved forward without the key
    done = probe(signed_branch, {inputs.KEY_ENV: str(key_file)})
    assert "does not verify with the input key; running the full checks" in done.stderr.decode()
    assert "yaml-imported" in done.stderr.decode()


def test_contract_v2_signature_counts_as_unsigned(signed_branch: Path, key_file: Path) -> None:
    """A v2 manifest (no Station, no sequence) proves nothing about order: full checks, or refused."""
    resign(signed_branch, KEY, lambda body: body.replace(inputs.MAGIC, inputs.OLD_MAGIC)
           .replace("station dev\n", "").replace("sequence 1\n", ""))
    done = probe(signed_branch, {inputs.KEY_ENV: str(key_file)})
    assert done.returncode == 0, done.stderr
    assert "is a contract v2 manifest, which binds neither the Station nor the branch's order; running the " \
           "full checks" in done.stderr.decode()
    required = run_cmp(signed_branch, env={inputs.KEY_ENV: str(key_file), inputs.REQUIRE_ENV: "true"})
    assert required.returncode == 1 and required.stdout == b""
    assert "is a contract v2 manifest" in required.stderr.decode()
    assert f"{inputs.REQUIRE_ENV} is on" in required.stderr.decode()


# -- K8STA_REQUIRE_SIGNED_INPUTS: fail closed ---------------------------------------------------------


def test_signed_branch_renders_when_signatures_are_required(signed_branch: Path, key_file: Path) -> None:
    done = probe(signed_branch, {inputs.KEY_ENV: str(key_file), inputs.REQUIRE_ENV: "true"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().strip() == "yaml-not-imported"


@pytest.mark.parametrize("command", ["generate", "verify"])
def test_unsigned_branch_is_refused_when_signatures_are_required(branch: Path, key_file: Path,
                                                                 command: str) -> None:
    done = run_cmp(branch, command, env={inputs.KEY_ENV: str(key_file), inputs.REQUIRE_ENV: "true"})
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode() == (
        f"k8sta: refused: {contract.INPUTS_PATH} is absent; {inputs.REQUIRE_ENV} is on, so only branches K8sTA "
        "signed with the input key render\n")


def test_branch_signed_with_another_key_is_refused_when_signatures_are_required(signed_branch: Path,
                                                                                tmp_path: Path) -> None:
    other = tmp_path / "other-key"
    other.write_bytes(b"some-other-key-0123456789abcdef\n")
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(other), inputs.REQUIRE_ENV: "true"})
    assert done.returncode == 1 and done.stdout == b""
    assert "refused: the HMAC of .k8sta/inputs does not verify with the input key; " \
           "K8STA_REQUIRE_SIGNED_INPUTS is on" in done.stderr.decode()


@pytest.mark.parametrize("where", ["absent", "unset"])
def test_missing_key_is_refused_when_signatures_are_required(signed_branch: Path, tmp_path: Path,
                                                             where: str) -> None:
    env = {inputs.REQUIRE_ENV: "true"} | ({inputs.KEY_ENV: str(tmp_path / "absent")} if where == "absent" else {})
    done = run_cmp(signed_branch, env=env)
    assert done.returncode == 1 and done.stdout == b""
    shown = str(tmp_path / "absent") if where == "absent" else "unset"
    assert done.stderr.decode() == (f"k8sta: refused: {inputs.REQUIRE_ENV} is on but there is no input key "
                                    f"({inputs.KEY_ENV}: {shown}); only branches K8sTA signed render\n")


def test_unreadable_key_is_refused_when_signatures_are_required(signed_branch: Path, tmp_path: Path) -> None:
    (tmp_path / "key-dir").mkdir()
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(tmp_path / "key-dir"), inputs.REQUIRE_ENV: "true"})
    assert done.returncode == 1 and done.stdout == b""
    assert f"k8sta: {inputs.KEY_ENV}: cannot read" in done.stderr.decode()


def test_require_setting_must_be_a_boolean(signed_branch: Path, key_file: Path) -> None:
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(key_file), inputs.REQUIRE_ENV: "maybe"})
    assert done.returncode == 1
    assert f"k8sta: {inputs.REQUIRE_ENV} must be true or false, got 'maybe'" in done.stderr.decode()


# -- key rotation -------------------------------------------------------------------------------------


NEW_KEY = b"k8sta-test-the-next-input-key-0123456789"


def test_during_a_rotation_the_previous_key_still_verifies(signed_branch: Path, tmp_path: Path) -> None:
    """The Secret holds the new ``key`` and the old ``previous-key``: branches signed before the
    rotation stay on the signed path (and render under K8STA_REQUIRE_SIGNED_INPUTS)."""
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "key").write_bytes(NEW_KEY + b"\n")
    (keys / inputs.PREVIOUS_KEY_NAME).write_bytes(KEY + b"\n")
    done = probe(signed_branch, {inputs.KEY_ENV: str(keys / "key"), inputs.REQUIRE_ENV: "true"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().strip() == "yaml-not-imported"
    assert inputs.read_keys({inputs.KEY_ENV: str(keys / "key")}) == (NEW_KEY, KEY)

    (keys / inputs.PREVIOUS_KEY_NAME).unlink()  # rotation finished: the old key proves nothing any more
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(keys / "key"), inputs.REQUIRE_ENV: "true"})
    assert done.returncode == 1
    assert "does not verify with the input key" in done.stderr.decode()


def test_branch_signed_with_the_new_key_verifies(tmp_path: Path, kustomize: Kustomize) -> None:
    root = tmp_path / "branch"
    write_inputs(root)
    seal(root, kustomize, key=NEW_KEY)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "key").write_bytes(NEW_KEY + b"\n")
    (keys / inputs.PREVIOUS_KEY_NAME).write_bytes(KEY + b"\n")
    done = probe(root, {inputs.KEY_ENV: str(keys / "key"), inputs.REQUIRE_ENV: "true"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().strip() == "yaml-not-imported"


def test_short_previous_key_is_an_error(signed_branch: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "key").write_bytes(NEW_KEY + b"\n")
    (keys / inputs.PREVIOUS_KEY_NAME).write_bytes(b"short\n")
    done = run_cmp(signed_branch, env={inputs.KEY_ENV: str(keys / "key")})
    assert done.returncode == 1
    assert f"{inputs.PREVIOUS_KEY_NAME} holds 5 bytes; an input key needs at least 16" in done.stderr.decode()


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
@pytest.mark.parametrize("body", [b"", b"k8sta-inputs 3\n", b"x" * 100_000])
def test_hmac_is_the_standard_hmac_sha256(key_size: int, body: bytes) -> None:
    import hashlib
    import hmac

    key = bytes(range(256))[:key_size] if key_size <= 256 else b"k" * key_size
    assert inputs._mac(key, body) == hmac.new(key, body, hashlib.sha256).hexdigest()
