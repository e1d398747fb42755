"""The install tree under kustomize/: every kustomization builds with the pinned kustomize, and what it
renders is what an operator expects (least-privilege RBAC, hardened pods, settings the code reads).

Offline: no stack. ``test_cluster`` checks the same renders against the real API server.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8sta_daemon.adapters import leader, settings
from k8sta_daemon.web import create_app, gunicorn_conf
from k8sta_daemon.web import settings as web_settings

from . import rbac
from .kustomizations import (
    ARGOCD_RELEASE,
    KUSTOMIZE_DIR,
    ROOT,
    Builder,
    Built,
    discover,
    kustomization,
    project_version,
    versions,
)

Obj = dict[str, Any]
IMAGE = f"ghcr.io/k8sta/k8sta:{project_version()}"
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                  "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


def test_the_install_tree_has_the_documented_kustomizations() -> None:
    assert {"crds", "base", "install", "components/cmp-sidecar", "argocd-patch", "argocd-application"} <= set(
        discover())


@pytest.mark.parametrize("name", discover())
def test_every_kustomization_builds_with_the_pinned_kustomize(builder: Builder, name: str) -> None:
    result = builder.build(name)
    assert result.objects, f"{name} rendered nothing"
    for obj in result.objects:
        assert obj.get("apiVersion") and obj.get("kind") and obj.get("metadata", {}).get("name"), obj
    keys = [(o["apiVersion"].split("/")[0], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
            for o in result.objects]
    assert len(keys) == len(set(keys)), f"{name} renders an object twice"


# -- what base installs -------------------------------------------------------------------------------


def test_base_installs_namespace_identities_and_both_workloads(base: Built) -> None:
    # The CRDs are kustomize/crds, installed on their own (test_lifecycle): deleting the install keeps them.
    assert not base.of_kind("CustomResourceDefinition")
    assert [o["metadata"]["name"] for o in base.of_kind("Namespace")] == [rbac.NAMESPACE]
    assert {o["metadata"]["name"] for o in base.of_kind("ServiceAccount")} == {rbac.CONTROLLER, rbac.WEB}
    assert {o["metadata"]["name"] for o in base.of_kind("Deployment")} == {"k8sta-controller", "k8sta-web"}
    assert {o["metadata"]["name"] for o in base.of_kind("Service")} == {"k8sta-web", "k8sta-controller-metrics"}
    # No Secret: the Argo CD token is created by the operator and never lives in git.
    assert not base.of_kind("Secret")


def test_every_namespaced_object_says_where_it_goes(base: Built) -> None:
    for obj in base.objects:
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] in CLUSTER_SCOPED:
            assert namespace is None, obj["metadata"]
        elif obj["kind"] in ("Role", "RoleBinding") and obj["metadata"]["name"] == "k8sta-controller-argocd-trust":
            assert namespace == rbac.ARGOCD_NAMESPACE  # Argo CD's known hosts and TLS ConfigMaps are there
        else:
            assert namespace == rbac.NAMESPACE, f"{obj['kind']} {obj['metadata']['name']} in {namespace}"


def test_the_only_grant_in_argo_cds_namespace_is_its_two_trust_config_maps_by_name(base: Built) -> None:
    in_argocd = [o for o in base.objects if o["metadata"].get("namespace") == rbac.ARGOCD_NAMESPACE]
    assert sorted(o["kind"] for o in in_argocd) == ["Role", "RoleBinding"]
    (role,) = [o for o in in_argocd if o["kind"] == "Role"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "resourceNames": ["argocd-ssh-known-hosts-cm", "argocd-tls-certs-cm"], "verbs": ["get"]}]


def test_install_is_base_with_the_release_image(base: Built, install: Built) -> None:
    def key(o: Obj) -> tuple[str, str, str]:
        return o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]

    assert sorted(map(key, install.objects)) == sorted(map(key, base.objects))
    for deployment in install.of_kind("Deployment"):
        assert [c["image"] for c in containers(deployment)] == [IMAGE]


# -- RBAC: least privilege ----------------------------------------------------------------------------


def rules(objects: tuple[Obj, ...]) -> Iterator[tuple[Obj, Obj]]:
    for role in objects:
        if role["kind"] in ("Role", "ClusterRole"):
            for rule in role.get("rules", []):
                yield role, rule


@pytest.mark.parametrize("name", ["base", "install"])
def test_rbac_has_no_wildcards_and_no_escalation(builder: Builder, name: str) -> None:
    objects = builder.build(name).objects
    assert any(True for _ in rules(objects))
    for role, rule in rules(objects):
        where = f"{role['kind']} {role['metadata']['name']}"
        for field in ("verbs", "apiGroups", "resources", "resourceNames"):
            assert "*" not in rule.get(field, []), f"{where}: wildcard in {field}"
            assert not any("*" in value for value in rule.get(field, [])), f"{where}: wildcard in {field}"
        assert "nonResourceURLs" not in rule, where
        assert not {"escalate", "bind", "impersonate", "approve", "sign"} & set(rule["verbs"]), where
        assert not {"roles", "clusterroles", "rolebindings", "clusterrolebindings", "serviceaccounts/token",
                    "pods/exec", "nodes/proxy"} & set(rule.get("resources", [])), where
    for role in objects:
        assert "aggregationRule" not in role, role["metadata"]["name"]


def test_secrets_are_readable_only_in_k8stas_own_namespace(base: Built) -> None:
    """The git write credentials live in ``k8sta``; nothing reads a Secret of Argo CD's namespace."""
    secret_rules = [(role, rule) for role, rule in rules(base.objects) if "secrets" in rule.get("resources", [])
                    and role["metadata"]["name"] != "k8sta-pull-secrets"]
    assert secret_rules, "the controller needs its repository Secrets for git credentials"
    # Subscriptions' pull secrets: a ClusterRole (get only) that the install binds to nobody; a namespace's
    # owner binds it with a RoleBinding to opt in.
    (pull,) = [o for o in base.of_kind("ClusterRole") if o["metadata"]["name"] == "k8sta-pull-secrets"]
    assert pull["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    assert "k8sta-pull-secrets" not in {b["roleRef"]["name"] for b in base.of_kind("RoleBinding") +
                                        base.of_kind("ClusterRoleBinding")}
    for role, rule in secret_rules:
        assert role["kind"] == "Role" and role["metadata"]["namespace"] == rbac.NAMESPACE
        assert set(rule["verbs"]) == {"get", "list"}
    bindings = [b for b in base.of_kind("RoleBinding") if b["roleRef"]["name"] in {r["metadata"]["name"] for r, _ in
                                                                                   secret_rules}]
    assert [s["name"] for b in bindings for s in b["subjects"]] == [rbac.CONTROLLER]


