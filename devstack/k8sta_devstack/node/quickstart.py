"""K8sTA installed onto the real node by running README.md's "Quickstart on a real cluster" itself.

The README's shell block is the install: this module reads it from README.md and runs it, step by step
(each ``# N.`` comment starts a step), in a copy of the repository's ``kustomize/`` directory, with the
tools on ``PATH`` that an operator has (kubectl, kustomize, argocd logged in as admin). Two lines are
the operator's own and are replaced, each for a stated reason:

- ``REGISTRY=… TAG=…``: where the operator pushed the images; here the node's mirror
  (``registry.k8sta.test/k8sta``, tag ``dev``, from ``make node-images``).
- ``kubectl apply … -k kustomize/argocd-patch``: that example fetches Argo CD's manifests from GitHub,
  which this machine cannot reach; the devstack's Argo CD overlay (``argocd_install``) is the same
  kustomization with a local copy of them, and it takes the sidecar component from the copy the
  README's step 0 just edited.

A step the README lacks is missing from the install too, so the tests find it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from k8sta_devstack import binaries

SECTION = "## Quickstart on a real cluster"
_STEP = re.compile(r"^# (\d+)\. ")
_ASSIGN = re.compile(r"^REGISTRY=\S+ TAG=\S+")
_ARGOCD_PATCH = "kubectl apply --server-side -k kustomize/argocd-patch"


class QuickstartError(RuntimeError):
    """The README's block is not what this runner understands, or one of its steps failed."""


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    script: str


def readme_block(readme: Path) -> str:
    """The first ``bash`` block of the Quickstart section."""
    text = readme.read_text()
    start = text.find(SECTION)
    if start < 0:
        raise QuickstartError(f"{readme} has no section {SECTION!r}")
    found = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    if found is None:
        raise QuickstartError(f"{SECTION!r} in {readme} has no ```bash block")
    return found.group(1)


def steps(block: str, registry: str, tag: str, argocd_apply: str) -> list[Step]:
    """The block cut at its ``# N.`` comments, the operator's two lines replaced (module docstring)."""
    found: list[Step] = []
    assignment = None
    current: list[str] = []
    number, title = -1, ""
    for line in block.splitlines():
        step = _STEP.match(line)
        if step:
            if number >= 0:
                found.append(Step(number, title, "\n".join(current)))
            number, title, current = int(step.group(1)), line[step.end():].strip(), []
            continue
        if _ASSIGN.match(line):
            assignment = f"REGISTRY={registry} TAG={tag}"
            line = assignment
        elif line.strip() == _ARGOCD_PATCH:
            line = argocd_apply
        current.append(line)
    if number >= 0:
        found.append(Step(number, title, "\n".join(current)))
    if assignment is None:
        raise QuickstartError("the Quickstart block names no `REGISTRY=... TAG=...` line for the images")
    if not any(_ARGOCD_PATCH in s.script or argocd_apply in s.script for s in found):
        raise QuickstartError(f"the Quickstart block has no `{_ARGOCD_PATCH}` step")
    # Every step sees the image names, as one shell session would.
    return [Step(s.number, s.title, s.script if assignment in s.script else f"{assignment}\n{s.script}")
            for s in found]


@dataclass(frozen=True)
class Operator:
    """An operator's shell: tools on PATH, KUBECONFIG, argocd logged in, a scratch working directory."""

    workdir: Path
    env: Mapping[str, str]

    def run(self, script: str, what: str, timeout: float = 300) -> str:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=self.workdir, env=dict(self.env),
                              capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise QuickstartError(f"{what} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
        return done.stdout


def operator(workdir: Path, kubeconfig: Path, argocd_address: str, admin_password: str) -> Operator:
    """A shell with kubectl, kustomize and argocd (logged in to ``argocd_address`` as admin), and a copy
    of ``kustomize/`` to edit, as a clone of this repository gives an operator."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(Path(binaries.REPO_ROOT) / "kustomize", workdir / "kustomize", dirs_exist_ok=True)
    bin_dir = workdir / ".bin"
    bin_dir.mkdir(exist_ok=True)
    tools = binaries.locate()
    for name, path in (("kubectl", binaries.locate_node().kubectl), ("kustomize", tools.kustomize),
                       ("argocd", tools.argocd)):
        link = bin_dir / name
        if not link.exists():
            link.symlink_to(path)  # argocd is a multi-call binary: the name `argocd` selects the CLI
    env = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8",
           "KUBECONFIG": str(kubeconfig)}
    shell = Operator(workdir, env)
    _login(shell, argocd_address, admin_password)
    return shell


def _login(shell: Operator, address: str, password: str) -> None:
    """``argocd login`` as admin; the password goes through the environment of that one run, never argv."""
    env = {**shell.env, "K8STA_ADMIN_PASSWORD": password}
    done = subprocess.run(["bash", "-c", f'argocd login {address} --username admin --password '
                                         '"$K8STA_ADMIN_PASSWORD" --insecure --grpc-web'],
                          cwd=shell.workdir, env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise QuickstartError(f"argocd login {address} failed: {done.stderr.strip()[-500:]}")


def argocd_apply_line(overlay: Path) -> str:
    return f"kubectl apply --server-side --force-conflicts -k {overlay}"


def run(readme: Path, shell: Operator, registry: str, tag: str, argocd_overlay: Callable[[Path], Path],
        between: Callable[[Step], None] | None = None) -> list[Step]:
    """Run the README's steps in ``shell``; ``argocd_overlay(component_dir)`` writes the Argo CD overlay
    using the edited sidecar component; ``between`` is called after each step (the tests look at the
    cluster there, e.g. the controller pod waiting for its token)."""
    overlay = argocd_overlay(shell.workdir / "kustomize" / "components" / "cmp-sidecar")
    found = steps(readme_block(readme), registry, tag, argocd_apply_line(overlay))
    for step in found:
        shell.run(step.script, f"README Quickstart step {step.number} ({step.title})")
        if between is not None:
            between(step)
    return found


def default_readme() -> Path:
    return Path(binaries.REPO_ROOT) / "README.md"

