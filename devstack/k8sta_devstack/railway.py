"""A sample railway on the local stack: config repo, Argo CD Applications, Stations, Tracks, Tickets.

Callers: the daemon's end-to-end tests, ``make demo`` and the daemon benchmark, so all three build the
same world the same way. Each Application deploys real workloads: a Deployment (or, for a canary
Station, an Argo Rollout with an AnalysisTemplate) and a Service; the image comes from the ticket's
pins, so a new image is a real rollout, judged by Argo CD's built-in Deployment/Rollout health.
``overlay(env, health=...)`` keeps the Lua-checked status ConfigMap for focused tests.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from k8sta_daemon.core.authorization import ANNOTATION as AUTHORIZED_NAMESPACES
from k8sta_devstack import kube as devkube
from k8sta_devstack.gitrepo import ConfigRepo

GROUP, VERSION = "k8sta.io", "v1alpha1"
ARGOCD_NS = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
HEALTH_LABEL = "devstack.k8sta.io/health"
IMAGE = "ghcr.io/acme/api"  # the image tickets pin (kustomize `images:` in the app branch wrapper)
OTHER_IMAGE = "ghcr.io/acme/web"  # an image no ticket pins
REPLICAS = 2
NO_NODE_LABEL = "devstack.k8sta.io/no-such-node"
ANALYSIS_TEMPLATE = "api-check"


def apply_crds(api: k8s.ApiClient, crd_dir: Path) -> None:
    """K8sTA's CRDs, server-side applied as `kubectl apply -k kustomize/crds` would, then established."""
    for path in sorted(crd_dir.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            devkube.server_side_apply(api, doc)
            deadline = time.monotonic() + 30
            while not devkube.crd_established(api, doc["metadata"]["name"]):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRD {doc['metadata']['name']} not established within 30 s")
                time.sleep(0.2)


def _yaml(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False).encode()


def _docs(*docs: dict[str, Any]) -> bytes:
    return yaml.safe_dump_all(docs, sort_keys=False).encode()


def pod_template(app: str, image: str) -> dict[str, Any]:
    """The pods of one workload: one container, its settings from the shared (generated) ConfigMap."""
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": app, "image": f"{image}:latest",
                                     "ports": [{"containerPort": 8080}],
                                     "envFrom": [{"configMapRef": {"name": "shared"}}]}],
                     "terminationGracePeriodSeconds": 0}}


def deployment(app: str = "api", image: str = IMAGE, replicas: int = REPLICAS,
               unschedulable: bool = False, min_ready_seconds: int = 0) -> dict[str, Any]:
    """A Deployment; ``unschedulable`` gives it a nodeSelector no node matches and a 10 s progress
    deadline, so Argo CD judges it Degraded (ProgressDeadlineExceeded) soon after a rollout starts.
    ``min_ready_seconds`` keeps a rollout Progressing that long per pod (KWOK makes pods Ready at once)."""
    template = pod_template(app, image)
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                            "template": template}
    if min_ready_seconds:
        spec["minReadySeconds"] = min_ready_seconds
    if unschedulable:
        template["spec"]["nodeSelector"] = {NO_NODE_LABEL: "true"}
        spec["progressDeadlineSeconds"] = 10
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app}, "spec": spec}


def service(app: str = "api") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}}


def canary_steps(pause: bool = True, analysis: bool = True) -> list[dict[str, Any]]:
    """setWeight 50 (one of two pods), an indefinite pause (a human or the demo promotes), the analysis."""
    steps: list[dict[str, Any]] = [{"setWeight": 50}]
    if pause:
        steps.append({"pause": {}})
    if analysis:
        steps.append({"analysis": {"templates": [{"templateName": ANALYSIS_TEMPLATE}]}})
    return steps


def rollout(app: str = "api", image: str = IMAGE, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An Argo Rollout with a canary. Its first revision goes straight to 100 % (Rollouts' rule);
    every later one walks ``steps``."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": app},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": app}},
                     "template": pod_template(app, image),
                     "strategy": {"canary": {"steps": canary_steps() if steps is None else steps}}}}


