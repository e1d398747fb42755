"""Fixtures of the install tests: the kustomizations under kustomize/, each built once per session."""

from __future__ import annotations

import pytest

from k8sta_cmp.kustomize import Kustomize

from .kustomizations import Builder, Built


@pytest.fixture(scope="session")
def builder(kustomize: Kustomize, tmp_path_factory: pytest.TempPathFactory) -> Builder:
    return Builder(kustomize.path, tmp_path_factory.mktemp("kustomize"))


@pytest.fixture(scope="session")
def base(builder: Builder) -> Built:
    return builder.build("base")


@pytest.fixture(scope="session")
def install(builder: Builder) -> Built:
    return builder.build("install")
