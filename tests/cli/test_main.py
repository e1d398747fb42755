"""The CLI through its entry point without a cluster: usage, configuration and connection errors."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from k8sta_daemon.cli.context import wants_colour

from .conftest import run_main


@pytest.mark.parametrize("argv", [
    [],
    ["nope"],
    ["ticket"],
    ["ticket", "create", "--track", "api"],
    ["ticket", "create", "--image", "a/b:1"],
    ["approve", "api-1"],
    ["rollback", "--track", "api"],
    ["-o", "xml", "tracks"],
    ["tracks", "--bogus"],
    ["tracks", "--watch", "0"],
    ["tracks", "-w", "soon"],
], ids=["no-command", "unknown-command", "ticket-without-action", "create-without-pins",
        "create-without-track", "approve-without-station", "rollback-without-to", "bad-output", "unknown-flag",
        "watch-zero", "watch-not-a-number"])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    result = run_main(*argv)
    assert result.code == 2
    assert result.err.startswith("usage: k8sta")
    assert re.search(r"^k8sta( [a-z]+)*: error: ", result.err, re.MULTILINE)
    assert result.out == ""


@pytest.mark.parametrize("argv", [["--help"], ["tracks", "--help"], ["ticket", "create", "--help"]])
def test_help_exits_0(argv: list[str]) -> None:
    result = run_main(*argv)
    assert result.code == 0
    assert result.out.startswith("usage: k8sta")


def test_missing_kubeconfig_is_one_clear_line(tmp_path: Path) -> None:
    result = run_main("tracks", environ={"HOME": str(tmp_path)})
    assert result.code == 1
    assert result.err == (f"k8sta: error: kubeconfig {tmp_path}/.kube/config not found "
                          "(use --kubeconfig or KUBECONFIG)\n")
    assert result.out == ""


def test_kubeconfig_from_the_environment(unreachable_kubeconfig: Path) -> None:
    result = run_main("tracks", environ={"KUBECONFIG": f"{unreachable_kubeconfig}:/nonexistent"})
    assert result.code == 1
    assert "listing Tracks in namespace from-context" in result.err


@pytest.mark.parametrize(("flags", "namespace"), [
    ([], "from-context"),
    (["-n", "elsewhere"], "elsewhere"),
    (["--namespace=elsewhere"], "elsewhere"),
], ids=["context-namespace", "short-flag", "long-flag"])
def test_unreachable_api_names_what_failed(unreachable_kubeconfig: Path, flags: list[str], namespace: str) -> None:
    result = run_main("--kubeconfig", str(unreachable_kubeconfig), *flags, "tracks")
    assert result.code == 1
    assert result.err.startswith(f"k8sta: error: listing Tracks in namespace {namespace}: ")
    assert "did not answer" in result.err
    assert "Traceback" not in result.err
    assert result.err.count("\n") == 1


def test_flags_are_accepted_after_the_command(unreachable_kubeconfig: Path) -> None:
    result = run_main("ticket", "show", "api-9", "--kubeconfig", str(unreachable_kubeconfig), "-n", "k8sta")
    assert result.code == 1
    assert "reading Ticket k8sta/api-9" in result.err


@pytest.mark.parametrize(("argv", "message"), [
    (["ticket", "create", "--track", "api", "--image", "acme/api"], "has no tag"),
    (["ticket", "create", "--track", "api", "--image", "acme/api:1", "--image", "acme/api:2"],
     "acme/api is given more than once"),
    (["ticket", "create", "--track", "api", "--config", "main"], "is not a full git commit id"),
], ids=["image-without-tag", "same-image-twice", "branch-not-commit"])
def test_bad_pins_are_refused_before_touching_the_cluster(unreachable_kubeconfig: Path, argv: list[str],
                                                          message: str) -> None:
    result = run_main("--kubeconfig", str(unreachable_kubeconfig), *argv)
    assert result.code == 1
    assert message in result.err
    assert "did not answer" not in result.err


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("tty", "environ", "expected"), [
    (True, {}, True),
    (False, {}, False),
    (True, {"NO_COLOR": "1"}, False),
    (True, {"NO_COLOR": ""}, True),
    (True, {"TERM": "dumb"}, False),
    (True, {"TERM": "xterm-256color"}, True),
], ids=["tty", "pipe", "no-color", "empty-no-color-is-unset", "dumb-terminal", "xterm"])
def test_colour_only_on_a_terminal_without_no_color(tty: bool, environ: dict[str, str], expected: bool) -> None:
    assert wants_colour(_Stream(tty), environ) is expected
