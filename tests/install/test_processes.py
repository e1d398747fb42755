"""The Deployments' own commands, run as processes: each starts, answers the probe its Deployment
declares, and writes nothing outside its emptyDir mounts (the pods have a read-only root filesystem).

A container's mounts are mapped to temporary directories (emptyDirs and the token Secret), every path
in its args and env is rewritten accordingly, HOME and the working directory are fresh directories
that must stay empty. The controller also needs the local stack (Kubernetes, Argo CD) and runs as its
installed ServiceAccount.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from k8sta_cmp.kustomize import Kustomize
from k8sta_devstack import pki, processes
from k8sta_devstack.stack import Stack

from . import rbac
from .cluster import account_kubeconfig
from .kustomizations import Built

Obj = dict[str, Any]
BIN = Path(sys.executable).parent
POD_NAME = "k8sta-controller-7d9f-test"


@dataclass
class Sandbox:
    """Local stand-ins for one container's filesystem: its mounts, HOME and working directory."""

    root: Path
    mounts: dict[str, Path]  # mountPath -> local directory
    home: Path
    cwd: Path

    def local(self, value: str) -> str:
        """``value`` (a path, or ``--flag=path``) with a mounted prefix replaced by its local directory."""
        head, sep, path = value.partition("=") if value.startswith("--") else ("", "", value)
        for mount in sorted(self.mounts, key=len, reverse=True):
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                return f"{head}{sep}{self.mounts[mount]}{path[len(mount):]}"
        return value

    def written_outside_mounts(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for d in (self.home, self.cwd) for p in d.rglob("*"))


def sandbox(deployment: Obj, container: Obj, root: Path, secret_files: dict[str, str]) -> Sandbox:
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts: dict[str, Path] = {}
    for mount in container["volumeMounts"]:
        local = root / mount["name"]
        local.mkdir(parents=True)
        volume = volumes[mount["name"]]
        if "secret" in volume:
            secret = volume["secret"]
            given = [i for i in secret.get("items", ()) if f"{secret['secretName']}/{i['key']}" in secret_files]
            if not given:  # an optional Secret the operator has not created: an empty directory
                assert secret.get("optional"), f"Secret {secret['secretName']} is required: give its files"
            for item in given:
                (local / item["path"]).write_text(secret_files[f"{secret['secretName']}/{item['key']}"])
        elif "configMap" in volume:  # given like a Secret's files: "<ConfigMap name>/<key>"
            config_map = volume["configMap"]
            given = [i for i in config_map.get("items", ()) if f"{config_map['name']}/{i['key']}" in secret_files]
            if not given:
                assert config_map.get("optional"), f"ConfigMap {config_map['name']} is required: give its files"
            for item in given:
                (local / item["path"]).write_text(secret_files[f"{config_map['name']}/{item['key']}"])
        else:
            assert "emptyDir" in volume, f"unexpected volume {mount['name']}"
        mounts[mount["mountPath"]] = local
    home, cwd = root / "home", root / "cwd"
    home.mkdir()
    cwd.mkdir()
    return Sandbox(root, mounts, home, cwd)


def container_env(container: Obj, box: Sandbox) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = box.local(entry["value"])
        elif entry["valueFrom"].get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[entry["name"]] = POD_NAME
        else:
            assert entry["valueFrom"]["secretKeyRef"].get("optional"), entry  # absent Secret: unset
    return {**env, "HOME": str(box.home), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "LANG": "C.UTF-8"}


