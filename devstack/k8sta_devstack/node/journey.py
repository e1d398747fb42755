"""A ticket's journey on the real node: config repositories served over HTTPS and SSH from inside the node's
network namespace, the credentials and trust Argo CD and K8sTA read, and a sample railway
dev -> staging -> prod (prod an Argo Rollouts canary on KWOK pods) whose Applications use those URLs.

Callers: ``tests/cluster`` and ``make demo-cluster``, so both ride the same world. Pods reach the servers
at the node's address (``netns.NODE_IP``), as pods reach a git server outside the cluster; everything a
user would create (Argo CD repository Secrets, ``argocd-tls-certs-cm``, ``argocd-ssh-known-hosts-cm``,
K8sTA's write credentials in ``k8sta``) is created here the way docs/operations.md says.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from k8sta_daemon.adapters.git import messages
from k8sta_devstack import processes, railway
from k8sta_devstack.gitrepo import ConfigRepo
from k8sta_devstack.node import gitservers, netns

HTTPS_PORT, SSH_PORT = 8443, 2222
K8STA_NAMESPACE = "k8sta"
ARGOCD_NAMESPACE = railway.ARGOCD_NS
SECRET_TYPE = "argocd.argoproj.io/secret-type"
UNUSED_ANALYSIS = "http://127.0.0.1:9/verdict"  # an AnalysisTemplate no canary step runs
# A cluster operator's node-pool steering (apiserver admission plugins PodNodeSelector and
# PodTolerationRestriction): pods of an annotated namespace go to the real node, the product's install
# stays unchanged. Sample workloads (their own namespaces) land on the KWOK node.
STEER_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": "k8sta.io/node=real",
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
        [{"key": "k8sta.io/node", "operator": "Equal", "value": "real", "effect": "NoSchedule"}]),
}


@dataclass(frozen=True)
class ServedRepo(ConfigRepo):
    """A bare repository written locally (``commit``) and served to pods at ``served_url``."""

    served_url: str = ""

    @property
    def url(self) -> str:
        return self.served_url


@dataclass(frozen=True)
class GitServing:
    repos: Path
    https: gitservers.HttpsServer
    ssh: gitservers.SshServer

    def https_repo(self, name: str) -> ServedRepo:
        bare = ConfigRepo.create(self.repos / f"{name}.git")
        return ServedRepo(bare.path, self.https.repo_url(name))

    def ssh_repo(self, name: str) -> ServedRepo:
        bare = ConfigRepo.create(self.repos / f"{name}.git")
        return ServedRepo(bare.path, self.ssh.repo_url(name))


def serve_git(state: Path, sup: processes.Supervisor, ns: netns.Netns) -> GitServing:
    """Both servers on the node's address inside its namespace, serving ``state/repos``."""
    repos = state / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    launcher = ns.launcher()
    https = gitservers.start_https(state / "https", sup, repos=repos, address=netns.NODE_IP, port=HTTPS_PORT,
                                   launcher=launcher)
    ssh = gitservers.start_ssh(state / "ssh", sup, repos=repos, address=netns.NODE_IP, port=SSH_PORT,
                               launcher=launcher)
    return GitServing(repos, https, ssh)


def steer_namespace(api: k8s.ApiClient, name: str) -> None:
    """Create (or annotate) ``name`` so its pods run on the real node."""
    core = k8s.CoreV1Api(api)
    body = {"metadata": {"name": name, "annotations": STEER_ANNOTATIONS}}
    try:
        core.create_namespace(body)
    except k8s.ApiException as exc:
        if exc.status != 409:
            raise
        core.patch_namespace(name, body)


