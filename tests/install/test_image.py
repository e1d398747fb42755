"""Static checks of Dockerfile.daemon: one non-root image whose commands are the console scripts the
install's Deployments run, with the pinned kustomize and git. tests/images builds and runs it."""

from __future__ import annotations

import shlex
import tomllib

import pytest

from k8sta_cmp import PINNED_KUSTOMIZE_VERSION

from .kustomizations import ROOT, Built

Instruction = tuple[str, str]


def instructions() -> list[Instruction]:
    text = (ROOT / "Dockerfile.daemon").read_text().replace("\\\n", " ")
    lines = (line.strip() for line in text.splitlines())
    return [(op.upper(), args.strip()) for op, _, args in (line.partition(" ") for line in lines
                                                            if line and not line.startswith("#"))]


def final_stage() -> list[Instruction]:
    steps = instructions()
    return steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]


def stage(name: str) -> list[Instruction]:
    steps = instructions()
    start = next(i for i, (op, args) in enumerate(steps) if op == "FROM" and args.endswith(f" AS {name}"))
    end = next((i for i in range(start + 1, len(steps)) if steps[i][0] == "FROM"), len(steps))
    return steps[start:end]


def env(steps: list[Instruction]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for op, args in steps:
        if op == "ENV":
            pairs.update(word.split("=", 1) for word in shlex.split(args))  # type: ignore[misc]
    return pairs


def console_scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def daemon_requirements() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["daemon"]


def test_runs_as_uid_999() -> None:
    final = final_stage()
    assert ("USER", "999") in final
    assert any(op == "RUN" and "useradd --uid 999" in args for op, args in final)
    users = [args for op, args in final if op == "USER"]
    assert users[-1] == "999"  # nothing after it switches back to root


def test_installs_the_package_with_the_daemon_extra_and_nothing_else() -> None:
    venv = stage("venv")
    assert any(op == "RUN" and "pip install" in args and "'k8sta[daemon]'" in args and "--no-index" in args
               for op, args in venv)
    assert any(op == "RUN" and "pip wheel" in args and "'.[daemon]'" in args for op, args in venv)
    # Only the runtime sources and the lock files enter the build: the dev-only devstack is never copied.
    copied = {word for op, args in venv if op == "COPY" for word in args.split()[:-1]}
    assert copied == {"requirements/daemon.txt", "requirements/build.txt", "pyproject.toml", "README.md", "cmp/",
                      "daemon/", "toolchain/versions.env"}
    assert ("COPY", "--from=venv /opt/k8sta /opt/k8sta") in final_stage()
    assert env(final_stage())["PATH"].startswith("/opt/k8sta/bin:")


def test_default_command_is_the_controller_console_script() -> None:
    [cmd] = [args for op, args in final_stage() if op == "CMD"]
    assert cmd == '["k8sta-daemon"]'
    assert "k8sta-daemon" in console_scripts()
    assert not [args for op, args in final_stage() if op == "ENTRYPOINT"]  # the web part overrides the command


@pytest.mark.parametrize("name", ["k8sta-controller", "k8sta-web"])
def test_deployments_run_commands_the_image_has(base: Built, name: str) -> None:
    [container] = base.one("Deployment", name)["spec"]["template"]["spec"]["containers"]
    program = container["command"][0]
    # Either one of our console scripts, or gunicorn, installed by the [daemon] extra.
    extra = {req.split(">")[0].split("=")[0].strip().lower() for req in daemon_requirements()}
    assert program in console_scripts() or program in extra, program


def test_has_the_pinned_kustomize_built_by_the_project_script() -> None:
    built = stage("kustomize")
    # toolchain/build.sh builds the version toolchain/versions.env pins; the Dockerfile repeats no pin.
    assert ("COPY", "toolchain/ toolchain/") in built
    assert any(op == "RUN" and "toolchain/build.sh kustomize" in args for op, args in built)
    assert not any(PINNED_KUSTOMIZE_VERSION in args or "KUSTOMIZE_VERSION" in args for _, args in instructions())
    # The package records that same pin next to every render (k8sta_cmp/versions.env in the wheel).
    assert ("COPY", "toolchain/versions.env toolchain/") in stage("venv")
    final = final_stage()
    assert ("COPY", "--from=kustomize /kustomize /usr/local/bin/kustomize") in final
    variables = env(final)
    assert variables["K8STA_KUSTOMIZE"] == "/usr/local/bin/kustomize"
    assert "K8STA_KUSTOMIZE_VERSION" not in variables  # the package's pin, not a second copy


def test_ships_no_devstack() -> None:
    assert not any(op == "COPY" and "devstack" in args for op, args in instructions())


def test_has_git_for_atomic_pushes() -> None:
    installs = [args for op, args in final_stage() if op == "RUN" and "apt-get install" in args]
    assert installs
    packages = set(shlex.split(installs[0].split("apt-get install", 1)[1].split("&&")[0]))
    assert {"git", "openssh-client"} <= packages


def test_git_cache_is_writable_by_uid_999(base: Built) -> None:
    final = final_stage()
    cache = env(final)["K8STA_CACHE"]
    assert any(op == "RUN" and f"install -d -o 999 -g 999 {cache}" in args for op, args in final)
    # The Deployment mounts an emptyDir there (the root filesystem is read-only).
    [container] = base.one("Deployment", "k8sta-controller")["spec"]["template"]["spec"]["containers"]
    assert f"--cache-dir={cache}" in container["args"]
    assert cache in {m["mountPath"] for m in container["volumeMounts"]}
