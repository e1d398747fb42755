"""Both images, built by `make images` (buildah, Debian-made bases), run by podman through pytest-docker:
the web part under gunicorn, `k8sta-cmp generate` byte-identical to the host, the cmp image as the
repo-server's plugin sidecar for a real Application, and the controller riding a ticket as the install's
own ServiceAccount. Every container runs as uid 999 on a read-only root filesystem with host networking."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cmp.conftest import seal, write_inputs  # tests/ is the rootdir of the test packages
from kubernetes import client as k8s
from pytest_docker.plugin import Services
from web.identities import account_token, bearer, grant

from k8sta_cmp import contract
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.argocd import ArgoCD
from k8sta_daemon.core import model
from k8sta_devstack import appbranch
from k8sta_devstack import stack as stack_mod
from k8sta_devstack.railway import ARGOCD_NS, IMAGE, Railway, base, overlay

from . import compose
from .conftest import GitServer, HostNetwork, Images, Ports, iptables_rules, podman, podman_env

pytestmark = pytest.mark.stack

HOST_CMP = [str(Path(sys.executable).parent / "k8sta-cmp"), "generate"]


def wait_for(what: str, check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (requests.RequestException, k8s.ApiException, OSError):
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"not {what} within {timeout:.0f} s"
        time.sleep(0.5)


def answers(url: str) -> bool:
    """For ``wait_until_responsive``, which does not catch: a refused connection is "not yet"."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_images_run_as_uid_999_and_the_daemon_image_has_no_devstack(images: Images) -> None:
    for image in (images.cmp, images.daemon):
        assert podman("image", "inspect", "--format", "{{.Config.User}}", image).strip() == "999"
    probe = ("import importlib.util as u; "
             "print([m for m in ('k8sta_daemon', 'k8sta_cmp', 'k8sta_devstack') if u.find_spec(m)])")
    found = podman("run", "--rm", "--read-only", "--entrypoint", "python3", images.daemon, "-c", probe).strip()
    assert found == "['k8sta_daemon', 'k8sta_cmp']"
    assert podman("run", "--rm", "--entrypoint", "id", images.cmp, "-u").strip() == "999"
    for entry in images.build["images"]:
        print(f"{entry['image']}: {entry['bytes'] / 1e6:.0f} MB, built in {entry['seconds']} s")


def test_cmp_generate_in_the_image_renders_byte_identically_to_the_host(images: Images, tmp_path: Path,
                                                                        kustomize: Kustomize) -> None:
    branch = tmp_path / "branch"
    write_inputs(branch)
    seal(branch, kustomize)
    host = subprocess.run(HOST_CMP, cwd=branch, capture_output=True, check=False, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("ARGOCD_")})
    assert host.returncode == 0, host.stderr
    inside = subprocess.run(
        ["podman", "run", "--rm", "--read-only", "--user", str(compose.UID), "--tmpfs", "/tmp",
         "-v", f"{branch}:/work:ro", "-w", "/work", "--entrypoint", "k8sta-cmp", images.cmp, "generate"],
        capture_output=True, check=False, timeout=300, env=podman_env())
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout == host.stdout
    assert b"kind: Deployment" in inside.stdout


def test_the_cmp_image_carries_neither_git_nor_ssh_and_still_renders(images: Images, tmp_path: Path,
                                                                      kustomize: Kustomize) -> None:
    """Issue 18, finding 7: the plugin needs no git and no ssh; the daemon (which clones) keeps them."""
    probe = ("import glob, shutil; print(sorted({t for t in ('git', 'ssh', 'scp', 'sftp', 'git-upload-pack') "
             "if shutil.which(t, path='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')} "
             "| set(glob.glob('/usr/lib/git-core')) | set(glob.glob('/usr/lib/openssh'))))")
    in_cmp = podman("run", "--rm", "--read-only", "--entrypoint", "python3", images.cmp, "-c", probe).strip()
    assert in_cmp == "[]"
    in_daemon = podman("run", "--rm", "--read-only", "--entrypoint", "python3", images.daemon, "-c", probe)
    assert "git" in in_daemon and "ssh" in in_daemon  # the same probe does see them where they are
    branch = tmp_path / "branch"
    write_inputs(branch)
    seal(branch, kustomize)
    run = ["podman", "run", "--rm", "--read-only", "--user", str(compose.UID), "--tmpfs", "/tmp",
           "-v", f"{branch}:/work:ro", "-w", "/work", "--entrypoint", "k8sta-cmp", images.cmp, "generate"]
    rendered = subprocess.run(run, capture_output=True, check=False, timeout=300, env=podman_env())
    assert rendered.returncode == 0 and b"kind: Deployment" in rendered.stdout, rendered.stderr
    (branch / "env/dev/kustomization.yaml").write_text("resources: [../../base, 'deploy@host:org/repo']\n")
    refused = subprocess.run(run, capture_output=True, check=False, timeout=300, env=podman_env())
    assert refused.returncode == 1 and refused.stderr.startswith(
        b"k8sta: refused: env/dev/kustomization.yaml: resources[1]: remote input 'deploy@host:org/repo'")


