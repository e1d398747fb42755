"""Static checks of what ships: plugin.yaml, Dockerfile.cmp, and the repo-server sidecar component.

No image can be built on these machines, so the sidecar patch is checked by building it with the
pinned kustomize against Argo CD's own repo-server Deployment from the pinned Argo CD module.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from k8sta_cmp.kustomize import Kustomize

from .test_toolchain import ROOT, versions_env


def plugin() -> dict:
    return yaml.safe_load((ROOT / "plugin.yaml").read_text())


def console_scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_plugin_is_named_k8sta_and_runs_our_console_script() -> None:
    doc = plugin()
    assert doc["kind"] == "ConfigManagementPlugin" and doc["metadata"]["name"] == "k8sta"
    assert "version" not in doc["spec"]  # a version would rename the plugin to k8sta-<version>
    command = doc["spec"]["generate"]["command"]
    assert command == ["k8sta-cmp", "generate"]
    module, func = console_scripts()[command[0]].split(":")
    assert callable(getattr(importlib.import_module(module), func))


def test_plugin_has_no_discovery_so_it_renders_only_applications_that_name_it() -> None:
    # Without discover, Argo CD uses a sidecar plugin only for Applications naming it, and skips the
    # MatchRepository round (one whole extra tar + stream + untar of the checkout per render).
    assert "discover" not in plugin()["spec"]


def dockerfile_instructions(name: str) -> list[tuple[str, str]]:
    text = (ROOT / name).read_text().replace("\\\n", " ")
    return [tuple(line.split(None, 1)) for line in text.splitlines()  # type: ignore[misc]
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("name", ["Dockerfile.cmp", "Dockerfile.daemon"])
def test_dockerfile_copies_only_paths_that_exist(name: str) -> None:
    for op, args in dockerfile_instructions(name):
        if op == "COPY" and "--from=" not in args:
            *sources, _dest = [a for a in args.split() if not a.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), f"{name}: COPY {source} does not exist"


def test_cmp_image_layout() -> None:
    instructions = dockerfile_instructions("Dockerfile.cmp")
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM"):]
    assert ("COPY", "plugin.yaml /home/argocd/cmp-server/config/plugin.yaml") in final
    assert ("USER", "999") in final
    # our launcher replaces pip's console-script wrapper (which imports re on every render)
    assert ("COPY", "--chmod=0755 cmp/bin/k8sta-cmp /opt/k8sta/bin/k8sta-cmp") in final
    assert any(op == "RUN" and "--uid 999" in args for op, args in final)
    env = " ".join(args for op, args in final if op == "ENV")
    assert "K8STA_KUSTOMIZE=/usr/local/bin/kustomize" in env
    assert ("ENTRYPOINT", '["/var/run/argocd/argocd-cmp-server"]') in final
    # The image builds kustomize with the project's own script, at the pinned version.
    assert any(op == "RUN" and "toolchain/build.sh kustomize" in args for op, args in instructions)


@pytest.fixture(scope="module")
def argocd_source() -> Path:
    """The pinned Argo CD module's source tree (downloaded through the Go module proxy)."""
    version = versions_env()["ARGOCD_VERSION"]
    if shutil.which("go") is None:
        pytest.fail("Go is required (the project builds its pinned tools with it)")
    # Argo CD 3.6's go.mod asks for Go 1.27: the toolchain the build uses (ARGOCD_GOTOOLCHAIN).
    env = {**os.environ, "GOTOOLCHAIN": versions_env()["ARGOCD_GOTOOLCHAIN"]}
    out = subprocess.run(["go", "mod", "download", "-json", f"github.com/argoproj/argo-cd/v3@{version}"],
                         capture_output=True, text=True, check=True, timeout=600, env=env)
    return Path(json.loads(out.stdout)["Dir"])


