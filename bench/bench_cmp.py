"""Benchmark: ``k8sta-cmp generate`` against bare ``kustomize build`` on the same inputs.

The plugin is measured as the sidecar image runs it: installed as a regular wheel (not the
development venv's editable install, whose import hook adds ~70 ms to every process start) into a
venv under the cache. Both commands build the same kustomization (the plugin's wrapper with pinned
images over the overlay), interleaved run by run so machine noise hits both alike.

Prints per-size medians and a final line:
    cmp/kustomize median ratio: 50 resources X.XX, 2000 resources Y.YY
Targets: <= 1.30 at 50 resources, <= 1.05 at 2,000.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from k8sta_cmp import contract, generate, render, safety
from k8sta_cmp.kustomize import Kustomize, default_cache_dir

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("deployment", "service", "configmap")


def resource(kind: str, i: int) -> str:
    if kind == "deployment":
        return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels: {{app: app-{i}}}\n"
                f"spec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: app-{i}}}\n  template:\n"
                f"    metadata:\n      labels: {{app: app-{i}}}\n    spec:\n      containers:\n"
                f"      - name: main\n        image: ghcr.io/acme/app-{i % 10}:latest\n"
                f"        ports: [{{containerPort: 8080}}]\n        env: [{{name: INDEX, value: '{i}'}}]\n")
    if kind == "service":
        return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n  selector: {{app: app-{i}}}\n"
                f"  ports: [{{port: 80, targetPort: 8080}}]\n")
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  key: value-{i}\n"


def make_branch(root: Path, count: int, kustomize: Kustomize) -> None:
    names = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        path = root / "base" / f"{kind}-{i}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(resource(kind, i))
        names.append(path.name)
    (root / "base/kustomization.yaml").write_text("resources:\n" + "".join(f"- {n}\n" for n in names))
    overlay = root / "env/bench"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text("resources: [../../base]\nnamespace: bench\n")
    images = tuple(contract.ImagePin(f"ghcr.io/acme/app-{i}", f"1.{i}.0", "sha256:" + f"{i:02d}" * 32)
                   for i in range(10))
    rendered = render.render(root, "env/bench", images, kustomize, safety.Limits())
    meta = contract.BranchMetadata(
        ticket=contract.ObjectRef("bench", "t"), track="bench", station="bench",
        application=contract.ObjectRef("argocd", "bench"), source=contract.Source("main", "0" * 40, "0" * 40),
        kustomization="env/bench", images=images, renderer=generate.running_versions(kustomize),
        rendered_sha256=rendered.sha256)
    for rel, data in contract.branch_files(meta, rendered.manifests).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    # The bare run builds the very same (committed) wrapper kustomization in a copy of the branch.
    shutil.copytree(root, root.parent / "bare")


def plugin_venv(cache: Path) -> Path:
    """A venv with the package installed as a regular wheel, rebuilt when the sources change."""
    venv = cache / "bench-venv"
    stamp = venv / ".source-mtime"
    newest = str(max(p.stat().st_mtime for p in (ROOT / "cmp").rglob("*.py")))
    if not (stamp.is_file() and stamp.read_text() == newest):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        with tempfile.TemporaryDirectory() as src:  # build from a copy: no build/ left in the repo
            shutil.copytree(ROOT, src, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".venv", ".git", "build"))
            subprocess.run([str(venv / "bin/pip"), "install", "--quiet", src], check=True)
        stamp.write_text(newest)
    return venv / "bin/k8sta-cmp"


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench: {cmd[0]} failed: {done.stderr.decode().strip()}")
    return elapsed


def measure(count: int, runs: int, plugin: Path, kustomize: Kustomize) -> float:
    with tempfile.TemporaryDirectory(prefix=f"k8sta-bench-{count}-") as tmp:
        branch = Path(tmp) / "branch"
        make_branch(branch, count, kustomize)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", tmp), "K8STA_RENDER_TIMEOUT": "900",
               "K8STA_KUSTOMIZE": str(kustomize.path)}
        cmp_cmd = [str(plugin), "generate"]
        bare_cmd = [str(kustomize.path), "build", "--load-restrictor", "LoadRestrictionsRootOnly",
                    str(Path(tmp) / "bare" / Path(contract.WRAPPER_PATH).parent)]
        for _ in range(1):  # warm the page cache for both
            timed(cmp_cmd, branch, env)
            timed(bare_cmd, branch, env)
        cmp_times, bare_times = [], []
        for _ in range(runs):
            cmp_times.append(timed(cmp_cmd, branch, env))
            bare_times.append(timed(bare_cmd, branch, env))
    cmp_median, bare_median = statistics.median(cmp_times), statistics.median(bare_times)
    print(f"{count:>5} resources: k8sta-cmp median {cmp_median * 1000:7.1f} ms, kustomize median "
          f"{bare_median * 1000:7.1f} ms, overhead {(cmp_median - bare_median) * 1000:6.1f} ms "
          f"({runs} runs each)", flush=True)
    return cmp_median / bare_median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-small", type=int, default=21)
    parser.add_argument("--runs-large", type=int, default=5)
    args = parser.parse_args()
    environ = dict(os.environ)
    kustomize = Kustomize.locate(environ)
    plugin = plugin_venv(default_cache_dir(environ))
    small = measure(50, args.runs_small, plugin, kustomize)
    large = measure(2000, args.runs_large, plugin, kustomize)
    print(f"cmp/kustomize median ratio: 50 resources {small:.2f}, 2000 resources {large:.2f}")


if __name__ == "__main__":
    main()
