"""The intake end-to-end tests reuse the daemon e2e fixtures: a k8sta-daemon process per test namespace
(its intake included) and a fresh sample railway; plus the real registries of tests/intake."""

from __future__ import annotations

from tests.e2e_daemon.conftest import Daemon, daemon, namespace, pytest_runtest_makereport, railway
from tests.intake.conftest import plain_registry, repo_name, supervisor

__all__ = ["Daemon", "daemon", "namespace", "plain_registry", "pytest_runtest_makereport", "railway", "repo_name",
           "supervisor"]