def test_sidecar_component_patches_argo_cds_repo_server(tmp_path: Path, argocd_source: Path,
                                                         kustomize: Kustomize) -> None:
    upstream = argocd_source / "manifests/base/repo-server/argocd-repo-server-deployment.yaml"
    shutil.copy(upstream, tmp_path / "deployment.yaml")
    shutil.copytree(ROOT / "kustomize/components/cmp-sidecar", tmp_path / "cmp-sidecar")
    (tmp_path / "kustomization.yaml").write_text("resources: [deployment.yaml]\ncomponents: [cmp-sidecar]\n")
    out = subprocess.run([str(kustomize.path), "build", str(tmp_path)], capture_output=True, check=True)
    deployment = yaml.safe_load(out.stdout)
    spec = deployment["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in spec["containers"]}
    assert "argocd-repo-server" in containers  # upstream container untouched
    upstream_spec = yaml.safe_load(upstream.read_text())["spec"]["template"]["spec"]
    assert containers["argocd-repo-server"] == upstream_spec["containers"][0]
    sidecar = containers["k8sta-cmp"]
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert sidecar["securityContext"]["runAsNonRoot"] is True
    assert sidecar["securityContext"]["runAsUser"] == 999
    mounts = {m["mountPath"]: m["name"] for m in sidecar["volumeMounts"]}
    assert mounts == {"/var/run/argocd": "var-files", "/home/argocd/cmp-server/plugins": "plugins",
                      "/tmp": "k8sta-cmp-tmp", "/var/run/secrets/k8sta/input-key": "k8sta-input-key"}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["k8sta-cmp-tmp"] == {"name": "k8sta-cmp-tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "128Mi"}}
    assert {"var-files", "plugins"} <= set(volumes)  # provided by Argo CD's own manifest
    # The repo-server's init container is what copies argocd-cmp-server into var-files.
    init = spec["initContainers"][0]
    assert any(m["name"] == "var-files" for m in init["volumeMounts"])
    assert re.search(r"argocd-cmp-server|/var/run/argocd", " ".join(init["command"] + init.get("args", [])))


def test_the_wheel_holds_the_product_and_its_pins_but_no_devstack(tmp_path: Path) -> None:
    """What `pip wheel .` (both images build it) ships: plugin and daemon, the pins, no devstack."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "tests", "bench", "go"))
    out = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(src)], check=True, capture_output=True, timeout=300)
    [wheel] = out.glob("k8sta-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        packaged_pins = archive.read("k8sta_cmp/versions.env").decode()
    assert {name.split("/")[0] for name in names if not name.startswith("k8sta-")} == {"k8sta_cmp", "k8sta_daemon"}
    assert packaged_pins == (ROOT / "toolchain/versions.env").read_text()
    board = {"k8sta_daemon/web/templates/board/index.html", "k8sta_daemon/web/templates/board/ticket.html",
             "k8sta_daemon/web/static/board.js", "k8sta_daemon/web/static/board.css"}
    assert board <= set(names)  # the departure board's page, live script and style ship with the web part


def test_image_launcher_runs_the_same_main_as_the_console_script(tmp_path: Path) -> None:
    """The image's launcher starts isolated and without ``site`` (start-up is the plugin's hot path) and
    still finds the package in its own venv's site-packages, laid out here as the image lays it out."""
    launcher = (ROOT / "cmp/bin/k8sta-cmp").read_text()
    assert launcher.startswith("#!/opt/k8sta/bin/python3 -IS\n")  # the image's venv
    venv = tmp_path / "opt-k8sta"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/python3").symlink_to(os.path.realpath(sys.executable))
    site = venv / f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
    site.mkdir(parents=True)
    (site / "k8sta_cmp").symlink_to(ROOT / "cmp/k8sta_cmp")
    (site / "yaml").symlink_to(Path(yaml.__file__).parent)  # the plugin's one dependency
    script = tmp_path / "k8sta-cmp"
    script.write_text(launcher.replace("/opt/k8sta/bin/python3", str(venv / "bin/python3"), 1))
    script.chmod(0o755)
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False, timeout=60,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": "/nowhere"})
    assert done.returncode == 0 and "generate" in done.stdout, done.stderr
    assert "import re" not in launcher
    probe = tmp_path / "probe"  # what the launcher's interpreter sees: isolated, no site, our venv
    probe.write_text(launcher.replace("/opt/k8sta/bin/python3", str(venv / "bin/python3"), 1).replace(
        "sys.exit(main())", "import k8sta_cmp; print(sys.flags.isolated, sys.flags.no_site, k8sta_cmp.__file__)"))
    probe.chmod(0o755)
    seen = subprocess.run([str(probe)], capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert seen[:2] == ["1", "1"] and seen[2].startswith(str(site))