def test_bindings_point_at_roles_and_accounts_that_are_installed(base: Built) -> None:
    accounts = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in base.of_kind("ServiceAccount")}
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in base.objects
             if o["kind"] in ("Role", "ClusterRole")}
    bindings = base.of_kind("RoleBinding") + base.of_kind("ClusterRoleBinding")
    assert bindings
    for binding in bindings:
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert (ref["kind"], namespace, ref["name"]) in roles, binding["metadata"]["name"]
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount" and (subject["namespace"], subject["name"]) in accounts
    # The operator ClusterRole is for humans: installed, bound to nobody.
    assert "k8sta-operator" not in {b["roleRef"]["name"] for b in bindings}


@pytest.mark.parametrize("access", rbac.TABLE, ids=lambda a: a.id)
def test_rbac_grants_exactly_what_each_process_does(base: Built, access: rbac.Access) -> None:
    assert rbac.allowed(base.objects, access) is access.allowed


def test_the_lease_role_names_the_lease_the_controller_takes(base: Built) -> None:
    role = base.one("Role", "k8sta-controller-leader-election")
    named = [rule for rule in role["rules"] if rule.get("resourceNames")]
    assert [rule["resourceNames"] for rule in named] == [[leader.LeaseSettings(namespace="x").name]]
    assert role["metadata"]["namespace"] == controller_settings(base).lease_namespace


# -- the pods -----------------------------------------------------------------------------------------


def deployment_volumes(built: Built, name: str) -> list[Obj]:
    return list(built.one("Deployment", name)["spec"]["template"]["spec"].get("volumes", []))


def containers(deployment: Obj) -> list[Obj]:
    return deployment["spec"]["template"]["spec"]["containers"]


def pod(deployment: Obj) -> Obj:
    return deployment["spec"]["template"]["spec"]