def analysis_template(url: str) -> dict[str, Any]:
    """The canary's analysis: one measurement with the ``web`` provider; ``pass`` at ``$.verdict``
    passes, anything else fails the step (and Argo Rollouts aborts the canary)."""
    # Sync wave -1: Argo CD applies it before the Rollout, which is InvalidSpec (Degraded) while the
    # template it names does not exist yet.
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": {"name": ANALYSIS_TEMPLATE, "annotations": {"argocd.argoproj.io/sync-wave": "-1"}},
            "spec": {"metrics": [{"name": ANALYSIS_TEMPLATE, "count": 1, "failureLimit": 0,
                                  "successCondition": 'result == "pass"',
                                  "provider": {"web": {"url": url, "jsonPath": "{$.verdict}",
                                                       "timeoutSeconds": 5}}}]}}


def base(version: str = "1") -> dict[str, bytes]:
    """Shared config: the Service and a generated ConfigMap ``shared`` (name with a content hash, so a
    new version changes every pod template that reads it: a real rollout)."""
    return {
        "base/kustomization.yaml": _yaml({"resources": ["service.yaml"],
                                          "configMapGenerator": [{"name": "shared",
                                                                  "literals": [f"VERSION={version}"]}]}),
        "base/service.yaml": _yaml(service()),
    }


def overlay(env: str, health: str | None = None, *, unschedulable: bool = False, app: str = "api",
            image: str = IMAGE, min_ready_seconds: int = 0) -> dict[str, bytes]:
    """env/<name>/: the base plus a Deployment of ``app`` running ``image`` (pinned by the ticket).

    ``health`` (focused tests only) adds a ConfigMap the stack's Lua check reports with that health,
    so Argo CD's verdict is the worse of it and the Deployment's.
    """
    resources = ["../../base", "workload.yaml"]
    files = {f"env/{env}/workload.yaml": _yaml(deployment(app, image, unschedulable=unschedulable,
                                                          min_ready_seconds=min_ready_seconds))}
    if health is not None:
        resources.append("status.yaml")
        files[f"env/{env}/status.yaml"] = _yaml(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "status", "labels": {HEALTH_LABEL: "true"}},
             "data": {"health": health, "message": f"test data says {health}"}})
    return {f"env/{env}/kustomization.yaml": _yaml({"resources": resources}), **files}


def canary_overlay(env: str, analysis_url: str, steps: list[dict[str, Any]] | None = None, *,
                   image: str = IMAGE) -> dict[str, bytes]:
    """env/<name>/: the base plus a canary Rollout and its AnalysisTemplate (asking ``analysis_url``)."""
    return {
        f"env/{env}/kustomization.yaml": _yaml({"resources": ["../../base", "workload.yaml", "analysis.yaml"],
                                                "configurations": ["rollout-names.yaml"]}),
        # kustomize knows the Deployment's name references, not the Rollout's: teach it the one we use
        # (as Argo Rollouts' docs do), so the generated ConfigMap's hashed name reaches the pods.
        f"env/{env}/rollout-names.yaml": _yaml({"nameReference": [{
            "kind": "ConfigMap", "version": "v1",
            "fieldSpecs": [{"path": "spec/template/spec/containers/envFrom/configMapRef/name",
                            "kind": "Rollout"}]}]}),
        f"env/{env}/workload.yaml": _yaml(rollout(image=image, steps=steps)),
        f"env/{env}/analysis.yaml": _yaml(analysis_template(analysis_url)),
    }


