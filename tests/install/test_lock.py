"""The lock files (requirements/*.txt): exact versions with hashes, in step with pyproject.toml, and the
only source of what `make venv` and both images install.

Offline: pyproject.toml, the lock files, the Makefile and the Dockerfiles are read as text; the
versions are compared with ``packaging`` (pip's own). tests/images builds the images from them, and a
fresh `make venv` (docs/operations.md "Supply chain") is what installs from dev.txt.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .kustomizations import ROOT

LOCKS = ROOT / "requirements"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?: ; (?P<marker>[^\\]+?))?\s*\\?$")


@dataclass(frozen=True)
class Pinned:
    version: Version
    hashes: int
    marker: str | None


def read_lock(name: str) -> dict[str, Pinned]:
    """``name``'s pins: every requirement line is ``name==version`` followed by its ``--hash`` lines."""
    pins: dict[str, Pinned] = {}
    current: str | None = None
    for line in (LOCKS / name).read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("--hash=sha256:"):
            assert current is not None, f"{name}: a hash before any requirement"
            pin = pins[current]
            pins[current] = Pinned(pin.version, pin.hashes + 1, pin.marker)
            continue
        match = PIN.match(stripped)
        assert match, f"{name}: not an exact pin: {stripped!r}"
        current = canonicalize_name(match["name"])
        assert current not in pins, f"{name}: {current} twice"
        pins[current] = Pinned(Version(match["version"]), 0, match["marker"])
    assert pins, name
    return pins


def project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements(extra: str | None) -> list[Requirement]:
    meta = project()["project"]
    listed = list(meta["dependencies"])  # type: ignore[index]
    if extra:
        listed += meta["optional-dependencies"][extra]  # type: ignore[index]
    return [Requirement(r) for r in listed if not r.startswith("k8sta")]


@pytest.mark.parametrize("name", ["cmp.txt", "daemon.txt", "build.txt", "dev.txt"])
def test_every_pin_is_exact_and_hashed(name: str) -> None:
    for package, pin in read_lock(name).items():
        assert pin.hashes >= 1, f"{name}: {package} has no --hash"


@pytest.mark.parametrize(("name", "extra"), [("cmp.txt", None), ("daemon.txt", "daemon"), ("dev.txt", "dev")])
def test_each_lock_satisfies_what_pyproject_asks_for(name: str, extra: str | None) -> None:
    pins = read_lock(name)
    for requirement in requirements(extra):
        package = canonicalize_name(requirement.name)
        assert package in pins, f"{name} lacks {requirement} (run `make lock`)"
        assert requirement.specifier.contains(pins[package].version, prereleases=True), (
            f"{name} pins {package}=={pins[package].version}, pyproject.toml asks {requirement} (run `make lock`)")


def test_the_devstacks_requirements_are_locked_too() -> None:
    devstack = tomllib.loads((ROOT / "devstack" / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = read_lock("dev.txt")
    for requirement in (Requirement(r) for r in devstack if not r.startswith("k8sta")):
        assert requirement.specifier.contains(pins[canonicalize_name(requirement.name)].version, prereleases=True)


def test_the_build_backend_is_locked() -> None:
    [backend] = [Requirement(r) for r in project()["build-system"]["requires"]]  # type: ignore[index]
    pin = read_lock("build.txt")[canonicalize_name(backend.name)]
    assert backend.specifier.contains(pin.version)


@pytest.mark.parametrize("name", ["cmp.txt", "daemon.txt", "build.txt"])
def test_the_images_ship_the_versions_the_tests_run(name: str) -> None:
    """What an image installs is what `make venv` installs, so the suite tests the shipped versions."""
    dev = read_lock("dev.txt")
    for package, pin in read_lock(name).items():
        assert dev[package].version == pin.version, f"{name}: {package} {pin.version}, dev.txt {dev[package].version}"


def test_make_venv_installs_only_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "requirements/dev.txt" in recipe.splitlines()[0]  # a new lock rebuilds the venv
    installs = [line.strip() for line in recipe.splitlines() if "pip install" in line]
    assert installs[0].endswith("--require-hashes --no-deps -r requirements/dev.txt")
    for line in installs[1:]:  # the editable installs bring nothing of their own
        assert "--no-deps" in line and "--no-build-isolation" in line, line
    assert any("pip check" in line for line in recipe.splitlines())


@pytest.mark.parametrize(("dockerfile", "lock"), [("Dockerfile.daemon", "daemon.txt"), ("Dockerfile.cmp", "cmp.txt")])
def test_the_images_install_only_from_the_lock(dockerfile: str, lock: str) -> None:
    text = (ROOT / dockerfile).read_text().replace("\\\n", " ")
    fetches = [line for line in text.splitlines()
               if re.search(r"pip (wheel|install)", line) and not line.lstrip().startswith("#")]
    assert fetches
    for line in fetches:
        for command in re.split(r"&&", line):
            if not re.search(r"pip (wheel|install)", command):
                continue
            # Each fetch is hash-checked from a lock, or builds/installs without the network.
            assert ("--require-hashes" in command and "-r requirements/" in command) or "--no-index" in command \
                or ("--no-deps" in command and "--no-build-isolation" in command), command
    assert f"-r requirements/{lock}" in text and "-r requirements/build.txt" in text
