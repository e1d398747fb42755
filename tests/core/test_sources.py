"""core.sources: which source of an Argo CD Application K8sTA promotes (issue 19 item 7: ``spec.sources``)."""

from __future__ import annotations

from typing import Any

import pytest

from k8sta_daemon.core import sources
from k8sta_daemon.core.model import AppRef

APP = AppRef("argocd", "api-dev")
OURS = {"repoURL": "file:///config", "targetRevision": "env/dev", "path": ".", "plugin": {"name": "k8sta"}}
VALUES = {"repoURL": "file:///values", "targetRevision": "main", "ref": "values"}
CHART = {"repoURL": "https://charts.example", "chart": "redis", "targetRevision": "19.0.0"}
PLAIN = {"repoURL": "file:///config", "targetRevision": "env/dev", "path": "."}


def application(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": APP.namespace, "name": APP.name}, "spec": spec}


@pytest.mark.parametrize("spec, position", [
    ({"source": OURS}, None),
    ({"sources": [OURS]}, 1),
    ({"sources": [VALUES, OURS]}, 2),
    ({"sources": [OURS, VALUES, CHART]}, 1),
    ({"sources": [CHART, {**OURS, "plugin": {"name": "k8sta-v1.0"}}]}, 2),  # a versioned plugin's name
    ({"source": {"repoURL": "file:///old", "targetRevision": "env/old"}, "sources": [VALUES, OURS]}, 2),
], ids=["source", "one-element", "values-then-ours",
        "ours-then-plain", "versioned-plugin", "sources-win-over-source"])
def test_the_k8sta_source_of_an_application(spec: dict[str, Any], position: int | None) -> None:
    src = sources.AppSource.from_application(APP, application(spec), "main")
    assert (src.branch, src.overlay_dir) == ("env/dev", "env/dev")
    assert sources.k8sta_source(APP, spec)[0] == position


@pytest.mark.parametrize("spec, says", [
    ({"sources": [OURS, {**OURS, "targetRevision": "env/other"}]},
     "has 2 sources using the k8sta plugin \\(positions 1, 2 of spec.sources\\)"),
    ({"sources": [VALUES, PLAIN]}, "has 2 sources and none uses the k8sta plugin"),
    # Issue 17: a neighbour's Application named by a Station; its branch is never written
    ({"source": PLAIN}, "does not render through the k8sta plugin \\(it uses Argo CD's built-in rendering"),
    ({"sources": [PLAIN]}, "does not render through the k8sta plugin \\(it uses Argo CD's built-in rendering"),
    ({"source": CHART}, "does not render through the k8sta plugin \\(it uses Helm\\)"),
    ({"source": {**PLAIN, "plugin": {"name": "cdk8s"}}}, "\\(it uses the plugin 'cdk8s'\\)"),
    ({"source": {**PLAIN, "plugin": {}}}, "\\(it uses a plugin found by discovery\\)"),
    ({"sourceHydrator": {"drySource": {"repoURL": "file:///config", "targetRevision": "main", "path": "env/dev"},
                         "syncSource": {"targetBranch": "env/dev", "path": "dev"}}},
     "\\(it uses Argo CD's Source Hydrator, spec.sourceHydrator\\)"),
], ids=["two-k8sta-sources", "none-of-several", "plain-source", "plain-one-element", "helm", "other-plugin",
        "discovered-plugin", "source-hydrator"])
def test_sources_k8sta_cannot_choose_from_are_refused_saying_why(spec: dict[str, Any], says: str) -> None:
    with pytest.raises(sources.InvalidSource, match=says) as caught:
        sources.AppSource.from_application(APP, application(spec), "main")
    assert str(APP) in str(caught.value)
