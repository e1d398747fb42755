"""Fixtures for the tests on the real node: a cluster whose system pods run on a kubelet + containerd
node (``k8sta_devstack.node``), started once per session and torn down at its end.

These tests run in their own pytest session (``make test`` runs them after the process-stack suite), so
the two stacks never compete for the machine's two cores.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from k8sta_devstack import binaries
from k8sta_devstack.node import cluster as node_cluster
from k8sta_devstack.node import images as node_images


@pytest.fixture(scope="session")
def node_image_list() -> list[node_images.NodeImage]:
    try:
        binaries.locate_node()
        return node_images.load(node_images.index_path(binaries.cache_dir()))
    except (binaries.MissingTool, node_images.NodeImagesMissing) as exc:
        pytest.fail(f"the real node cannot start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            node_image_list: list[node_images.NodeImage]) -> Iterator[node_cluster.Cluster]:
    pause = node_images.by_short(node_image_list, node_images.PAUSE)
    with node_cluster.running(tmp_path_factory.mktemp("cluster"),
                              [(image.archive, image.ref) for image in node_image_list], pause.ref) as started:
        yield started
