"""K8sTA as its users run it: installed by the README's Quickstart onto the real node (controller, web part
and plugin sidecar as pods, the install's own RBAC), config repositories over HTTPS and SSH, a ticket
riding dev -> staging -> prod (a canary Rollout on KWOK pods), and what an operator sees on the way."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes import client as k8s_client

from k8sta_devstack import binaries, kube, railway
from k8sta_devstack.demo import viewer_token
from k8sta_devstack.node import cluster as node_cluster
from k8sta_devstack.node import gitservers, journey, kubelet, netns

from .conftest import ArgoCDOnNode, K8staOnNode, wait_for

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
RIDE_SECONDS = 600


@pytest.fixture(scope="module")
def analysis() -> railway.AnalysisEndpoint:
    endpoint = railway.AnalysisEndpoint("pass")
    yield endpoint
    endpoint.close()


def _kubectl(cluster: node_cluster.Cluster, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binaries.locate_node().kubectl), f"--kubeconfig={cluster.kubeconfig}", *args],
                          capture_output=True, text=True, timeout=120, check=check)


def test_the_readme_quickstart_installs_k8sta_as_pods_on_the_real_node(cluster: node_cluster.Cluster,
                                                                        k8sta_on_node: K8staOnNode) -> None:
    assert [s.split(".")[0] for s in k8sta_on_node.steps] == ["0", "1", "2", "3", "4"], k8sta_on_node.steps
    api = kube.api_client(cluster.kubeconfig)
    pods = k8s_client.CoreV1Api(api).list_namespaced_pod(journey.K8STA_NAMESPACE).items
    api.close()
    components = sorted(p.metadata.labels["app.kubernetes.io/component"] for p in pods)
    assert components == ["controller", "web", "web"], components
    for pod in pods:
        assert pod.spec.node_name == kubelet.NODE_NAME, pod.metadata.name
        assert [c.image for c in pod.spec.containers] == ["registry.k8sta.test/k8sta/k8sta:dev"]  # step 0
    # Troubleshooting "the controller pod stays in ContainerCreating": until step 4 its Event names the Secret.
    assert any('secret "k8sta-argocd-token" not found' in m for m in k8sta_on_node.events_before_token), \
        k8sta_on_node.events_before_token


def _entered(world: railway.Railway, ticket: str, station: str) -> bool:
    status = world.get("tickets", ticket).get("status") or {}
    return any(leg.get("station") == station for leg in status.get("journey") or [])


def _ride(cluster: node_cluster.Cluster, world: railway.Railway, tag: str) -> tuple[str, float]:
    began = time.monotonic()
    ticket = journey.create_ticket(cluster.kubeconfig, world, tag)
    world.wait(f"ticket {ticket} Completed", lambda: world.state(ticket) == "Completed", RIDE_SECONDS)
    return ticket, time.monotonic() - began


def test_a_ticket_rides_over_https_and_survives_a_controller_kill(
        cluster: node_cluster.Cluster, git_serving: journey.GitServing, analysis: railway.AnalysisEndpoint) -> None:
    api = kube.api_client(cluster.kubeconfig)
    world = journey.sample_railway(api, "shop-https", git_serving.https_repo("shop-https"), analysis.url)
    began = time.monotonic()
    ticket = journey.create_ticket(cluster.kubeconfig, world, "1.4.2")
    world.wait(f"ticket {ticket} to enter staging", lambda: _entered(world, ticket, "staging"), RIDE_SECONDS)
    before = journey.lease_holder(api)
    killed = journey.kill_controller(api)
    assert before == killed, (before, killed)
    holder = wait_for(lambda: (h := journey.lease_holder(api)) not in (None, killed) and h, 180,
                      "the Lease to move to the new controller pod")
    assert holder in [p.metadata.name for p in journey.controller_pods(api)]
    world.wait(f"ticket {ticket} Completed", lambda: world.state(ticket) == "Completed", RIDE_SECONDS)
    print(f"\nHTTPS ride with a controller kill: {time.monotonic() - began:.0f} s (Lease {killed} -> {holder})")
    assert journey.commits_per_app(world, ticket) == {"dev": 1, "staging": 1, "prod": 1}
    assert len(world.ready_pods("prod", f"{railway.IMAGE}:1.4.2")) == railway.REPLICAS  # the canary finished
    assert world.rollout("prod")["status"]["phase"] == "Healthy"
    api.close()


def test_a_ticket_rides_over_ssh(cluster: node_cluster.Cluster, git_serving: journey.GitServing,
                                 analysis: railway.AnalysisEndpoint) -> None:
    api = kube.api_client(cluster.kubeconfig)
    world = journey.sample_railway(api, "shop-ssh", git_serving.ssh_repo("shop-ssh"), analysis.url)
    ticket, seconds = _ride(cluster, world, "2.0.0")
    print(f"\nSSH ride: {seconds:.0f} s")
    assert journey.commits_per_app(world, ticket) == {"dev": 1, "staging": 1, "prod": 1}
    assert len(world.ready_pods("staging", f"{railway.IMAGE}:2.0.0")) == railway.REPLICAS
    api.close()


def test_the_board_is_served_through_the_web_service(cluster: node_cluster.Cluster,
                                                     git_serving: journey.GitServing,
                                                     analysis: railway.AnalysisEndpoint, tmp_path: Path) -> None:
    api = kube.api_client(cluster.kubeconfig)
    world = journey.sample_railway(api, "shop-board", git_serving.https_repo("shop-board"), analysis.url,
                                   envs=("dev", "prod"))
    ticket, _ = _ride(cluster, world, "3.0.0")
    token = viewer_token(api, world.namespace, tmp_path).read_text()
    service = k8s_client.CoreV1Api(api).read_namespaced_service("k8sta-web", journey.K8STA_NAMESPACE)
    address = cluster.expose("k8sta-web", service.spec.cluster_ip, 8080)
    url = f"http://{address}/board/?namespace={world.namespace}"
    assert requests.get(url, timeout=30).status_code == 401
    page = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert "shop" in page.text and "3.0.0" in page.text and ticket in page.text
    api.close()


def _exec_python(cluster: node_cluster.Cluster, component: str, code: str) -> str:
    done = _kubectl(cluster, "-n", journey.K8STA_NAMESPACE, "exec", f"deploy/k8sta-{component}", "--",
                    "python3", "-c", code)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


_AS_POD = """
import json
from kubernetes import client, config
config.load_incluster_config()
try:
    {call}
    print("allowed")
