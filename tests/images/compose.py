"""The docker-compose project of the image tests, written from Python so every path and port is the
running test's: the web part and the controller from the daemon image, and the cmp sidecar from the cmp
image serving the stack's plugin socket. Each service runs as the install runs it: uid 999, read-only
root filesystem, writable /tmp (and cache) only, host networking (no bridge: no iptables rules)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

UID = 999
ULIMITS = {"nofile": {"soft": 1024, "hard": 4096}, "nproc": {"soft": 1024, "hard": 2048}}
# The sidecar's mounts, as kustomize/components/cmp-sidecar mounts them into argocd-repo-server's pod.
CMP_SERVER = "/var/run/argocd/argocd-cmp-server"
PLUGIN_SOCKETS = "/home/argocd/cmp-server/plugins"
KUBECONFIG_DIR = "/var/run/k8sta/kube"
ARGOCD_TOKEN_DIR = "/var/run/secrets/k8sta/argocd"  # as the controller Deployment mounts its Secret


@dataclass(frozen=True)
class Project:
    cmp_image: str
    daemon_image: str
    argocd_binary: Path
    plugin_sockets: Path
    web_kube: Path  # a directory with `kubeconfig` for the web ServiceAccount
    web_port: int
    controller_kube: Path  # a directory with `kubeconfig` for the controller ServiceAccount
    argocd_token: Path  # a directory with `token`
    controller_cache: Path  # an empty directory owned by UID (the Deployment's emptyDir)
    argocd_url: str
    ride_namespace: str
    metrics_port: int


def _service(image: str, **extra: Any) -> dict[str, Any]:
    return {"image": image, "network_mode": "host", "user": f"{UID}:{UID}", "read_only": True,
            "ulimits": ULIMITS, "tmpfs": ["/tmp"], **extra}


def document(p: Project) -> dict[str, Any]:
    return {"version": "2.4", "services": {
        "web": _service(
            p.daemon_image,
            command=["gunicorn", "-c", "python:k8sta_daemon.web.gunicorn_conf", "k8sta_daemon.web:create_app()"],
            environment={"GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{p.web_port} --workers 2",
                         "K8STA_KUBECONFIG": f"{KUBECONFIG_DIR}/kubeconfig", "XDG_RUNTIME_DIR": "/tmp",
                         "K8STA_LOG_LEVEL": "INFO"},
            volumes=[f"{p.web_kube}:{KUBECONFIG_DIR}:ro"]),
        "cmp": _service(
            p.cmp_image,
            volumes=[f"{p.argocd_binary}:{CMP_SERVER}:ro", f"{p.plugin_sockets}:{PLUGIN_SOCKETS}"]),
        "controller": _service(
            p.daemon_image,
            command=["k8sta-daemon", "--kubeconfig", f"{KUBECONFIG_DIR}/kubeconfig", "--argocd-url", p.argocd_url,
                     "--argocd-token-file", f"{ARGOCD_TOKEN_DIR}/token", "--argocd-namespace", "argocd",
                     "--lease-namespace", "k8sta", "--namespace", p.ride_namespace, "--resync-seconds", "2",
                     "--cache-dir", "/var/cache/k8sta", "--metrics-port", str(p.metrics_port)],
            environment={"K8STA_LOG_LEVEL": "INFO", "POD_NAME": "k8sta-controller-image-test"},
            # podman's tmpfs takes no uid= option: the git cache is a host directory owned by UID instead.
            volumes=[f"{p.controller_kube}:{KUBECONFIG_DIR}:ro", f"{p.argocd_token}:{ARGOCD_TOKEN_DIR}:ro",
                     f"{p.controller_cache}:/var/cache/k8sta"]),
    }}


def write(p: Project, path: Path) -> Path:
    path.write_text(yaml.safe_dump(document(p), sort_keys=False))
    return path
