"""Fixtures of the CLI tests: run ``k8sta`` through its entry point, and a namespace on the real stack."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from kubernetes import client as k8s_client

from k8sta_daemon.cli.main import main
from k8sta_devstack.stack import Stack

from .cluster import Cluster


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


Runner = Callable[..., Run]


def run_main(*argv: str, environ: dict[str, str] | None = None) -> Run:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), environ=environ if environ is not None else {"NO_COLOR": "1"}, stdout=stdout,
                stderr=stderr)
    return Run(code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def cluster(kube_api: k8s_client.ApiClient, crds: None) -> Cluster:
    return Cluster(kube_api, "cli")


@pytest.fixture
def k8sta(stack: Stack, cluster: Cluster) -> Iterator[Runner]:
    """``k8sta`` against the stack, in the test's namespace (flags may still override)."""
    def run(*argv: str, namespace: str | None = None) -> Run:
        return run_main("--kubeconfig", str(stack.kubeconfig), "-n", namespace or cluster.namespace, *argv)
    yield run
