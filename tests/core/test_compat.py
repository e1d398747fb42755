"""The verdict on the Argo CD version the daemon finds at start (``core.compat``)."""

from __future__ import annotations

import pytest

from k8sta_daemon.core.compat import Support, judge_argocd, parse

TESTED = ("v3.6.2", "v3.2.11")


@pytest.mark.parametrize(("reported", "support"), [
    ("v3.6.2+0123abc", Support.TESTED),       # the pin, as argocd-server reports it
    ("v3.6.0", Support.TESTED),               # another patch of a tested minor
    ("v3.2.11+unknown", Support.TESTED),      # the oldest release CI still runs
    ("v3.4.5", Support.UNTESTED),             # between the two tested minors
    ("v3.7.0-rc1", Support.UNTESTED),         # newer than anything tested
    ("v4.0.0", Support.UNTESTED),
    ("v3.1.9", Support.UNTESTED),             # has resource actions v2
    ("v3.0.12", Support.INCOMPATIBLE),        # no resource actions v2
    ("v2.14.3+abc", Support.INCOMPATIBLE),
    ("v1.8.7", Support.INCOMPATIBLE),
    ("devel", Support.UNTESTED),              # a fork's scheme: K8sTA cannot tell, so it warns
    ("", Support.UNTESTED),
])
def test_support_by_version(reported: str, support: Support) -> None:
    assert judge_argocd(reported, TESTED).support is support


def test_messages_name_the_version_and_what_is_tested() -> None:
    refused = judge_argocd("v2.14.3+abc", TESTED)
    assert "v2.14.3+abc" in refused.message and "3.1 or newer" in refused.message
    assert "resource actions v2" in refused.message and "3.2, 3.6" in refused.message
    untested = judge_argocd("v3.4.5", TESTED)
    assert "untested" in untested.message and "3.2, 3.6" in untested.message
    assert "'devel'" in judge_argocd("devel", TESTED).message


def test_tested_minors_come_from_the_pins() -> None:
    assert judge_argocd("v3.4.5", ("v3.4.0",)).support is Support.TESTED
    assert judge_argocd("v3.6.2", ("v3.4.0",)).support is Support.UNTESTED
    assert "tested minors: none" in judge_argocd("v3.6.2", ()).message


def test_parse() -> None:
    assert parse("v3.6.2+0123abc") == (3, 6, 2)
    assert parse("3.2.11") == (3, 2, 11)
    assert parse("v3.6") is None
