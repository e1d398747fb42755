"""The install's lifecycle and network edges, as rendered: CRDs that outlive an uninstall, one setting for
Argo CD's namespace, and a NetworkPolicy for each of K8sTA's pods.

Offline: the pinned kustomize builds the tree (``kustomizations``); Argo CD's side is read from the
pinned Argo CD release's own install manifest, so the policy towards argocd-server names the port its
pods really listen on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from k8sta_daemon.adapters import settings

from . import rbac
from .kustomizations import ROOT, Builder, Built

Obj = dict[str, Any]
CRD_NAMES = {"stations.k8sta.io", "tracks.k8sta.io", "tickets.k8sta.io", "subscriptions.k8sta.io"}
KEEP = "argocd.argoproj.io/sync-options"
MOVED = "gitops"  # an Argo CD namespace other than the default


# -- CRDs outlive an uninstall ------------------------------------------------------------------------


def test_deleting_the_install_deletes_no_crd(builder: Builder) -> None:
    """`kubectl delete -k kustomize/install` deletes what the install renders: no CRD, so no Ticket."""
    for name in ("base", "install"):
        assert not builder.build(name).of_kind("CustomResourceDefinition"), name


def test_the_crds_are_their_own_kustomization_and_argo_cd_never_prunes_or_deletes_them(builder: Builder) -> None:
    crds = builder.build("crds")
    assert {o["kind"] for o in crds.objects} == {"CustomResourceDefinition"}
    assert {o["metadata"]["name"] for o in crds.objects} == CRD_NAMES
    for crd in crds.objects:
        options = crd["metadata"]["annotations"][KEEP].split(",")
        assert {"Prune=false", "Delete=false"} <= set(options), crd["metadata"]["name"]


def test_the_install_page_installs_the_crds_before_the_install_and_uninstall_keeps_them() -> None:
    install = (ROOT / "docs" / "operations.md").read_text()
    crds, rest = (install.index(f"kubectl apply --server-side -k {path}") for path in
                  ("kustomize/crds", "kustomize/install"))
    assert crds < rest
    uninstall = (ROOT / "docs" / "uninstall.md").read_text()
    assert "kubectl delete -k kustomize/install" in uninstall
    assert "kubectl delete -k kustomize/crds" in uninstall  # said, and said what it deletes


# -- Argo CD's namespace: one setting ------------------------------------------------------------------


def moved(builder: Builder) -> Built:
    """kustomize/install with only settings.yaml changed (Argo CD in ``gitops``)."""
    name = "test-argocd-moved"
    directory = builder.tree / name
    if not directory.exists():
        directory.mkdir()
        original = builder.tree / "install"
        kustomization = yaml.safe_load((original / "kustomization.yaml").read_text())
        kustomization["resources"] = ["../base", "settings.yaml"]
        kustomization["components"] = ["../components/argocd-namespace"]
        (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        settings_doc = yaml.safe_load((original / "settings.yaml").read_text())
        assert settings_doc["data"] == {"argocdNamespace": rbac.ARGOCD_NAMESPACE}
        settings_doc["data"]["argocdNamespace"] = MOVED
        (directory / "settings.yaml").write_text(yaml.safe_dump(settings_doc))
    return builder.build(name)


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def controller(built: Built, tmp_path: Path) -> settings.Settings:
    [container] = built.one("Deployment", "k8sta-controller")["spec"]["template"]["spec"]["containers"]
    environ = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    token = tmp_path / "token"
    token.write_text("stand-in")
    args = [f"--argocd-token-file={token}" if a.startswith("--argocd-token-file") else a for a in container["args"]]
    # The ConfigMap k8sta-argocd-ca's file does not exist here either: any existing file stands in for it.
    environ["K8STA_ARGOCD_CA_FILE"] = __file__
    return settings.parse(args, environ)


def test_one_setting_moves_every_reference_to_argo_cds_namespace(builder: Builder, tmp_path: Path) -> None:
    install, gitops = builder.build("install"), moved(builder)
    # Nothing of the install names `argocd` as a value any more: no namespace, selector, flag or env.
    assert rbac.ARGOCD_NAMESPACE in strings(list(install.objects))
    assert rbac.ARGOCD_NAMESPACE not in strings(list(gitops.objects))
    # ... and what named it names the new one: the trust Role and its binding, the controller's settings
    # (the API address follows), the NetworkPolicy towards argocd-server.
    for kind in ("Role", "RoleBinding"):
        assert gitops.one(kind, "k8sta-controller-argocd-trust")["metadata"]["namespace"] == MOVED
    parsed = controller(gitops, tmp_path)
    assert (parsed.argocd_namespace, parsed.argocd_url) == (MOVED, f"https://argocd-server.{MOVED}.svc")
    [rule] = gitops.one("NetworkPolicy", "k8sta-controller-to-argocd")["spec"]["egress"]
    assert rule["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": MOVED}
    # The setting is a build input only: never applied.
    assert not [o for o in gitops.objects if o["metadata"]["name"] == "k8sta-install-settings"]
    # Otherwise the two renders are the same objects.
    def key(o: Obj) -> tuple[str, str]:
        return o["kind"], o["metadata"]["name"]

    assert sorted(map(key, gitops.objects)) == sorted(map(key, install.objects))


def test_the_default_is_argocd_in_the_install_and_in_the_code(builder: Builder, tmp_path: Path) -> None:
    parsed = controller(builder.build("install"), tmp_path)
    assert parsed.argocd_namespace == settings.DEFAULT_ARGOCD_NAMESPACE == rbac.ARGOCD_NAMESPACE
    assert parsed.argocd_url == "https://argocd-server.argocd.svc"


# -- NetworkPolicies ---------------------------------------------------------------------------------


def selecting(built: Built, deployment: Obj) -> list[Obj]:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return [p for p in built.of_kind("NetworkPolicy")
            if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]


def allowed_ports(policies: list[Obj], direction: str) -> set[tuple[str, int | str]]:
    return {(port["protocol"], port["port"]) for policy in policies for rule in policy["spec"].get(direction, [])
            for port in rule.get("ports", [])}


@pytest.mark.parametrize("name", ["k8sta-controller", "k8sta-web"])
def test_every_pod_is_isolated_both_ways(base: Built, name: str) -> None:
    policies = selecting(base, base.one("Deployment", name))
    assert {t for p in policies for t in p["spec"]["policyTypes"]} == {"Ingress", "Egress"}
    for policy in policies:
        assert policy["metadata"]["namespace"] == rbac.NAMESPACE
        for direction in ("ingress", "egress"):
            for rule in policy["spec"].get(direction, []):
                assert rule.get("ports"), f"{policy['metadata']['name']}: a {direction} rule without ports"


@pytest.mark.parametrize("name", ["k8sta-controller", "k8sta-web"])
def test_ingress_is_exactly_the_ports_the_services_expose_and_ops(base: Built, name: str) -> None:
    deployment = base.one("Deployment", name)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    exposed = {("TCP", ports.get(p["targetPort"], p["targetPort"])) for s in base.of_kind("Service")
               if s["spec"]["selector"].items() <= labels.items() for p in s["spec"]["ports"]}
    assert exposed
    # ...and the web part's ops port (probes, /metrics for Prometheus), which no Service exposes.
    ops = {("TCP", port) for port_name, port in ports.items() if port_name == "ops"}
    assert allowed_ports(selecting(base, deployment), "ingress") == exposed | ops


def test_the_web_part_reaches_only_dns_and_the_api_server(base: Built) -> None:
    policies = selecting(base, base.one("Deployment", "k8sta-web"))
    assert allowed_ports(policies, "egress") == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 6443)}


def test_the_controller_reaches_dns_the_api_git_registries_and_argo_cds_api_server(
        base: Built, builder: Builder) -> None:
    policies = selecting(base, base.one("Deployment", "k8sta-controller"))
    assert allowed_ports(policies, "egress") == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 6443),
                                                 ("TCP", 22), ("TCP", 8080)}
    [rule] = base.one("NetworkPolicy", "k8sta-controller-to-argocd")["spec"]["egress"]
    [peer] = rule["to"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": rbac.ARGOCD_NAMESPACE}
    # The selector and the port are argocd-server's, as the pinned Argo CD release installs it.
    upstream = builder.argocd_objects()
    [server] = [o for o in upstream if o["kind"] == "Deployment" and o["metadata"]["name"] == "argocd-server"]
    assert peer["podSelector"]["matchLabels"].items() <= server["spec"]["template"]["metadata"]["labels"].items()
    [container] = [c for c in server["spec"]["template"]["spec"]["containers"] if c["name"] == "argocd-server"]
    [port] = rule["ports"]
    # argocd-server's API port (the Service's 443 and 80 both target it)
    assert port["port"] in {p["containerPort"] for p in container.get("ports", [])}
    [service] = [o for o in upstream if o["kind"] == "Service" and o["metadata"]["name"] == "argocd-server"]
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {port["port"]}