class AnalysisEndpoint:
    """The HTTP endpoint the canary's analysis asks (``GET /verdict`` -> ``{"verdict": ...}``), on
    127.0.0.1; whoever holds it (a test, the demo) decides whether the analysis passes."""

    def __init__(self, verdict: str = "pass") -> None:
        self.verdict = verdict
        self.requests = 0
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.requests += 1
                body = json.dumps({"verdict": endpoint.verdict}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="analysis-endpoint", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/verdict"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Railway:
    """One test's world: a namespace for Tracks/Stations/Tickets, a config repo, Applications."""

    api: k8s.ApiClient
    namespace: str
    repo: ConfigRepo
    suffix: str
    files: dict[str, bytes] = field(default_factory=dict)
    apps: dict[str, str] = field(default_factory=dict)  # env -> Application name

    @property
    def custom(self) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self.api)

    def commit(self, files: dict[str, bytes], message: str = "change") -> str:
        self.files.update(files)
        return self.repo.commit("main", dict(self.files), message)

    def application(self, env: str, automated: bool = True, project: str = "default",
                    retry: dict[str, Any] | None = None, authorized: str | None = "") -> str:
        """The Application of ``env``: automated sync with prune unless ``automated`` is False (then
        manual sync without prune); ``retry`` is its ``syncPolicy.retry`` (Argo CD's default: 5 attempts).
        Its owners opt in to being driven from this railway's namespace, as a user would (annotation
        ``k8sta.io/authorized-namespaces``); ``authorized`` names other namespaces, None: no opt-in."""
        name = f"{env}-{self.suffix}"
        policy: dict[str, Any] = {"syncOptions": ["CreateNamespace=true"]}
        if automated:
            policy["automated"] = {"prune": True}
        if retry is not None:
            policy["retry"] = retry
        metadata: dict[str, Any] = {"name": name, "namespace": ARGOCD_NS}
        if authorized is not None:
            metadata["annotations"] = {AUTHORIZED_NAMESPACES: authorized or self.namespace}
        body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": metadata,
                "spec": {"project": project,
                         "source": {"repoURL": self.repo.url, "targetRevision": f"env/{env}", "path": ".",
                                    "plugin": {"name": "k8sta"}},
                         "destination": {"server": IN_CLUSTER, "namespace": f"{name}-ns"},
                         "syncPolicy": policy}}
        self.custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications", body)
        self.apps[env] = name
        return name

    def create(self, plural: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        kind = {"stations": "Station", "tracks": "Track", "tickets": "Ticket"}[plural]
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind,
                "metadata": {"name": name, "namespace": self.namespace}, "spec": spec}
        return dict(self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body))

    def station(self, name: str, envs: list[str] = (), tracks: list[str] = (), **extra: Any) -> None:
        apps = [{"name": self.apps[e], "namespace": ARGOCD_NS} for e in envs]
        self.create("stations", name, {"applications": apps, "tracks": list(tracks), **extra})

    def track(self, name: str, stations: list[str], **extra: Any) -> None:
        self.create("tracks", name, {"stations": stations, **extra})

    def ticket(self, name: str, track: str, config: str, tag: str, **extra: Any) -> None:
        self.create("tickets", name, {"track": track, "snapshot": {
            "configCommit": config, "images": [{"name": IMAGE, "tag": tag}]}, **extra})

    def get(self, plural: str, name: str) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name))

    def tickets(self) -> list[dict[str, Any]]:
        return list(self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, "tickets")["items"])

    def patch_ticket(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, "tickets", name, {"spec": spec})

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 240.0,
             observe: Callable[[], None] | None = None) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            if observe:
                observe()
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                states = {t["metadata"]["name"]: f"{(t.get('status') or {}).get('state')}: "
                          f"{(t.get('status') or {}).get('message')}" for t in self.tickets()}
                raise AssertionError(f"not {what} within {timeout:.0f} s; tickets: {states}")
            time.sleep(0.5)

    def state(self, ticket: str) -> str | None:
        return (self.get("tickets", ticket).get("status") or {}).get("state")

    # -- what the Applications deployed --

    def target_namespace(self, env: str) -> str:
        return f"{self.apps[env]}-ns"

    def replica_sets(self, env: str, app: str = "api") -> list[k8s.V1ReplicaSet]:
        return list(k8s.AppsV1Api(self.api).list_namespaced_replica_set(
            self.target_namespace(env), label_selector=f"app={app}").items)

    def pods(self, env: str, app: str = "api") -> list[k8s.V1Pod]:
        return list(k8s.CoreV1Api(self.api).list_namespaced_pod(
            self.target_namespace(env), label_selector=f"app={app}").items)

    def ready_pods(self, env: str, image: str, app: str = "api") -> list[k8s.V1Pod]:
        """Pods of ``app`` that run ``image`` (name:tag) and are Ready, not being deleted."""
        return [p for p in self.ready_pods_any(env, app) if [c.image for c in p.spec.containers] == [image]]

    def ready_pods_any(self, env: str, app: str = "api") -> list[k8s.V1Pod]:
        return [p for p in self.pods(env, app) if p.metadata.deletion_timestamp is None
                and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]

    def rollout(self, env: str, app: str = "api") -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object("argoproj.io", "v1alpha1",
                                                             self.target_namespace(env), "rollouts", app))

    def cleanup(self) -> None:
        core = k8s.CoreV1Api(self.api)
        for env, name in self.apps.items():
            with contextlib.suppress(k8s.ApiException):
                self.custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", ARGOCD_NS, "applications",
                                                            name)
            with contextlib.suppress(k8s.ApiException):  # the controller-manager deletes what is inside
                core.delete_namespace(self.target_namespace(env))
        core.delete_namespace(self.namespace)
