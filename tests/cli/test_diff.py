"""``k8sta diff`` against the real API server, a real git repository and the pinned kustomize: app branches
written by the daemon's own push code (``appbranch.promote``), Station statuses written through the status
subresource as the controller writes them, Argo CD Applications naming the branches. An image bump, a
shared-config change and an overlay change to a Secret, whose values never show (human or JSON)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s_client

from k8sta_cmp import contract, safety
from k8sta_cmp.kustomize import Kustomize
from k8sta_daemon.adapters.git import appbranch
from k8sta_daemon.adapters.git.mirror import Mirror
from k8sta_daemon.core import model, station_status
from k8sta_daemon.core.station_status import AppVersion, Source, StationStatus
from k8sta_devstack import railway
from k8sta_devstack.gitrepo import ConfigRepo
from k8sta_devstack.stack import Stack

from .cluster import GROUP, VERSION, Cluster
from .conftest import Run, run_main

pytestmark = pytest.mark.stack

IMAGE = railway.IMAGE
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
OLD_PASSWORD, NEW_PASSWORD, TOKEN = "old-pass-5171", "new-pass-9234", "tok-value-4410"  # never printed


def creds(**values: str) -> bytes:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                           "stringData": values}).encode()


def overlay(env: str, **secret: str) -> dict[str, bytes]:
    files = railway.overlay(env)
    kustomization = yaml.safe_load(files[f"env/{env}/kustomization.yaml"])
    kustomization["resources"].append("creds.yaml")
    return {**files, f"env/{env}/kustomization.yaml": yaml.safe_dump(kustomization).encode(),
            f"env/{env}/creds.yaml": creds(**secret)}


@dataclass
class World:
    cluster: Cluster
    repo: ConfigRepo
    stack: Stack
    mirror: Mirror
    kustomize: Kustomize
    cache: Path
    apps: dict[str, str]
    files: dict[str, bytes]
    commits: list[str]

    def commit(self, files: dict[str, bytes], message: str) -> str:
        self.files.update(files)
        sha = self.repo.commit("main", dict(self.files), message)
        self.commits.append(sha)
        return sha

    def push(self, ticket: str, station: str, config: str, tag: str, digest: str) -> str:
        """What the daemon's push unit does for one visit (one Application per Station here)."""
        app = contract.ObjectRef("argocd", self.apps[station])
        heads = appbranch.promote(
            self.mirror, source_branch="main", config_commit=config,
            targets=[appbranch.AppTarget(app, f"env/{station}", f"env/{station}")],
            ticket=contract.ObjectRef(self.cluster.namespace, ticket), track="api", station=station,
            images=[model.ImagePin(IMAGE, tag, digest)], kustomize=self.kustomize, limits=safety.Limits())
        return heads[f"env/{station}"]

    def runs(self, station: str, ticket: str, config: str, tag: str, digest: str, commit: str) -> None:
        """The Station's status as the controller writes it at arrival."""
        status = StationStatus(Source.TICKET, model.Snapshot(config, (model.ImagePin(IMAGE, tag, digest),)),
                               ticket=ticket, track="api", arrived_at=1_796_000_000.0,
                               applications=(AppVersion(model.AppRef("argocd", self.apps[station]),
                                                        f"env/{station}", commit, model.SyncStatus.SYNCED,
                                                        model.HealthStatus.HEALTHY),))
        obj = self.cluster.get("Station", station)
        self.cluster.custom.replace_namespaced_custom_object_status(
            GROUP, VERSION, self.cluster.namespace, "stations", station,
            {**obj, "status": station_status.to_dict(status)})

    def k8sta(self, *argv: str) -> Run:
        environ = {"NO_COLOR": "1", "K8STA_CACHE": str(self.cache),
                   "K8STA_KUSTOMIZE": str(self.kustomize.path), "HOME": os.environ.get("HOME", "/tmp")}
        return run_main("--kubeconfig", str(self.stack.kubeconfig), "-n", self.cluster.namespace, *argv,
                        environ=environ)