except client.ApiException as exc:
    print(exc.status, json.loads(exc.body)["message"])
"""


def test_each_service_account_is_refused_what_its_component_must_not_do(cluster: node_cluster.Cluster,
                                                                         k8sta_on_node: K8staOnNode) -> None:
    """With the pods' own tokens: the web part may not create a Ticket, the controller may not read
    Argo CD's admin Secret."""
    body = {"apiVersion": "k8sta.io/v1alpha1", "kind": "Ticket", "metadata": {"name": "sneaky"},
            "spec": {"track": "shop", "snapshot": {"images": [{"name": "ghcr.io/acme/api", "tag": "6.6.6"}]}}}
    create = (f"client.CustomObjectsApi().create_namespaced_custom_object('k8sta.io', 'v1alpha1', "
              f"'default', 'tickets', {body!r})")
    said = _exec_python(cluster, "web", _AS_POD.format(call=create))
    assert said.startswith("403 ") and "system:serviceaccount:k8sta:k8sta-web" in said, said
    read = "client.CoreV1Api().read_namespaced_secret('argocd-secret', 'argocd')"
    said = _exec_python(cluster, "controller", _AS_POD.format(call=read))
    assert said.startswith("403 ") and "system:serviceaccount:k8sta:k8sta-controller" in said, said


def test_k8sta_logs_are_read_through_argocd_api(cluster: node_cluster.Cluster, argocd_on_node: ArgoCDOnNode,
                                                 k8sta_on_node: K8staOnNode,
                                                 git_serving: journey.GitServing) -> None:
    """K8sTA as the Argo CD Application of kustomize/argocd-application (its repository mirrored on the
    HTTPS server, as an air-gapped operator mirrors it), then the pod logs the UI's Logs tab shows."""
    mirror = git_serving.https_repo("k8sta")
    edited = k8sta_on_node.workdir / "kustomize"
    files = {f"kustomize/{p.relative_to(edited)}": p.read_bytes() for p in edited.rglob("*") if p.is_file()}
    mirror.commit("main", files, "K8sTA's install, images named for this registry")
    mirror.git(["tag", "v0.1.0", "main"])
    overlay = k8sta_on_node.workdir / "k8sta-application"  # next to the operator's copy of kustomize/
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": ["../kustomize/argocd-application"],
        "patches": [{"target": {"kind": "Application"},  # both: k8sta-crds and k8sta
                     "patch": json.dumps([{"op": "replace", "path": "/spec/source/repoURL", "value": mirror.url}])}]}))
    _kubectl(cluster, "apply", "-k", str(overlay), check=True)
    http = argocd_on_node.session()
    base = f"{argocd_on_node.url}/api/v1/applications/k8sta"

    api = kube.api_client(cluster.kubeconfig)
    pod = next(p.metadata.name for p in journey.controller_pods(api) if p.metadata.deletion_timestamp is None)
    api.close()

    def in_tree() -> bool:
        """Argo CD serves the logs of pods in the Application's resource tree only."""
        tree = http.get(f"{base}/resource-tree", timeout=30).json()
        if any(n.get("kind") == "Pod" and n.get("name") == pod for n in tree.get("nodes") or []):
            return True
        app = http.get(base, timeout=30).json()
        raise AssertionError(f"not in the tree yet; Application status: {json.dumps(app.get('status'))[:1500]}")
    wait_for(in_tree, 300, f"pod {pod} in the resource tree of Argo CD's Application k8sta")
    status = http.get(base, timeout=30).json().get("status") or {}
    drifted = [f"{r.get('kind')}/{r.get('name')}" for r in status.get("resources") or [] if r.get("status") != "Synced"]
    print(f"\nApplication k8sta: {status.get('sync', {}).get('status')}, {status.get('health', {}).get('status')}; "
          f"not synced: {drifted}; operation: {(status.get('operationState') or {}).get('message')}")
    logs = http.get(f"{base}/logs", params={"namespace": journey.K8STA_NAMESPACE, "podName": pod,
                                            "container": "controller", "tailLines": 200, "follow": "false"},
                    timeout=60)
    assert logs.status_code == 200, logs.text[:500]
    lines = [json.loads(line)["result"].get("content", "") for line in logs.text.splitlines() if line.strip()]
    assert any("k8sta" in line.lower() for line in lines), lines[:5]