def volume_of(deployment: Obj, container: Obj, path: str) -> Obj:
    """The volume mounted at ``path`` (or at a parent of it) in ``container``."""
    mounts = [m for m in container.get("volumeMounts", []) if path == m["mountPath"]
              or path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mounts, f"nothing mounted at {path}"
    name = max(mounts, key=lambda m: len(m["mountPath"]))["name"]
    return next(v for v in pod(deployment)["volumes"] if v["name"] == name)


@pytest.mark.parametrize("name", ["k8sta-controller", "k8sta-web"])
def test_pods_are_hardened_and_sized(base: Built, name: str) -> None:
    deployment = base.one("Deployment", name)
    spec = pod(deployment)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 999
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["serviceAccountName"] == name
    for container in spec["containers"]:
        assert container["image"] == IMAGE
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert security.get("privileged") is not True
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
        assert volume_of(deployment, container, "/tmp")["emptyDir"] is not None
        assert container["livenessProbe"] and container["readinessProbe"]


def env_of(container: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container.get("env", [])}


def controller_settings(base: Built, token_dir: Path | None = None) -> settings.Settings:
    """What ``k8sta-daemon`` makes of the Deployment's args and env (parsed by the daemon's own code)."""
    container = containers(base.one("Deployment", "k8sta-controller"))[0]
    environ = {name: e["value"] for name, e in env_of(container).items() if "value" in e}
    args = list(container.get("args", []))
    if token_dir is not None:  # the Secret's file does not exist here: point at a stand-in
        (token_dir / "token").write_text("stand-in\n")
        args = [f"--argocd-token-file={token_dir / 'token'}" if a.startswith("--argocd-token-file") else a
                for a in args]
    else:
        environ["K8STA_ARGOCD_TOKEN"] = "stand-in"
        args = [a for a in args if not a.startswith("--argocd-token-file")]
    # The ConfigMap k8sta-argocd-ca's file does not exist here either: any existing file stands in for it.
    environ["K8STA_ARGOCD_CA_FILE"] = __file__
    return settings.parse(args, environ)


def test_controller_runs_the_daemon_leader_elected_against_argo_cd(base: Built, tmp_path: Path) -> None:
    deployment = base.one("Deployment", "k8sta-controller")
    container = containers(deployment)[0]
    assert container["command"] == ["k8sta-daemon"]
    parsed = controller_settings(base, tmp_path)
    assert parsed.argocd_url == "https://argocd-server.argocd.svc"
    assert parsed.argocd_token == "stand-in"  # read from the file the flag names
    assert parsed.leader_election is True
    assert parsed.lease_namespace == rbac.NAMESPACE
    assert parsed.argocd_namespace == rbac.ARGOCD_NAMESPACE  # where the trust ConfigMaps Role is
    assert parsed.repo_secrets_namespace == rbac.NAMESPACE  # where the Secrets Role is
    assert parsed.namespace is None  # every namespace, as the ClusterRole allows
    # The token file is the `token` key of Secret k8sta-argocd-token.
    flag = next(a for a in container["args"] if a.startswith("--argocd-token-file="))
    path = flag.split("=", 1)[1]
    volume = volume_of(deployment, container, path)
    assert volume["secret"]["secretName"] == "k8sta-argocd-token"
    assert [i["key"] for i in volume["secret"]["items"]] == ["token"]
    assert path.endswith("/" + volume["secret"]["items"][0]["path"])
    # The git cache (K8STA_CACHE) is writable: an emptyDir.
    assert "emptyDir" in volume_of(deployment, container, str(parsed.cache_dir))
    # The Lease holder's identity is the pod name.
    assert env_of(container)["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # Never two controllers during a rollout.
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"


def test_controller_probes_its_metrics_port(base: Built) -> None:
    container = containers(base.one("Deployment", "k8sta-controller"))[0]
    parsed = controller_settings(base)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in (container["livenessProbe"], container["readinessProbe"]):
        assert probe["httpGet"]["path"] == "/metrics"
        assert ports[probe["httpGet"]["port"]] == parsed.metrics_port


def test_controller_env_names_are_ones_the_code_reads(base: Built) -> None:
    container = containers(base.one("Deployment", "k8sta-controller"))[0]
    code = "\n".join(p.read_text() for p in (ROOT / "daemon" / "k8sta_daemon").rglob("*.py"))
    for name in env_of(container):
        assert re.search(rf"\b{name}\b", code), f"{name} is read nowhere in the daemon"


def test_web_runs_gunicorn_with_the_app_factory_and_probes_its_health(base: Built) -> None:
    deployment = base.one("Deployment", "k8sta-web")
    assert deployment["spec"]["replicas"] == 2
    container = containers(deployment)[0]
    assert container["command"] == ["gunicorn"]
    args = container["args"]
    config = args[args.index("-c") + 1]
    assert config.startswith("python:")
    assert importlib.import_module(config.removeprefix("python:")) is gunicorn_conf
    module, factory = args[-1].removesuffix("()").split(":")
    assert getattr(importlib.import_module(module), factory) is create_app
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert gunicorn_conf.bind == [f"0.0.0.0:{ports['http']}", f"0.0.0.0:{ports['ops']}"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["K8STA_OPS_PORT"] == str(ports["ops"])
    # The probed paths are the app's, on the ops port only: /healthz answers without any dependency.
    app = create_app({"TESTING": True, "OPS_PORT": env["K8STA_OPS_PORT"]})
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/healthz", "/readyz", "/metrics"} <= routes
    assert app.test_client().get("/healthz", base_url=f"http://localhost:{ports['ops']}").status_code == 200
    assert app.test_client().get("/metrics", base_url=f"http://localhost:{ports['http']}").status_code == 404


def test_the_web_service_never_exposes_the_probes_and_metrics_port(base: Built) -> None:
    service = base.one("Service", "k8sta-web")
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [("http", 8080, "http")]


def test_the_controller_verifies_argocd_with_the_ca_the_operator_mounts(base: Built) -> None:
    deployment = base.one("Deployment", "k8sta-controller")
    [container] = containers(deployment)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "K8STA_ARGOCD_INSECURE" not in env
    mount = next(m for m in container["volumeMounts"] if m["name"] == "argocd-ca")
    assert env["K8STA_ARGOCD_CA_FILE"] == f"{mount['mountPath']}/ca.crt" and mount["readOnly"] is True
    volume = next(v for v in pod(deployment)["volumes"] if v["name"] == "argocd-ca")
    # A ConfigMap in k8sta's own namespace: the controller reads none of Argo CD's Secrets for it.
    assert volume == {"name": "argocd-ca", "configMap": {"name": "k8sta-argocd-ca", "optional": True,
                                                         "items": [{"key": "ca.crt", "path": "ca.crt"}]}}


def test_web_env_names_are_web_settings(base: Built) -> None:
    container = containers(base.one("Deployment", "k8sta-web"))[0]
    known = {f"K8STA_{key}" for key in web_settings.DEFAULTS} | {"K8STA_LOG_LEVEL", "XDG_RUNTIME_DIR"}
    env = env_of(container)
    assert set(env) <= known
    # Webhooks are off until the operator creates the scoped secrets' Secret; the pod starts either way.
    path = Path(env["K8STA_WEBHOOK_SECRETS_FILE"]["value"])
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == str(path.parent)]
    [volume] = [v for v in deployment_volumes(base, "k8sta-web") if v["name"] == mount["name"]]
    assert mount["readOnly"] is True
    assert volume["secret"] == {"secretName": "k8sta-webhook-secrets", "optional": True, "defaultMode": 0o400}
    assert "K8STA_WEBHOOK_TOKEN" not in env  # a bare token has no namespace: never installed


def test_services_and_budgets_select_the_pods_they_name(base: Built) -> None:
    pods = {d["metadata"]["name"]: (d["spec"]["template"]["metadata"]["labels"], containers(d))
            for d in base.of_kind("Deployment")}

    def selected(selector: dict[str, str]) -> list[str]:
        return [name for name, (labels, _) in pods.items() if selector.items() <= labels.items()]

    for service in base.of_kind("Service"):
        [target] = selected(service["spec"]["selector"])
        names = {p["name"] for c in pods[target][1] for p in c.get("ports", [])}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names, service["metadata"]["name"]
    for deployment in base.of_kind("Deployment"):
        assert selected(deployment["spec"]["selector"]["matchLabels"]) == [deployment["metadata"]["name"]]
    [budget] = base.of_kind("PodDisruptionBudget")
    assert selected(budget["spec"]["selector"]["matchLabels"]) == ["k8sta-web"]


# -- Argo CD side: the sidecar patch example and K8sTA as an Argo CD Application ----------------------


def test_argocd_patch_pins_the_tested_argocd_release() -> None:
    doc = kustomization(KUSTOMIZE_DIR / "argocd-patch")
    [remote] = [r for r in doc["resources"] if "://" in r]
    match = ARGOCD_RELEASE.match(remote)
    assert match and match["version"] == versions()["ARGOCD_VERSION"] and match["file"] == "install.yaml"
    assert doc["components"] == ["../components/cmp-sidecar"]


def test_argocd_patch_adds_the_sidecar_to_argo_cds_repo_server(builder: Builder) -> None:
    result = builder.build("argocd-patch")
    repo_server = result.one("Deployment", "argocd-repo-server")
    by_name = {c["name"]: c for c in containers(repo_server)}
    assert sorted(by_name) == ["argocd-repo-server", "k8sta-cmp"]
    sidecar = by_name["k8sta-cmp"]
    assert sidecar["image"] == f"ghcr.io/k8sta/k8sta-cmp:{project_version()}"
    # repo-server leaves .git out of plugin tarballs (upstream reads this key into its env)
    assert result.one("ConfigMap", "argocd-cmd-params-cm")["data"]["reposerver.plugin.tar.exclusions"] == ".git"
    env = {e["name"]: e for e in by_name["argocd-repo-server"]["env"]}
    assert env["ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS"]["valueFrom"]["configMapKeyRef"]["key"] == \
        "reposerver.plugin.tar.exclusions"
    # the sidecar unpacks each render's checkout on memory (its /tmp), bounded
    tmp = next(v for v in repo_server["spec"]["template"]["spec"]["volumes"] if v["name"] == "k8sta-cmp-tmp")
    assert tmp["emptyDir"] == {"medium": "Memory", "sizeLimit": "128Mi"}
    assert {"mountPath": "/tmp", "name": "k8sta-cmp-tmp"} in sidecar["volumeMounts"]
    # the input key (contract v3) is mounted, optional, with every key of the Secret (`previous-key`
    # during a rotation); signatures are not required by default; Argo CD's namespace is the pod's. Readable
    # by the sidecar's uid although Argo CD's pod sets no fsGroup (tests/cluster/test_argocd.py, real kubelet)
    key_volume = next(v for v in repo_server["spec"]["template"]["spec"]["volumes"] if v["name"] == "k8sta-input-key")
    assert "fsGroup" not in repo_server["spec"]["template"]["spec"].get("securityContext", {})
    assert key_volume["secret"] == {"secretName": "k8sta-input-key", "optional": True, "defaultMode": 0o444}
    assert {"name": "K8STA_INPUT_KEY_FILE", "value": "/var/run/secrets/k8sta/input-key/key"} in sidecar["env"]
    assert {"name": "K8STA_REQUIRE_SIGNED_INPUTS", "value": "false"} in sidecar["env"]
    assert {"name": "K8STA_ARGOCD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} \
        in sidecar["env"]
    for obj in result.objects:
        if obj["kind"] not in CLUSTER_SCOPED:
            assert obj["metadata"].get("namespace") == rbac.ARGOCD_NAMESPACE, obj["metadata"]["name"]
    # Only the repo-server changed: every other Argo CD workload is upstream's, but for its namespace.
    upstream = [o for o in yaml.safe_load_all((builder.argocd_manifests / "install.yaml").read_text())
                if o and o["kind"] in ("Deployment", "StatefulSet")]
    assert len(upstream) == len(result.of_kind("Deployment")) + len(result.of_kind("StatefulSet"))
    for original in upstream:
        ours = result.one(original["kind"], original["metadata"]["name"])
        if original["metadata"]["name"] != "argocd-repo-server":
            assert ours["spec"] == original["spec"]


def test_k8sta_as_an_argo_cd_application_installs_the_crds_then_kustomize_install(builder: Builder) -> None:
    apps = {o["metadata"]["name"]: o for o in builder.build("argocd-application").objects}
    assert set(apps) == {"k8sta-crds", "k8sta"}
    for name, path in (("k8sta-crds", "kustomize/crds"), ("k8sta", "kustomize/install")):
        app = apps[name]
        assert app["kind"] == "Application" and app["metadata"]["namespace"] == rbac.ARGOCD_NAMESPACE
        source = app["spec"]["source"]
        assert source["path"] == path and (ROOT / source["path"]).is_dir()
        assert "plugin" not in source  # Argo CD's own kustomize renders K8sTA's install
        assert source["targetRevision"] == f"v{project_version()}"
        assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    # The CRDs' Application never prunes (and each CRD says Prune=false,Delete=false itself: test_lifecycle).
    assert apps["k8sta-crds"]["spec"]["syncPolicy"]["automated"]["prune"] is False