@pytest.fixture
def world(cluster: Cluster, stack: Stack, kube_api: k8s_client.ApiClient, tmp_path: Path,
          kustomize: Kustomize) -> Iterator[World]:
    """Track api (dev, staging, prod); api-1 (image 1.0.0, config C1) runs at dev and staging; prod has
    nothing. The Applications sync by hand only: Argo CD reads them, deploys nothing."""
    repo = ConfigRepo.create(tmp_path / "config.git")
    custom = k8s_client.CustomObjectsApi(kube_api)
    apps = {}
    for station in ("dev", "staging", "prod"):
        name = f"{station}-{cluster.namespace}"
        custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default",
                     "source": {"repoURL": repo.url, "targetRevision": f"env/{station}", "path": ".",
                                "plugin": {"name": "k8sta"}},
                     "destination": {"server": railway.IN_CLUSTER, "namespace": f"{name}-ns"}}})
        apps[station] = name
        cluster.station(station, apps=[name])
    cluster._create("Track", "api", {"stations": ["dev", "staging", "prod"]})
    found = World(cluster, repo, stack, Mirror.open(repo.url, cache_dir=tmp_path / "mirrors"), kustomize,
                  tmp_path / "cli-cache", apps, {}, [])
    c1 = found.commit({**railway.base("1"), **overlay("dev", password=OLD_PASSWORD),
                       **overlay("staging", password=OLD_PASSWORD)}, "first config")
    cluster.ticket("api-1", "api", model.Snapshot(c1, (model.ImagePin(IMAGE, "1.0.0", D1),)))
    for station in ("dev", "staging"):
        found.runs(station, "api-1", c1, "1.0.0", D1, found.push("api-1", station, c1, "1.0.0", D1))
    try:
        yield found
    finally:
        for name in apps.values():
            custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", name)


def edits(text: str, sign: str) -> list[str]:
    """The lines a unified diff in ``text`` removes (``-``) or adds (``+``), without their indentation."""
    return [line[7:].strip() for line in text.splitlines() if line.startswith(f"      {sign}")
            and not line.startswith(f"      {sign * 3}")]


def lines(text: str, prefix: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith(prefix)]


def test_a_ticket_not_yet_at_a_station_is_rendered_and_compared_with_what_runs_there(world: World) -> None:
    c1 = world.commits[0]
    c2 = world.commit(railway.base("2"), "shared config: version 2")
    c3 = world.commit(overlay("dev", password=NEW_PASSWORD, token=TOKEN), "dev: rotate the credentials")
    world.cluster.ticket("api-2", "api", model.Snapshot(c3, (model.ImagePin(IMAGE, "1.1.0", D2),)))

    result = world.k8sta("diff", "api-2", "--station", "dev")

    assert result.code == 0, result.err
    out = result.out
    assert out.splitlines()[0] == "diff dev now (api-1) -> api-2 (rendered, not yet at dev)"
    assert lines(out, "~ ghcr.io") == [f"~ {IMAGE}  1.0.0@{D1} -> 1.1.0@{D2}"]  # the image bump, with digests
    assert lines(out, "config:") == [f"config: {c1} -> {c3}"]
    assert [line.split("  ")[:2] for line in lines(out, "+ ") if line[2:14] in (c2[:12], c3[:12])] == [
        ["+ " + c3[:12], "dev: rotate the credentials"], ["+ " + c2[:12], "shared config: version 2"]]
    assert "(K8sTA devstack <devstack@k8sta.invalid>, " in out  # each commit's author and time
    objects = lines(out, "~ ConfigMap") + lines(out, "~ Deployment") + lines(out, "~ Secret")
    assert [o.split(" (was")[0] for o in objects] == [
        objects[0].split(" (was")[0], "~ Deployment.apps/api", "~ Secret/creds"]
    assert objects[0].startswith("~ ConfigMap/shared-") and "(was shared-" in objects[0]  # the shared config
    assert "VERSION: '1'" in edits(out, "-") and "VERSION: '2'" in edits(out, "+")
    assert f"image: {IMAGE}:1.1.0@{D2}" in edits(out, "+")  # the rendered Deployment's new pin
    assert lines(out, "data changed") == ["data changed (keys: stringData.password, stringData.token)"]

    as_json = world.k8sta("diff", "api-2", "--station", "dev", "-o", "json")
    assert as_json.code == 0, as_json.err
    data = json.loads(as_json.out)
    assert data["images"] == [{"name": IMAGE, "change": "changed", "old": {"name": IMAGE, "tag": "1.0.0", "digest": D1},
                               "new": {"name": IMAGE, "tag": "1.1.0", "digest": D2}}]
    assert [c["sha"] for c in data["config"]["ahead"]] == [c3, c2] and data["config"]["behind"] == []
    secret = next(o for o in data["objects"] if o["kind"] == "Secret")
    assert secret["change"] == "changed" and secret["secretKeys"] == ["stringData.password", "stringData.token"]
    for text in (out, as_json.out):
        for value in (OLD_PASSWORD, NEW_PASSWORD, TOKEN):
            assert value not in text


