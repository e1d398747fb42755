"""Benchmark: a git mirror's disk use after 1,000 pushes, without and with the background ``git gc --auto``.

Each push is what ``appbranch.promote`` does to the mirror, minus the render: fetch the remote, write
an app-branch commit (metadata, a ~20 KB rendered file and the wrapper as new blobs, their trees, a
commit) and push it with ``git push`` (``push.push``), then ``Mirror.pushed`` (which, every
``--every`` pushes, runs ``git gc --auto`` in a background thread). Prints one line per variant and:
    mirror after 1000 pushes: without gc X MB (N files), with gc Y MB (M files)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

from k8sta_daemon.adapters.git import mirror as mirror_module
from k8sta_daemon.adapters.git import push
from k8sta_daemon.adapters.git.mirror import Mirror


def disk(path: Path) -> tuple[int, int]:
    """Bytes on disk (allocated blocks, as du counts them) and files."""
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files), len(files)


def run(pushes: int, every: int, tmp: Path) -> tuple[int, int, float]:
    remote = tmp / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(remote)], check=True)
    mirror = Mirror.open(str(remote), cache_dir=tmp / "mirrors")
    repo, signature, head = mirror.repo, pygit2.Signature("bench", "bench@k8sta.invalid"), None
    threads = []
    started = time.perf_counter()
    for i in range(pushes):
        mirror.fetch()
        builder = repo.TreeBuilder()
        k8sta = repo.TreeBuilder()
        k8sta.insert("metadata.yaml", repo.create_blob(f"ticket: t-{i}\n".encode() * 20), FileMode.BLOB)
        k8sta.insert("rendered.yaml", repo.create_blob((f"kind: ConfigMap # {i}\n" * 800).encode()),
                     FileMode.BLOB)
        k8sta.insert("kustomization.yaml", repo.create_blob(f"resources: [../env/{i % 3}]\n".encode()),
                     FileMode.BLOB)
        builder.insert(".k8sta", k8sta.write(), FileMode.TREE)
        sha = str(repo.create_commit(None, signature, signature, f"push {i}", builder.write(),
                                     [pygit2.Oid(hex=head)] if head else []))
        push.push(mirror, [push.RefUpdate(branch="env/bench", new=sha, expected=head)])
        mirror.record_push("env/bench", sha)
        head = sha
        thread = mirror.pushed(every=every)
        if thread is not None:
            threads.append(thread)
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    size, files = disk(mirror.path)
    return size, files, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=1000)
    parser.add_argument("--every", type=int, default=mirror_module.GC_EVERY)
    args = parser.parse_args()
    results = {}
    for label, every in (("without gc", args.pushes * 10), ("with gc", args.every)):
        with tempfile.TemporaryDirectory(prefix="k8sta-bench-mirror-") as tmp:
            size, files, elapsed = run(args.pushes, every, Path(tmp))
        results[label] = (size, files)
        print(f"{label}: {size / 1e6:.1f} MB in {files} files after {args.pushes} pushes ({elapsed:.0f} s, "
              f"load average {os.getloadavg()[0]:.1f})", flush=True)
    (a, na), (b, nb) = results["without gc"], results["with gc"]
    print(f"mirror after {args.pushes} pushes: without gc {a / 1e6:.1f} MB ({na} files), "
          f"with gc {b / 1e6:.1f} MB ({nb} files)")


if __name__ == "__main__":
    main()
