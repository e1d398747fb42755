"""Fixtures of the web tests: a fresh app per test (``create_app({...})``) and its test client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli.cluster import Cluster  # tests/ is the rootdir of the test packages
from flask import Flask
from flask.testing import FlaskClient
from kubernetes import client as k8s_client

from k8sta_daemon.web import create_app
from k8sta_devstack.stack import Stack

TOKEN = "web-test-token"


def offline_app(kubeconfig: Path, **config: Any) -> Flask:
    return create_app({"TESTING": True, "KUBECONFIG": str(kubeconfig), "WEBHOOK_TOKEN": TOKEN,
                       "READY_TIMEOUT_SECONDS": 2, **config})


@pytest.fixture
def offline(unreachable_kubeconfig: Path) -> FlaskClient:
    """An app whose Kubernetes API never answers: everything that needs no cluster still works."""
    return offline_app(unreachable_kubeconfig).test_client()


@pytest.fixture
def cluster(kube_api: k8s_client.ApiClient, crds: None) -> Cluster:
    return Cluster(kube_api, "web")


@pytest.fixture
def app(stack: Stack, cluster: Cluster) -> Flask:
    return create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig), "WEBHOOK_TOKEN": TOKEN,
                       "METRICS_CACHE_SECONDS": 0})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