def test_bad_input_names_its_cause(cluster: node_cluster.Cluster, git_serving: journey.GitServing,
                                   analysis: railway.AnalysisEndpoint, tmp_path: Path) -> None:
    """README Troubleshooting: an image not loaded, a wrong known-hosts entry, a repository Secret with bad
    credentials; each says what is wrong."""
    api = kube.api_client(cluster.kubeconfig)
    core = k8s_client.CoreV1Api(api)
    # An image name that is not in the registry: the pod's Event names it.
    journey.steer_namespace(api, "k8sta-trouble")
    missing = "registry.k8sta.test/k8sta/k8sta:not-pushed"
    k8s_client.AppsV1Api(api).create_namespaced_deployment("k8sta-trouble", {
        "metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": missing}]}}}})

    def pull_failed() -> str:
        events = core.list_namespaced_event("k8sta-trouble").items
        return next((e.message for e in events if e.reason == "Failed" and missing in (e.message or "")), "")
    assert "not found" in wait_for(pull_failed, 120, f"a pull failure naming {missing}")
    core.delete_namespace("k8sta-trouble")

    # An SSH server whose host key is not the one argocd-ssh-known-hosts-cm lists for it.
    impostor = gitservers.start_ssh(tmp_path / "impostor", cluster.supervisor, repos=git_serving.repos,
                                    address=netns.NODE_IP, port=journey.SSH_PORT + 1,
                                    launcher=netns.Netns(cluster.netns).launcher(), name="git-ssh-impostor")
    journey.add_known_host(core, f"{gitservers.known_hosts_host(netns.NODE_IP, journey.SSH_PORT + 1)} "
                                 f"{git_serving.ssh.known_hosts_line.split(' ', 1)[1]}")
    core.create_namespaced_secret(journey.K8STA_NAMESPACE, journey.repo_secret(
        "impostor-ssh", journey.K8STA_NAMESPACE, "repo-creds",
        {"url": impostor.url + "/", "sshPrivateKey": impostor.client_key.read_text()}))
    bare = git_serving.ssh_repo("shop-impostor")
    repo = journey.ServedRepo(bare.path, impostor.repo_url("shop-impostor"))
    world = journey.sample_railway(api, "shop-impostor", repo, analysis.url, envs=("dev", "prod"))
    ticket = journey.create_ticket(cluster.kubeconfig, world, "4.0.0")
    world.wait(f"ticket {ticket} Failed", lambda: world.state(ticket) == "Failed", 300)
    message = world.get("tickets", ticket)["status"]["message"]
    assert "argocd-ssh-known-hosts-cm" in message and "another host key" in message, message
    assert world.repo.head("env/dev") is None  # nothing pushed

    # K8sTA's repository Secret for one URL with a wrong password: exact URL beats the prefix template.
    bad = git_serving.https_repo("shop-badcreds")
    core.create_namespaced_secret(journey.K8STA_NAMESPACE, journey.repo_secret(
        "badcreds", journey.K8STA_NAMESPACE, "repository",
        {**journey.https_credentials(git_serving, password="not-the-password"), "url": bad.url}))
    world = journey.sample_railway(api, "shop-badcreds", bad, analysis.url, envs=("dev", "prod"))
    ticket = journey.create_ticket(cluster.kubeconfig, world, "5.0.0")
    world.wait(f"ticket {ticket} Failed", lambda: world.state(ticket) == "Failed", 300)
    message = world.get("tickets", ticket)["status"]["message"]
    assert "not-the-password" not in message
    assert "Authentication failed" in message or "401" in message or "credentials" in message, message
    assert world.repo.head("env/dev") is None
    api.close()