@contextmanager
def running(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return bytes(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        assert time.monotonic() < deadline, f"{url} did not answer 200 within {timeout}s:\n{log.read_text()[-3000:]}"
        time.sleep(0.3)


def probe_url(container: Obj, kind: str, port: int) -> str:
    return f"http://127.0.0.1:{port}{container[kind]['httpGet']['path']}"


def test_the_web_command_serves_its_probes_and_writes_only_to_its_mounts(base: Built, tmp_path: Path) -> None:
    deployment = base.one("Deployment", "k8sta-web")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    box = sandbox(deployment, container, tmp_path, {})
    port, public = processes.free_port(), processes.free_port()
    # The install's two ports (gunicorn_conf's binds), moved to free ones: probes answer on K8STA_OPS_PORT only.
    env = {**container_env(container, box), "K8STA_OPS_PORT": str(port),
           "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{public} --bind 127.0.0.1:{port} --workers 1"}
    argv = [str(BIN / container["command"][0]), *map(box.local, container["args"])]
    log = tmp_path / "web.log"
    with running(argv, env, box.cwd, log) as proc:
        assert b'"ok"' in wait_http(probe_url(container, "livenessProbe", port), proc, log)
        # Readiness needs the Kubernetes API; here there is none (no service account), so it says why.
        try:
            urllib.request.urlopen(probe_url(container, "readinessProbe", port), timeout=10)
            pytest.fail("ready without a Kubernetes API")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503 and b"the Kubernetes API did not answer" in exc.read()  # why: in the log
    assert box.written_outside_mounts() == []
    text = log.read_text()
    assert "in-cluster service account" in text
    assert "Failed to start control socket" not in text and "Traceback" not in text, text


@pytest.mark.stack
def test_the_controller_command_leads_serves_metrics_and_writes_only_to_its_mounts(
        base: Built, stack: Stack, kube_api: k8s.ApiClient, installed_rbac: None, tmp_path: Path) -> None:
    deployment = base.one("Deployment", "k8sta-controller")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    box = sandbox(deployment, container, tmp_path / "pod",
                  {"k8sta-argocd-token/token": stack.token_file.read_text(),
                   "k8sta-input-key/key": secrets.token_hex(32),  # the recommended install signs inputs
                   # the CA the operator puts in ConfigMap k8sta-argocd-ca (the stack's Argo CD is plain HTTP)
                   "k8sta-argocd-ca/ca.crt": pki.generate_server(tmp_path / "argocd-ca", "argocd-server",
                                                                 ["127.0.0.1"]).ca_cert.read_text()})
    kubeconfig = account_kubeconfig(kube_api, stack.kubeconfig, rbac.NAMESPACE, rbac.CONTROLLER,
                                    tmp_path / "kubeconfig")
    # Its own empty namespace: the e2e tests' controller may share this stack; never act on their tickets.
    namespace = f"install-{secrets.token_hex(3)}"
    k8s.CoreV1Api(kube_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    port = processes.free_port()
    args = [box.local(a) for a in container["args"]]
    args = [f"--metrics-port={port}" if a.startswith("--metrics-port=") else a for a in args]
    argv = [str(BIN / container["command"][0]), *args, f"--kubeconfig={kubeconfig}", f"--namespace={namespace}"]
    env = {**container_env(container, box), "K8STA_KUSTOMIZE": str(Kustomize.locate(dict(os.environ)).path),
           "K8STA_ARGOCD_URL": stack.argocd_url}  # the install's default: https://argocd-server.argocd.svc
    log = tmp_path / "controller.log"
    leases = k8s.CoordinationV1Api(kube_api)
    with running(argv, env, box.cwd, log) as proc:
        metrics = wait_http(probe_url(container, "livenessProbe", port), proc, log)
        assert b"# TYPE" in metrics
        deadline = time.monotonic() + 40  # a Lease left by an earlier run must expire first
        while True:
            try:
                holder = leases.read_namespaced_lease(rbac.LEASE, rbac.NAMESPACE).spec.holder_identity
            except k8s.ApiException:
                holder = None
            if holder == POD_NAME:
                break
            assert proc.poll() is None and time.monotonic() < deadline, f"lease held by {holder}:\n{log.read_text()}"
            time.sleep(0.5)
    assert box.written_outside_mounts() == []
    text = log.read_text()
    assert "forbidden" not in text.lower() and "Traceback" not in text, text
