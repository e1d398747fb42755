"""Argo CD on the real node, from the pinned release's own ``manifests/install.yaml``.

The overlay is what ``kustomize/argocd-patch`` is (the release manifests plus K8sTA's repo-server
sidecar component), with the release manifests as a local copy (the machine cannot fetch GitHub), and
the test's own steering, never the product's: images renamed to the node's mirror with kustomize
``images:`` as an operator mirroring for an air-gapped cluster does, the system pods pinned to the real
node (label and toleration), and Dex left out (its image is not built here, and nothing logs in by SSO).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import yaml

from k8sta_devstack import binaries
from k8sta_devstack.node import kubelet

NAMESPACE = "argocd"
UPSTREAM_IMAGES = {"argocd": "quay.io/argoproj/argocd", "redis": "public.ecr.aws/docker/library/redis",
                   "k8sta-cmp": "ghcr.io/k8sta/k8sta-cmp"}

_STEER = """apiVersion: apps/v1
kind: {kind}
metadata: {{name: any}}
spec:
  template:
    spec:
      nodeSelector: {{{label}: {value}}}
      tolerations: [{{key: {label}, operator: Equal, value: {value}, effect: NoSchedule}}]
"""
_DELETE = """$patch: delete
apiVersion: {api}
kind: {kind}
metadata: {{name: {name}}}
"""


def write_overlay(directory: Path, argocd_version: str, images: Mapping[str, str],
                  component: Path | None = None) -> Path:
    """The test's Argo CD kustomization in ``directory``; ``images``: UPSTREAM_IMAGES key -> the mirror's
    reference (``name:tag``); ``component``: the cmp-sidecar component (default: this repository's)."""
    directory.mkdir(parents=True, exist_ok=True)
    module = binaries.argocd_module_dir(argocd_version)
    shutil.copyfile(module / "manifests" / "install.yaml", directory / "install.yaml")
    component = component or Path(binaries.REPO_ROOT) / "kustomize" / "components" / "cmp-sidecar"
    label, value = kubelet.NODE_LABEL
    patches = [{"target": {"kind": kind}, "patch": _STEER.format(kind=kind, label=label, value=value)}
               for kind in ("Deployment", "StatefulSet")]
    patches += [{"patch": _DELETE.format(api=api, kind=kind, name="argocd-dex-server")}
                for api, kind in (("apps/v1", "Deployment"), ("v1", "Service"))]
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": NAMESPACE,
        "resources": ["install.yaml"],
        "components": [os.path.relpath(component, directory)],
        "images": [{"name": UPSTREAM_IMAGES[key], "newName": ref.rsplit(":", 1)[0], "newTag": ref.rsplit(":", 1)[1]}
                   for key, ref in images.items()],
        "patches": patches,
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return directory


def kubectl(kubectl_bin: Path, kubeconfig: Path, *args: str, check: bool = True, timeout: float = 300,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(kubectl_bin), f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True,
                          check=False, timeout=timeout, input=input_text)
    if check and done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


def install(kubectl_bin: Path, kubeconfig: Path, overlay: Path) -> None:
    """Create the namespace and apply the overlay server-side (Argo CD's CRDs are too large for
    client-side apply), as Argo CD's docs say."""
    kubectl(kubectl_bin, kubeconfig, "create", "namespace", NAMESPACE, check=False)
    kubectl(kubectl_bin, kubeconfig, "apply", "--server-side", "--force-conflicts", "-k", str(overlay))
