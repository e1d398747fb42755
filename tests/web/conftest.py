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

from . import identities

TOKEN = "web-test-token"


WEBHOOK_NAMESPACE = "k8sta"  # the offline apps' webhook secret belongs here


def offline_app(kubeconfig: Path, **config: Any) -> Flask:
    return create_app({"TESTING": True, "KUBECONFIG": str(kubeconfig), "WEBHOOK_TOKEN": TOKEN,
                       "WEBHOOK_NAMESPACE": WEBHOOK_NAMESPACE, "READY_TIMEOUT_SECONDS": 2, **config})


@pytest.fixture
def offline(unreachable_kubeconfig: Path) -> FlaskClient:
    """An app whose Kubernetes API never answers: everything that needs no cluster still works."""
    return offline_app(unreachable_kubeconfig).test_client()


@pytest.fixture
def cluster(kube_api: k8s_client.ApiClient, crds: None) -> Cluster:
    return Cluster(kube_api, "web")


@pytest.fixture
def app(stack: Stack, cluster: Cluster) -> Flask:
    """The app as the admin (it sends the reviews), its webhook secret belonging to the test's namespace."""
    return create_app({"TESTING": True, "KUBECONFIG": str(stack.kubeconfig), "WEBHOOK_TOKEN": TOKEN,
                       "WEBHOOK_NAMESPACE": cluster.namespace, "METRICS_CACHE_SECONDS": 0})


@pytest.fixture
def reader_token(kube_api: k8s_client.ApiClient, cluster: Cluster) -> str:
    """A real ServiceAccount token that may read K8sTA's resources in the test's namespace only."""
    token = identities.account_token(kube_api, cluster.namespace, "reader")
    identities.grant(kube_api, cluster.namespace, cluster.namespace, "reader")
    return token


@pytest.fixture
def client(app: Flask, reader_token: str) -> FlaskClient:
    """A test client whose requests carry the reader's bearer token."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {reader_token}"
    return client