def test_a_ticket_that_runs_at_a_station_shows_what_it_replaced_and_two_stations_compare(world: World) -> None:
    c1 = world.commits[0]
    c2 = world.commit(overlay("dev", password=NEW_PASSWORD), "dev: rotate the password")
    world.cluster.ticket("api-2", "api", model.Snapshot(c2, (model.ImagePin(IMAGE, "1.1.0", D2),)))
    world.runs("dev", "api-2", c2, "1.1.0", D2, world.push("api-2", "dev", c2, "1.1.0", D2))

    here = world.k8sta("diff", "api-2", "--station", "dev")
    assert here.code == 0, here.err
    assert here.out.splitlines()[0] == "diff dev before (api-1) -> api-2 at dev"
    assert lines(here.out, "~ ghcr.io") == [f"~ {IMAGE}  1.0.0@{D1} -> 1.1.0@{D2}"]
    assert lines(here.out, "data changed") == ["data changed (keys: stringData.password)"]

    promote = world.k8sta("diff", "--from", "dev", "--to", "staging")
    assert promote.code == 0, promote.err
    assert promote.out.splitlines()[0] == "diff staging now (api-1) -> dev now (api-2)"
    assert lines(promote.out, "config:") == [f"config: {c1} -> {c2}"]
    assert lines(promote.out, "data changed") == ["data changed (keys: stringData.password)"]
    back = world.k8sta("diff", "--from", "staging", "--to", "dev", "-o", "json")
    assert back.code == 0, back.err
    assert [c["sha"] for c in json.loads(back.out)["config"]["behind"]] == [c2]  # a step back drops it
    for text in (here.out, promote.out, back.out):
        assert OLD_PASSWORD not in text and NEW_PASSWORD not in text


@pytest.mark.parametrize(("argv", "message"), [
    (("diff", "api-9"), "ticket api-9 not found in namespace"),
    (("diff", "api-1", "--station", "qa"), "station qa not found in namespace"),
    (("diff", "api-1", "--station", "prod"), "station prod has nothing deployed that K8sTA knows of"),
    (("diff", "--from", "dev", "--to", "prod"), "station prod has nothing deployed"),
    (("diff", "--from", "qa", "--to", "dev"), "station qa not found"),
])
def test_bad_input_is_one_clear_line_and_exit_1(world: World, argv: tuple[str, ...], message: str) -> None:
    result = world.k8sta(*argv)
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith("k8sta: error: ") and message in result.err, result.err
    assert len(result.err.splitlines()) == 1


def test_usage_errors_exit_2_before_reading_anything(world: World) -> None:
    for argv in (("diff",), ("diff", "api-1", "--from", "dev"), ("diff", "--from", "dev"),
                 ("diff", "--station", "dev", "--from", "dev", "--to", "staging")):
        result = world.k8sta(*argv)
        assert result.code == 2, argv
        assert "diff: give" in result.err or "--station goes with a TICKET" in result.err


def test_the_boards_ticket_page_shows_the_same_diff_escaped_and_without_secret_values(world: World) -> None:
    from k8sta_daemon.web import board, create_app  # the web part's own app, with the stack's kubeconfig

    c2 = world.commit(overlay("dev", password=NEW_PASSWORD), "dev: <script>alert(1)</script> rotate")
    world.cluster.ticket("api-2", "api", model.Snapshot(c2, (model.ImagePin(IMAGE, "1.1.0", D2),)))
    app = create_app({"TESTING": True, "KUBECONFIG": str(world.stack.kubeconfig), "BOARD_WATCH": False,
                      "CACHE": str(world.cache), "KUSTOMIZE": str(world.kustomize.path)})
    app.extensions[board.AUTHENTICATE] = lambda: None
    app.extensions[board.NAMESPACE_FILTER] = lambda namespace: True

    page = app.test_client().get(f"/board/tickets/{world.cluster.namespace}/api-2?station=dev")

    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'id="diff"' in body and "dev now (api-1) &rarr; api-2 (rendered, not yet at dev)" in body
    assert f"<code>1.0.0@{D1}</code> &rarr; <code>1.1.0@{D2}</code>" in body
    assert "dev: &lt;script&gt;alert(1)&lt;/script&gt; rotate" in body and "<script>alert" not in body
    assert '<p class="secret">data changed (keys: stringData.password)</p>' in body
    assert OLD_PASSWORD not in body and NEW_PASSWORD not in body
    missing = app.test_client().get(f"/board/tickets/{world.cluster.namespace}/api-2?station=qa")
    assert missing.status_code == 200 and "cannot show what it changes: station qa not found" in \
        missing.get_data(as_text=True)