def test_web_under_gunicorn_answers_probes_and_authenticates_with_the_install_rbac(
        docker_services: Services, ports: Ports, image_api: k8s.ApiClient, ride_namespace: str) -> None:
    url = f"http://127.0.0.1:{ports.web}"
    docker_services.wait_until_responsive(check=lambda: answers(f"{url}/healthz"), timeout=90, pause=0.5)
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 200
    assert requests.get(f"{url}/api/v1/tickets", timeout=10).status_code == 401
    # A real reader: the web ServiceAccount's TokenReview / SubjectAccessReview rights are enough.
    token = account_token(image_api, ride_namespace, "board-reader")
    grant(image_api, ride_namespace, ride_namespace, "board-reader")
    mine = requests.get(f"{url}/api/v1/tickets", params={"namespace": ride_namespace}, headers=bearer(token),
                        timeout=10)
    assert mine.status_code == 200, mine.text
    assert requests.get(f"{url}/api/v1/tickets", params={"namespace": "k8sta"}, headers=bearer(token),
                        timeout=10).status_code == 403


def test_the_stack_serves_the_plugin_from_the_cmp_image(docker_services: Services,
                                                       image_stack: stack_mod.Stack, image_api: k8s.ApiClient,
                                                       git_server: GitServer, kustomize: Kustomize,
                                                       argocd_admin: ArgoCD) -> None:
    assert "argocd-cmp-server" not in {p.name for p in image_stack.processes}  # no plugin on the host
    sock = image_stack.plugin_sockets / "k8sta.sock"
    docker_services.wait_until_responsive(check=sock.exists, timeout=90, pause=0.5)
    assert sock.stat().st_uid == compose.UID  # served by the sidecar's user
    suffix = secrets.token_hex(3)
    namespace = f"sidecar-{suffix}"
    k8s.CoreV1Api(image_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    rail = Railway(image_api, namespace, git_server.repo(f"sidecar-{suffix}"), suffix)
    inputs = {**base("sidecar"), **overlay("dev")}
    source = rail.commit(inputs)
    app = f"dev-{suffix}"
    files = appbranch.build(inputs, application=contract.ObjectRef(ARGOCD_NS, app), kustomization="env/dev",
                            source_commit=source, kustomize=kustomize)
    head = rail.repo.commit("env/dev", files, "an app branch for the sidecar")
    try:
        assert rail.application("dev") == app
        status = wait_for("Synced and Healthy", lambda: _synced(argocd_admin, app, head), timeout=180)
        assert status["health"]["status"] == "Healthy"
        maps = k8s.CoreV1Api(image_api).list_namespaced_config_map(f"{app}-ns").items
        [shared] = [m for m in maps if m.metadata.name.startswith("shared-")]  # kustomize's generated name
        assert shared.data == {"VERSION": "sidecar"}
        # The render ran in the container: argocd-cmp-server there logged our command succeeding.
        logs = subprocess.run(["podman", "logs", cmp_container()], capture_output=True, text=True,
                              env=podman_env(), check=True).stderr
        assert '"command":{"command":["k8sta-cmp","generate"]}' in logs and "Plugin command successful" in logs
    finally:
        rail.cleanup()


def cmp_container() -> str:
    return podman("ps", "--quiet", "--filter", "label=com.docker.compose.service=cmp").split()[0]


def _synced(argocd: ArgoCD, app: str, head: str) -> dict[str, Any] | None:
    status = argocd.get_application(model.AppRef(ARGOCD_NS, app)).get("status") or {}
    sync = status.get("sync") or {}
    if sync.get("status") == "Synced" and sync.get("revision") == head and \
            (status.get("health") or {}).get("status") == "Healthy":
        return status
    return None


def test_the_controller_image_rides_a_ticket_as_the_install_service_account(
        docker_services: Services, ports: Ports, image_api: k8s.ApiClient, ride_namespace: str,
        git_server: GitServer) -> None:
    docker_services.wait_until_responsive(check=lambda: answers(f"http://127.0.0.1:{ports.metrics}/metrics"),
                                          timeout=90, pause=0.5)
    suffix = secrets.token_hex(3)
    rail = Railway(image_api, ride_namespace, git_server.repo(f"ride-{suffix}"), suffix)
    try:
        config = rail.commit({**base(), **overlay("dev"), **overlay("prod")})
        for env in ("dev", "prod"):
            rail.application(env)
        rail.station("dev", ["dev"])
        rail.station("prod", ["prod"])
        rail.track("line", ["dev", "prod"])
        rail.ticket("api-1", "line", config, "2.0.0")
        rail.wait("Completed", lambda: rail.state("api-1") == "Completed", timeout=300)
        journey = rail.get("tickets", "api-1")["status"]["journey"]
        assert [(r["station"], r["state"]) for r in journey] == [("dev", "Departed"), ("prod", "Departed")]
        for record, env in zip(journey, ("dev", "prod"), strict=True):
            (pushed,) = record["pushed"]
            assert pushed["commit"] == rail.repo.head(f"env/{env}")
            rendered = rail.repo.git(["show", f"{pushed['commit']}:.k8sta/rendered.yaml"])
            assert f"image: {IMAGE}:2.0.0" in rendered
        lease = k8s.CoordinationV1Api(image_api).read_namespaced_lease("k8sta-controller", "k8sta")
        assert lease.spec.holder_identity == "k8sta-controller-image-test"
    finally:
        rail.cleanup()


def test_containers_run_as_the_install_says_and_touch_no_firewall(docker_services: Services,
                                                                 docker_compose_project_name: str,
                                                                 host_before: HostNetwork) -> None:
    ids = podman("ps", "--all", "--quiet", "--filter",
                 f"label=com.docker.compose.project={docker_compose_project_name}").split()
    assert len(ids) == 3
    for cid in ids:
        fmt = "{{.Name}} {{.HostConfig.NetworkMode}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.State.Status}}"
        name, network, user, read_only, state = podman("inspect", "--format", fmt, cid).split()
        assert (network, user, read_only, state) == ("host", "999:999", "true", "running"), name
    assert iptables_rules() == host_before.iptables
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == host_before.ip_forward
