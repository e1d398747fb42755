"""Issue 18, finding 7: every remote form kustomize knows is refused, and kustomize never starts on it.

The observable is the real one: a local HTTP server on 127.0.0.1 (Go sends loopback requests past any
proxy setting, so kustomize's sandbox does not stop them) that records every request it gets.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from k8sta_cmp import remote
from k8sta_cmp.kustomize import Kustomize

from .conftest import run_cmp, seal, write, write_inputs
from .httprecorder import Recorder, recording

KEY = b"k8sta-test-input-key-0123456789abcdef"

# (kustomization text, field named in the refusal, value named in the refusal, the form's words)
REMOTE_FORMS = [
    pytest.param("resources: [../../base, 'deploy@host:org/repo']", "resources[1]", "deploy@host:org/repo",
                 "scp-like user@host:path", id="scp-like"),
    pytest.param("resources: ['deploy@host/org/repo']", "resources[0]", "deploy@host/org/repo", "user@host",
                 id="user-at-host"),
    pytest.param("resources: ['git::https://example.com/org/repo//base']", "resources[0]",
                 "git::https://example.com/org/repo//base", "git::", id="go-getter-git"),
    pytest.param("components: ['GIT::ssh://git@example.com/org/repo']", "components[0]",
                 "GIT::ssh://git@example.com/org/repo", "git::", id="go-getter-git-upper"),
    pytest.param("resources: ['ssh://git@example.com/org/repo']", "resources[0]", "ssh://git@example.com/org/repo",
                 "ssh:// URL", id="ssh"),
    pytest.param("bases: ['http://example.com/base']", "bases[0]", "http://example.com/base", "http:// URL",
                 id="http-base"),
    pytest.param("resources: ['HTTPS://example.com/x.yaml']", "resources[0]", "HTTPS://example.com/x.yaml",
                 "https:// URL", id="https-upper"),
    pytest.param("resources: ['file:///srv/git/repo']", "resources[0]", "file:///srv/git/repo", "file:// URL",
                 id="file-url"),
    pytest.param("resources: ['//example.com/org/repo']", "resources[0]", "//example.com/org/repo",
                 "network-path", id="double-slash"),
    pytest.param("resources: ['GitHub.com/org/repo/base']", "resources[0]", "GitHub.com/org/repo/base",
                 "github.com shorthand", id="github-shorthand-mixed-case"),
    pytest.param("resources: ['github.com:org/repo']", "resources[0]", "github.com:org/repo", "host:path",
                 id="github-scp"),
    pytest.param("resources: [../../base]\ngenerators: ['https://example.com/gen.yaml']", "generators[0]",
                 "https://example.com/gen.yaml", "https:// URL", id="generator-url"),
    pytest.param("resources: [../../base]\ntransformers: ['deploy@host:org/transformers']", "transformers[0]",
                 "deploy@host:org/transformers", "scp-like", id="transformer-scp"),
    pytest.param("resources: [../../base]\ntransformers:\n- |\n" + textwrap.indent(
        "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: https://example.com/p.yaml\n", "  "),
                 "transformers[0] (PatchTransformer).path", "https://example.com/p.yaml", "https:// URL",
                 id="builtin-patch-path"),
    pytest.param("resources: [../../base]\ntransformers:\n- |\n" + textwrap.indent(
        "apiVersion: builtin\nkind: ReplacementTransformer\nmetadata: {name: r}\n"
        "replacements: [{path: 'git@example.com:org/r.yaml'}]\n", "  "),
                 "transformers[0] (ReplacementTransformer).replacements[0].path", "git@example.com:org/r.yaml",
                 "scp-like", id="builtin-replacement-path"),
    pytest.param("resources: [../../base]\nconfigMapGenerator:\n- name: c\n  files: ['k=http://example.com/v']",
                 "configMapGenerator[0].files[0]", "http://example.com/v", "http:// URL", id="generator-file-url"),
    pytest.param("resources: [../../base]\npatchesStrategicMerge: ['https://example.com/p.yaml']",
                 "patchesStrategicMerge[0]", "https://example.com/p.yaml", "https:// URL", id="smp-url"),
    pytest.param("resources: [../../base]\nreplacements: [{path: 'ssh://example.com/r.yaml'}]",
                 "replacements[0].path", "ssh://example.com/r.yaml", "ssh:// URL", id="replacement-url"),
]


@pytest.mark.parametrize(("kustomization", "field", "value", "form"), REMOTE_FORMS)
def test_remote_form_is_refused_naming_file_field_and_value(branch: Path, kustomization: str, field: str,
                                                             value: str, form: str) -> None:
    # A local directory of that very name changes nothing: kustomize tries the remote reading first.
    if "@" in value and ":" in value and "//" not in value:
        write(branch, f"env/dev/{value}/kustomization.yaml", "resources: []\n")
    write(branch, "env/dev/kustomization.yaml", kustomization + "\n")
    done = run_cmp(branch)
    assert done.returncode == 1 and done.stdout == b""
    line = done.stderr.decode()
    assert line.startswith(f"k8sta: refused: env/dev/kustomization.yaml: {field}: remote input {value!r} ("), line
    assert form in line and "the plugin never reaches the network" in line and line.count("\n") == 1, line


def test_remote_form_in_a_component_deep_in_the_tree_is_refused(branch: Path) -> None:
    write(branch, "components/extra/kustomization.yaml",
          "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: ['deploy@host:org/repo']\n")
    write(branch, "env/dev/kustomization.yaml", "resources: [../../base]\ncomponents: [../../components/extra]\n")
    done = run_cmp(branch)
    assert done.returncode == 1
    assert done.stderr.decode().startswith(
        "k8sta: refused: components/extra/kustomization.yaml: resources[0]: remote input 'deploy@host:org/repo' "
        "(an scp-like user@host:path git remote")


@pytest.mark.parametrize("value", ["base", "../../base", "api.yaml", "a//b", "dir/user@host:x", "v1.2/x",
                                   "configs/x@y.yaml", "./github.com/org/repo"])
def test_local_paths_are_not_remote(value: str) -> None:
    assert remote.remote_form(value) is None


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with recording() as server:
        yield server


def test_recorder_sees_what_kustomize_fetches(recorder: Recorder, kustomize: Kustomize, tmp_path: Path) -> None:
    """The observable works: the same kustomize, sandboxed as the plugin runs it, does reach it."""
    import subprocess

    from k8sta_cmp import early

    write(tmp_path / "k", "kustomization.yaml", f"resources: ['{recorder.url}/probe.yaml']\n")
    subprocess.run(early.build_argv(str(kustomize.path), str(tmp_path / "k")), capture_output=True, check=False,
                   env={**early.SANDBOX_ENV, "HOME": str(tmp_path)}, timeout=60)
    assert recorder.requests == ["/probe.yaml"]


def test_kustomize_never_starts_on_a_refused_branch(branch: Path, recorder: Recorder) -> None:
    write(branch, "env/dev/kustomization.yaml", f"resources: [../../base, '{recorder.url}/evil.yaml']\n")
    done = run_cmp(branch)
    assert done.returncode == 1
    assert done.stderr.startswith(b"k8sta: refused: env/dev/kustomization.yaml: resources[1]: remote input")
    assert recorder.requests == []


def test_kustomize_never_starts_on_a_signed_branch_edited_after_signing(tmp_path: Path, kustomize: Kustomize,
                                                                        recorder: Recorder) -> None:
    root = tmp_path / "branch"
    write_inputs(root)
    for i in range(3000):  # checking the signed tree takes a while: long enough for an early kustomize
        write(root, f"notes/{i}.txt", f"note {i}\n")
    seal(root, kustomize, key=KEY)
    key_file = tmp_path / "input-key"
    key_file.write_bytes(KEY)
    write(root, "env/dev/kustomization.yaml", f"resources: [../../base, '{recorder.url}/evil.yaml']\n")
    done = run_cmp(root, env={"K8STA_INPUT_KEY_FILE": str(key_file)})
    assert done.returncode == 1
    assert done.stderr.startswith(b"k8sta: refused: env/dev/kustomization.yaml was changed after K8sTA signed")
    assert recorder.requests == []
