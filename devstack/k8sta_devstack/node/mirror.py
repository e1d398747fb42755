"""The node's image mirror: Debian's docker-registry inside the node's namespace, at the node's address.

Argo CD's release manifests pull most of their images ``Always``; on a cluster without internet access
operators mirror them into a registry of their own and rename them with kustomize ``images:``. The node
does the same: the images built locally (OCI archives from buildah) are pushed here under the mirror's
name (``REGISTRY``), and containerd pulls ``REGISTRY/...`` from it (``containerd.write_mirrors``). They
are also imported straight into containerd, so ``IfNotPresent`` pods start without a pull.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from k8sta_devstack import processes, shell
from k8sta_devstack.node import portal
from k8sta_devstack.node.images import REGISTRY

PORT = 5000
PUSH_TIMEOUT = 600  # seconds for one archive (Argo CD's is the largest)


def endpoint(node_ip: str) -> str:
    return f"http://{node_ip}:{PORT}"


def start(sup: processes.Supervisor, directory: Path, node_ip: str, netns: Path, launcher: Sequence[str],
          env: Mapping[str, str]) -> str:
    """Start the registry on ``node_ip:PORT`` inside the namespace; return its endpoint."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise processes.StartError("docker-registry not found: run toolchain/debian-deps.sh")
    directory.mkdir(parents=True, exist_ok=True)
    config = {"version": 0.1, "log": {"level": "warn"},
              "storage": {"filesystem": {"rootdirectory": str(directory / "data")}},
              "http": {"addr": f"{node_ip}:{PORT}", "secret": "k8sta-devstack"}}
    (directory / "config.yml").write_text(json.dumps(config))
    sup.start("image-mirror", [*launcher, binary, "serve", directory / "config.yml"], env=env, cwd=directory,
              ready=lambda: portal.http_status_in(str(netns), node_ip, PORT, "/v2/") == 200, timeout=30)
    return endpoint(node_ip)


def push(archive: Path, reference: str, node_ip: str, launcher: Sequence[str]) -> None:
    """Copy an OCI archive to the mirror as ``reference`` (``REGISTRY/repo:tag``), from inside the
    namespace (skopeo speaks to the node's address directly)."""
    if not reference.startswith(REGISTRY + "/"):
        raise ValueError(f"{reference}: the node's mirror only holds {REGISTRY}/... images")
    target = f"docker://{node_ip}:{PORT}/{reference.removeprefix(REGISTRY + '/')}"
    inside = shell.sh.Command(launcher[0]).bake(*launcher[1:])
    what = f"pushing {archive} to the node's mirror as {reference}"
    try:
        inside("skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci-archive:{archive}", target,
               _timeout=PUSH_TIMEOUT)
    except shell.Failed as err:
        raise processes.StartError(f"{what}: {shell.said(err)}") from None
    except shell.TimedOut:
        raise processes.StartError(f"{what}: skopeo still running after {PUSH_TIMEOUT} s, killed") from None