def repo_secret(name: str, namespace: str, kind: str, data: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": {SECRET_TYPE: kind}}, "stringData": data}


def _apply_secret(core: k8s.CoreV1Api, body: dict[str, Any]) -> None:
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        core.create_namespaced_secret(namespace, body)
    except k8s.ApiException as exc:
        if exc.status != 409:
            raise
        core.replace_namespaced_secret(name, namespace, body)


def https_credentials(serving: GitServing, password: str | None = None) -> dict[str, str]:
    return {"url": serving.https.url, "username": serving.https.username,
            "password": serving.https.password if password is None else password}


def ssh_credentials(serving: GitServing) -> dict[str, str]:
    return {"url": serving.ssh.url + "/", "sshPrivateKey": serving.ssh.client_key.read_text()}


def trust_and_credentials(api: k8s.ApiClient, serving: GitServing) -> None:
    """What docs/operations.md has an operator create for a config repository on these servers:
    Argo CD's credential templates (``repo-creds``, by URL prefix) and trust (the CA under the host in
    ``argocd-tls-certs-cm``, the host key in ``argocd-ssh-known-hosts-cm``), and K8sTA's own write
    credentials in ``k8sta``."""
    core = k8s.CoreV1Api(api)
    for namespace in (ARGOCD_NAMESPACE, K8STA_NAMESPACE):
        _apply_secret(core, repo_secret("config-https", namespace, "repo-creds", https_credentials(serving)))
        _apply_secret(core, repo_secret("config-ssh", namespace, "repo-creds", ssh_credentials(serving)))
    core.patch_namespaced_config_map("argocd-tls-certs-cm", ARGOCD_NAMESPACE,
                                     {"data": {netns.NODE_IP: serving.https.ca_cert.read_text()}})
    add_known_host(core, serving.ssh.known_hosts_line)


def wait_trust_mounted(kubectl_bin: Path, kubeconfig: Path, serving: GitServing, timeout: float = 240) -> None:
    """Wait until Argo CD's repo-server sees the CA and the host key. It reads both ConfigMaps from
    mounted volumes, which the kubelet refreshes on its own sync (about a minute); a render before that
    fails with "certificate signed by unknown authority", and Argo CD tries the Application again only
    at its next reconciliation (about two minutes later)."""
    ca = serving.https.ca_cert.read_text().strip()
    host_key = serving.ssh.known_hosts_line.strip()

    def mounted() -> bool:
        done = subprocess.run([str(kubectl_bin), f"--kubeconfig={kubeconfig}", "-n", ARGOCD_NAMESPACE, "exec",
                               "deploy/argocd-repo-server", "-c", "argocd-repo-server", "--", "cat",
                               f"/app/config/tls/{netns.NODE_IP}", "/app/config/ssh/ssh_known_hosts"],
                              capture_output=True, text=True, timeout=60, check=False)
        return done.returncode == 0 and ca in done.stdout and host_key in done.stdout
    wait("Argo CD's repo-server to see the git servers' CA and host key (mounted ConfigMaps)", mounted, timeout)


def add_known_host(core: k8s.CoreV1Api, line: str) -> None:
    """Append ``line`` to ``argocd-ssh-known-hosts-cm`` (Argo CD's list keeps GitHub's and others' keys)."""
    found = core.read_namespaced_config_map("argocd-ssh-known-hosts-cm", ARGOCD_NAMESPACE)
    known = (found.data or {}).get("ssh_known_hosts", "")
    if line not in known:
        core.patch_namespaced_config_map("argocd-ssh-known-hosts-cm", ARGOCD_NAMESPACE,
                                         {"data": {"ssh_known_hosts": known.rstrip("\n") + "\n" + line + "\n"}})


def sample_railway(api: k8s.ApiClient, namespace: str, repo: ServedRepo, analysis_url: str | None,
                   envs: tuple[str, ...] = ("dev", "staging", "prod")) -> railway.Railway:
    """The README's shape: one Application per environment (opted in to ``namespace``), one Station
    each, one Track ``shop``; the last environment is a canary Rollout whose analysis asks
    ``analysis_url`` (no pause: the ride completes by itself). Without ``analysis_url`` the canary
    pauses 10 s at half its pods instead (``make demo-cluster``: nothing stays behind to answer)."""
    k8s.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    world = railway.Railway(api, namespace, repo, suffix=namespace)
    files: dict[str, bytes] = dict(railway.base("1"))
    for env in envs[:-1]:
        files.update(railway.overlay(env))
    steps = railway.canary_steps(pause=False) if analysis_url else [{"setWeight": 50}, {"pause": {"duration": "10s"}}]
    files.update(railway.canary_overlay(envs[-1], analysis_url or UNUSED_ANALYSIS, steps))
    world.commit(files, "shop config")
    for env in envs:
        world.application(env)
        world.station(env, [env])
    world.track("shop", list(envs))
    return world


def k8sta_cli(kubeconfig: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The ``k8sta`` command as a user runs it (this virtual environment's)."""
    return subprocess.run([str(Path(sys.executable).parent / "k8sta"), f"--kubeconfig={kubeconfig}", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def create_ticket(kubeconfig: Path, world: railway.Railway, tag: str) -> str:
    """``k8sta -n <ns> ticket create`` as README shows it; returns the new ticket's name."""
    config = world.repo.head("main")
    done = k8sta_cli(kubeconfig, "-n", world.namespace, "-o", "json", "ticket", "create", "--track", "shop",
                     "--config", str(config), "--image", f"{railway.IMAGE}:{tag}")
    if done.returncode != 0:
        raise RuntimeError(f"k8sta ticket create failed: {done.stderr.strip()}")
    return str(json.loads(done.stdout)["name"])


def commits_per_app(world: railway.Railway, ticket: str) -> dict[str, int]:
    """How many commits on each Application's app branch carry ``ticket``'s trailer (K8sTA's own reader)."""
    counts = {}
    for env in world.apps:
        log = world.repo.git(["log", f"env/{env}", "--format=%B%x00"])
        said = [messages.trailers(body).ticket for body in log.split("\0") if body.strip()]
        counts[env] = sum(1 for name in said if name in (ticket, f"{world.namespace}/{ticket}"))
    return counts


def lease_holder(api: k8s.ApiClient) -> str | None:
    lease = k8s.CoordinationV1Api(api).read_namespaced_lease("k8sta-controller", K8STA_NAMESPACE)
    return lease.spec.holder_identity


def controller_pods(api: k8s.ApiClient) -> list[k8s.V1Pod]:
    return list(k8s.CoreV1Api(api).list_namespaced_pod(
        K8STA_NAMESPACE, label_selector="app.kubernetes.io/component=controller").items)


def kill_controller(api: k8s.ApiClient) -> str:
    """Delete the running controller pod at once (no grace: as a node loss or OOM kill ends it)."""
    pods = [p for p in controller_pods(api) if p.metadata.deletion_timestamp is None]
    if len(pods) != 1:
        raise RuntimeError(f"expected one controller pod, found {[p.metadata.name for p in pods]}")
    name = pods[0].metadata.name
    k8s.CoreV1Api(api).delete_namespaced_pod(name, K8STA_NAMESPACE, grace_period_seconds=0)
    return str(name)


def pods_ready(api: k8s.ApiClient, namespace: str, selector: str = "") -> bool:
    pods = [p for p in k8s.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
            if p.metadata.deletion_timestamp is None]
    return bool(pods) and all(any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
                              for p in pods)


def wait(what: str, check: Callable[[], Any], timeout: float, interval: float = 2.0) -> Any:
    """Poll ``check`` until truthy; raise naming ``what`` and the last error otherwise."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except Exception as exc:  # a component warming up
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last})")


def secret_value(api: k8s.ApiClient, namespace: str, name: str, key: str) -> str:
    secret = k8s.CoreV1Api(api).read_namespaced_secret(name, namespace)
    return base64.b64decode(secret.data[key]).decode()

