"""``python -m k8sta_devstack up|down|status|demo|cluster-up|cluster-down``: the stack for humans, detached
from the terminal (cluster-*: the real node, ``node/session.py``).

``up`` starts the stack in a state directory (``$K8STA_DEVSTACK_DIR``, default
``<cache>/devstack``), writes ``stack.json`` there and returns; the processes keep running in their
own sessions. ``down`` stops exactly the processes recorded there (checked by start time, so a reused
pid is never signalled) and removes the directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from k8sta_devstack import binaries, processes, stack

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def default_state_dir() -> Path:
    explicit = os.environ.get("K8STA_DEVSTACK_DIR")
    return Path(explicit) if explicit else binaries.cache_dir() / "devstack"


def load(state_dir: Path) -> stack.Stack | None:
    path = state_dir / stack.STATE_FILE
    if not path.is_file():
        return None
    return stack.Stack.from_json(json.loads(path.read_text()))


def describe(running: stack.Stack) -> str:
    return "\n".join([
        f"kubeconfig:        {running.kubeconfig}",
        f"kube-apiserver:    {running.apiserver_url}",
        f"Argo CD API:       {running.argocd_url}",
        f"Argo CD token:     {running.token_file} (account k8sta, role admin)",
        f"admin password:    {running.admin_password_file}",
        f"logs:              {running.log_dir}/<process>.log",
        f"started in:        {running.startup_seconds:.1f} s",
        "try:              KUBECONFIG=... kubectl get applications -n argocd",
        f"                   curl -H \"Authorization: Bearer $(cat {running.token_file})\" "
        f"{running.argocd_url}/api/v1/applications",
        "stop with:         make stack-down   (python -m k8sta_devstack down)",
    ])


def _ours(state_dir: Path) -> bool:
    return not any(state_dir.iterdir()) or (state_dir / stack.MARKER_FILE).is_file()


def _alive(running: stack.Stack) -> list[str]:
    return [p.name for p in running.processes if processes.alive(p.pid, p.start_time)]


def up(state_dir: Path) -> int:
    existing = load(state_dir)
    if existing is not None:
        if len(_alive(existing)) == len(existing.processes):
            print("k8sta devstack is already running.\n" + describe(existing))
            return EXIT_OK
        print("k8sta devstack: a previous stack is partly down; stopping its remains", file=sys.stderr)
        down(state_dir)
    elif state_dir.exists():
        if not _ours(state_dir):
            print(f"k8sta devstack: {state_dir} exists and is not a devstack state directory; "
                  "choose another --state-dir", file=sys.stderr)
            return EXIT_FAILED
        shutil.rmtree(state_dir)  # the remains (logs) of a failed start
    print(f"k8sta devstack: starting in {state_dir} ...", flush=True)
    sup = processes.Supervisor(state_dir / "logs")
    try:
        started = stack.start(state_dir, sup)
    except BaseException as exc:
        sup.stop_all()
        print(f"k8sta devstack: start failed: {exc}\n(logs kept in {state_dir / 'logs'})", file=sys.stderr)
        return EXIT_FAILED
    started.write_state()
    print(describe(started))
    return EXIT_OK


def down(state_dir: Path) -> int:
    existing = load(state_dir)
    if existing is None:
        print(f"k8sta devstack: nothing recorded in {state_dir}; nothing to stop")
        return EXIT_OK
    stack.stop(existing)
    left = _alive(existing)
    if left:
        print(f"k8sta devstack: still running after stop: {', '.join(left)}", file=sys.stderr)
        return EXIT_FAILED
    if _ours(state_dir):
        shutil.rmtree(state_dir, ignore_errors=True)
    print(f"k8sta devstack: stopped {len(existing.processes)} processes, removed {state_dir}")
    return EXIT_OK


def status(state_dir: Path) -> int:
    existing = load(state_dir)
    if existing is None:
        print("k8sta devstack: not running")
        return EXIT_FAILED
    alive = set(_alive(existing))
    for proc in existing.processes:
        print(f"{proc.name:32} pid {proc.pid:<8} {'running' if proc.name in alive else 'STOPPED'}  {proc.log}")
    print(describe(existing))
    return EXIT_OK if len(alive) == len(existing.processes) else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k8sta_devstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=None, help="default: $K8STA_DEVSTACK_DIR or "
                        "<cache>/devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the stack in the background and print how to reach it")
    sub.add_parser("down", help="stop the stack started by up")
    sub.add_parser("status", help="show the recorded processes and whether they run")
    sub.add_parser("demo", help="the main job: a change rides dev -> staging -> prod -> eu/us on the stack")
    sub.add_parser("cluster-up", help="the real node (kubelet + containerd) with Argo CD as pods, detached")
    sub.add_parser("cluster-down", help="stop what cluster-up started and leave the host as found")
    args = parser.parse_args(argv)
    state_dir = (args.state_dir or default_state_dir()).resolve()
    try:
        if args.command == "up":
            return up(state_dir)
        if args.command == "down":
            return down(state_dir)
        if args.command == "status":
            return status(state_dir)
        if args.command in ("cluster-up", "cluster-down"):
            from k8sta_devstack.node import images as node_images
            from k8sta_devstack.node import session

            where = (args.state_dir or session.default_state_dir()).resolve()
            try:
                return session.up(where) if args.command == "cluster-up" else session.down(where)
            except node_images.NodeImagesMissing as exc:
                print(f"k8sta cluster: {exc}", file=sys.stderr)
                return EXIT_FAILED
    except binaries.MissingTool as exc:
        print(f"k8sta devstack: {exc}", file=sys.stderr)
        return EXIT_FAILED
    from k8sta_devstack import demo  # imports the daemon; up/down/status stay light

    return demo.main(state_dir)
