"""Issue 18, finding 7: the input cap follows the sidecar's memory-backed /tmp, not a fixed 64 MiB."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from k8sta_cmp import errors, inputs
from k8sta_cmp.kustomize import Kustomize

from .conftest import run_cmp, seal, write, write_inputs

ROOT = Path(__file__).resolve().parents[2]
SIDECAR = ROOT / "kustomize/components/cmp-sidecar/repo-server-sidecar.yaml"
KEY = b"k8sta-test-input-key-0123456789abcdef"
QUANTITY = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def quantity(text: str) -> int:
    for suffix, factor in QUANTITY.items():
        if text.endswith(suffix):
            return int(text.removesuffix(suffix)) * factor
    return int(text)


def test_the_default_cap_fits_the_sidecar_tmp_for_its_renders() -> None:
    """The component's settings describe its own /tmp, and the default cap is what fits them."""
    deployment = yaml.safe_load(SIDECAR.read_text())
    spec = deployment["spec"]["template"]["spec"]
    sidecar = next(c for c in spec["containers"] if c["name"] == "k8sta-cmp")
    env = {e["name"]: e["value"] for e in sidecar["env"] if "value" in e}  # not the fieldRef ones
    size_limit = quantity(next(v for v in spec["volumes"] if v["name"] == "k8sta-cmp-tmp")["emptyDir"]["sizeLimit"])
    assert int(env["K8STA_CMP_TMP_BYTES"]) == size_limit == inputs.DEFAULT_TMP_BYTES
    assert int(env["K8STA_CMP_RENDERS"]) == inputs.DEFAULT_RENDERS
    max_bytes, _ = inputs.limits(env)
    assert max_bytes == inputs.limits({})[0] == size_limit // (3 * inputs.DEFAULT_RENDERS)
    assert max_bytes * inputs.COPIES * int(env["K8STA_CMP_RENDERS"]) <= size_limit
    assert quantity(sidecar["resources"]["limits"]["memory"]) > size_limit  # tmpfs pages count against it


def test_the_cap_follows_the_tmp_size_and_the_renders() -> None:
    assert inputs.limits({"K8STA_CMP_TMP_BYTES": "30000", "K8STA_CMP_RENDERS": "2"}) == (5000, 20_000)
    assert inputs.limits({"K8STA_CMP_TMP_BYTES": "30000", "K8STA_MAX_INPUT_BYTES": "1000"})[0] == 1000


@pytest.mark.parametrize(("env", "message"), [
    ({"K8STA_MAX_INPUT_BYTES": str(64 * 1024 * 1024)},
     "K8STA_MAX_INPUT_BYTES=67108864 does not fit the sidecar's /tmp: K8STA_CMP_RENDERS=4 renders x 3 copies of "
     "the inputs need more than K8STA_CMP_TMP_BYTES=134217728 (at most 11184810)"),
    ({"K8STA_CMP_RENDERS": "0"}, "K8STA_CMP_RENDERS must be a positive integer, got '0'"),
    ({"K8STA_CMP_TMP_BYTES": "128Mi"}, "K8STA_CMP_TMP_BYTES must be a positive integer, got '128Mi'"),
])
def test_settings_that_do_not_fit_are_an_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(errors.K8staError) as raised:
        inputs.limits(env)
    assert message in str(raised.value)


SMALL_TMP = {"K8STA_CMP_TMP_BYTES": "60000", "K8STA_CMP_RENDERS": "2"}  # a 10,000-byte cap
REFUSAL = (b"k8sta: refused: inputs larger than 10000 bytes (0.0 MiB, K8STA_MAX_INPUT_BYTES; by default "
           b"K8STA_CMP_TMP_BYTES / (3 x K8STA_CMP_RENDERS), what fits the sidecar's /tmp)\n")


def test_oversize_inputs_are_refused_by_the_sidecar_settings(branch: Path) -> None:
    write(branch, "base/big.txt", "x" * 12_000)
    done = run_cmp(branch, env=SMALL_TMP)
    assert (done.returncode, done.stdout, done.stderr) == (1, b"", REFUSAL)


def test_oversize_signed_inputs_are_refused_too(tmp_path: Path, kustomize: Kustomize) -> None:
    root = tmp_path / "branch"
    write_inputs(root)
    write(root, "base/big.txt", "x" * 12_000)
    seal(root, kustomize, key=KEY)
    key_file = tmp_path / "input-key"
    key_file.write_bytes(KEY)
    done = run_cmp(root, env={**SMALL_TMP, "K8STA_INPUT_KEY_FILE": str(key_file)})
    assert (done.returncode, done.stdout, done.stderr) == (1, b"", REFUSAL)


def test_a_cap_that_does_not_fit_stops_every_render(branch: Path) -> None:
    done = run_cmp(branch, env={"K8STA_MAX_INPUT_BYTES": str(64 * 1024 * 1024)})
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.startswith(b"k8sta: K8STA_MAX_INPUT_BYTES=67108864 does not fit the sidecar's /tmp")
