"""Benchmark: ``k8sta-cmp generate`` against bare ``kustomize build`` doing exactly the same work.

The plugin is measured as the sidecar image runs it: installed as a regular wheel (not the
development venv's editable install, whose import hook adds ~70 ms to every process start) into a
venv under the cache, on a branch the daemon signed (contract v2, ``K8STA_INPUT_KEY_FILE``).

Like with like: the bare run is the plugin's own kustomize invocation (``early.build_argv`` on the
same checkout's ``.k8sta``, the same sandbox environment with a fresh HOME, stdout to a private file
that is then read back), so the only difference is the plugin itself. Runs alternate ABBA so a
drifting machine load hits both alike. Each figure is the median of the wall time and of the CPU
time (user+sys of the process and its children: kustomize), with the load average beside it; on a
shared machine the CPU ratio is the one to trust.

Prints per-size medians and a final line:
    cmp/kustomize median ratio: 50 resources X.XX, 2000 resources Y.YY   (CPU time)
Targets: <= 1.15 at 50 resources, <= 1.02 at 2,000.
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

from k8sta_cmp import contract, early, generate, inputs, render, safety
from k8sta_cmp.kustomize import Kustomize, default_cache_dir

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("deployment", "service", "configmap")
KEY = b"bench-input-key-not-a-secret-0123456789"


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


def make_branch(root: Path, count: int, kustomize: Kustomize, key: bytes | None = KEY,
                timeout: float = 3600.0, application: str = "bench") -> None:
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
    rendered = render.render(root, "env/bench", images, kustomize, safety.Limits(), timeout=timeout)
    entries = [e for e in inputs.tree_entries(str(root)) if not e[2].startswith(".k8sta/")]
    meta = contract.BranchMetadata(
        ticket=contract.ObjectRef("bench", "t"), track="bench", station="bench",
        application=contract.ObjectRef("argocd", application), source=contract.Source("main", "0" * 40, "0" * 40),
        kustomization="env/bench", images=images, renderer=generate.running_versions(kustomize),
        rendered_sha256=rendered.sha256)
    for rel, data in contract.branch_files(meta, rendered.manifests, input_entries=entries, key=key).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def plugin_venv(cache: Path) -> Path:
    """A venv with the package installed as a regular wheel, rebuilt when the sources change."""
    venv = cache / "bench-venv"
    stamp = venv / ".source-mtime"
    newest = str(max(p.stat().st_mtime for p in (ROOT / "cmp").rglob("*") if p.is_file()))
    if not (stamp.is_file() and stamp.read_text() == newest):
        # (a bench already running on this venv breaks if it is rebuilt under it: run one at a time)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        with tempfile.TemporaryDirectory() as src:  # build from a copy: no build/ left in the repo
            shutil.copytree(ROOT, src, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".venv", ".git", "build"))
            subprocess.run([str(venv / "bin/pip"), "install", "--quiet", src], check=True)
        # As Dockerfile.cmp does: no setuptools (its .pth runs at every start), our launcher.
        subprocess.run([str(venv / "bin/pip"), "uninstall", "--yes", "--quiet", "setuptools"], check=True)
        shebang, _, body = (ROOT / "cmp/bin/k8sta-cmp").read_text().partition("\n")
        _, _, flags = shebang.partition(" ")  # the image's venv python, and its flags
        launcher = f"#!{venv / 'bin/python3'} {flags}\n{body}"
        (venv / "bin/k8sta-cmp").write_text(launcher)
        stamp.write_text(newest)
    return venv / "bin/k8sta-cmp"


class Sample:
    def __init__(self, wall: float, cpu: float) -> None:
        self.wall, self.cpu = wall, cpu


def timed(cmd: list[str], cwd: Path, env: dict[str, str], stdout_path: Path | None = None) -> Sample:
    """Wall and CPU (user+sys of the process and its waited-for children) of one run."""
    sink = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=sink, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if stdout_path:
        sink.close()  # type: ignore[union-attr]
        stdout_path.read_bytes()  # what the plugin does with kustomize's output
    elapsed = time.perf_counter() - start
    err = proc.stderr.read() if proc.stderr else b""
    if os.waitstatus_to_exitcode(status) != 0 or err:
        raise SystemExit(f"bench: {cmd[0]} failed or warned: {err.decode().strip()}")
    proc.returncode = 0
    return Sample(elapsed, usage.ru_utime + usage.ru_stime)


def measure(count: int, runs: int, plugin: Path, kustomize: Kustomize) -> float:
    with tempfile.TemporaryDirectory(prefix=f"k8sta-bench-{count}-") as tmp:
        branch = Path(tmp) / "branch"
        make_branch(branch, count, kustomize)
        key_file = Path(tmp) / "input-key"
        key_file.write_bytes(KEY)
        home = Path(tmp) / "home"
        home.mkdir()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "K8STA_RENDER_TIMEOUT": "3600",
               "K8STA_KUSTOMIZE": str(kustomize.path), inputs.KEY_ENV: str(key_file), "TMPDIR": tmp}
        bare_env = {**early.SANDBOX_ENV, "HOME": str(home)}
        cmp_cmd = [str(plugin), "generate"]
        bare_cmd = early.build_argv(str(kustomize.path), str(branch / early.WRAPPER_DIR))
        out = Path(tmp) / "bare-out"
        timed(cmp_cmd, branch, env)  # warm the page cache for both
        timed(bare_cmd, branch, bare_env, out)
        cmp_s: list[Sample] = []
        bare_s: list[Sample] = []
        loads = [os.getloadavg()[0]]
        for i in range(runs):
            pair = [(cmp_s, cmp_cmd, env, None), (bare_s, bare_cmd, bare_env, out)]
            for into, cmd, environ, sink in (pair if i % 2 == 0 else pair[::-1]):  # ABBA
                into.append(timed(cmd, branch, environ, sink))
            loads.append(os.getloadavg()[0])
    cmp_wall, bare_wall = (statistics.median(s.wall for s in xs) for xs in (cmp_s, bare_s))
    cmp_cpu, bare_cpu = (statistics.median(s.cpu for s in xs) for xs in (cmp_s, bare_s))
    print(f"{count:>5} resources: k8sta-cmp wall {cmp_wall * 1000:8.1f} ms cpu {cmp_cpu * 1000:8.1f} ms | "
          f"kustomize wall {bare_wall * 1000:8.1f} ms cpu {bare_cpu * 1000:8.1f} ms | ratio wall "
          f"{cmp_wall / bare_wall:.2f} cpu {cmp_cpu / bare_cpu:.2f} ({runs} runs each, load average "
          f"{min(loads):.1f}-{max(loads):.1f})", flush=True)
    return cmp_cpu / bare_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-small", type=int, default=21)
    parser.add_argument("--runs-large", type=int, default=6)
    parser.add_argument("--sizes", default="50,2000", help="resource counts (default: 50,2000)")
    args = parser.parse_args()
    environ = dict(os.environ)
    kustomize = Kustomize.locate(environ)
    plugin = plugin_venv(default_cache_dir(environ))
    sizes = [int(n) for n in args.sizes.split(",")]
    ratios = [measure(n, args.runs_small if n <= 100 else args.runs_large, plugin, kustomize) for n in sizes]
    figures = ", ".join(f"{n} resources {r:.2f}" for n, r in zip(sizes, ratios, strict=True))
    print(f"cmp/kustomize median ratio: {figures}")


if __name__ == "__main__":
    main()
