"""The devstack's commands run through ``sh`` (``k8sta_devstack.shell``) as they ran through subprocess: stdout a
pipe, stdin empty, and each failure raised as the devstack's own error naming the command and what it said,
without sh's dump of the command line and output (``RAN: ... STDOUT: ... STDERR:``) chained to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sta_devstack import gitrepo, processes, shell
from k8sta_devstack.node import cleanup, containerd, mirror, netns

ABSENT_LINK = "k8sta-absent0"  # no such interface: `ip link show` of it fails, and changes nothing


def alone(err: BaseException) -> None:
    """The error shows by itself in a traceback: no sh exception chained to it."""
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__), repr(err.__context__)
    assert "RAN:" not in str(err)


def test_stdout_is_a_pipe_and_stdin_is_empty() -> None:
    # sh's default stdout is a pseudo-terminal, on which ls and ip colour their output and git pages.
    assert shell.sh.sh("-c", "if [ -t 1 ]; then echo tty; else echo pipe; fi") == "pipe\n"
    assert shell.sh.cat() == ""


def test_a_git_failure_names_the_command_and_gits_message(tmp_path: Path) -> None:
    repo = gitrepo.ConfigRepo(tmp_path / "absent")
    with pytest.raises(RuntimeError) as caught:
        repo.git(["log"])
    assert str(caught.value).startswith(f"git --git-dir {tmp_path / 'absent'} log failed: fatal: not a git repository")
    alone(caught.value)
    assert repo.head("main") is None


def test_git_writes_commits_from_stdin_and_a_throwaway_index(tmp_path: Path) -> None:
    repo = gitrepo.ConfigRepo.create(tmp_path / "repo.git")
    first = repo.commit("main", {"a/b.txt": b"one\n"}, "first\n\nK8sTA-Ticket: t1\n")
    second = repo.commit("main", {"a/b.txt": b"two\n"}, "second")
    assert repo.head("main") == second
    assert repo.git(["rev-parse", f"{second}^"]).strip() == first
    assert repo.git(["show", f"{first}:a/b.txt"]) == "one\n"
    assert repo.git(["log", "-1", "--format=%B", first]).strip() == "first\n\nK8sTA-Ticket: t1"


def test_a_netns_command_failure_names_the_command_its_exit_code_and_output() -> None:
    with pytest.raises(netns.NetnsError) as caught:
        netns._run("ip", "link", "show", ABSENT_LINK)
    assert str(caught.value) == f'ip link show {ABSENT_LINK} failed (1): Device "{ABSENT_LINK}" does not exist.'
    alone(caught.value)


def test_a_ctr_failure_names_the_subcommand_and_ctrs_message(tmp_path: Path) -> None:
    socket = tmp_path / "containerd.sock"
    socket.touch()  # a file, not a socket: ctr is refused at once
    runtime = containerd.Containerd(socket=socket, root=tmp_path / "root", state=tmp_path / "state")
    with pytest.raises(processes.StartError) as caught:
        runtime.ctr("images", "ls")
    assert str(caught.value).startswith(f'ctr images ls: ctr: failed to dial "{socket}"')
    alone(caught.value)


def test_teardown_reports_what_ctr_said_and_goes_on(tmp_path: Path) -> None:
    sockets, directory = tmp_path / "sockets", tmp_path / "containerd"
    sockets.mkdir()
    directory.mkdir()
    (sockets / "containerd.sock").touch()
    problems = cleanup.stop_containers(sockets, directory)
    assert len(problems) == 1 and problems[0].startswith("ctr tasks ls: ctr: failed to dial"), problems


def test_host_facts_keep_what_a_command_printed_whatever_its_exit() -> None:
    assert cleanup._run("ip", "link", "show", ABSENT_LINK) == ""
    assert cleanup._run("k8sta-no-such-command") == "(k8sta-no-such-command failed: not found)"
    assert "lo" in cleanup.host_facts()["links"]  # type: ignore[operator]


def test_a_mirror_push_failure_names_the_archive_and_skopeos_message(tmp_path: Path) -> None:
    archive = tmp_path / "absent.oci.tar"
    with pytest.raises(processes.StartError) as caught:
        mirror.push(archive, f"{mirror.REGISTRY}/pause:3.10", "127.0.0.1", ["env"])
    message = str(caught.value)
    assert message.startswith(f"pushing {archive} to the node's mirror as {mirror.REGISTRY}/pause:3.10: ")
    assert "no such file or directory" in message
    alone(caught.value)


def test_a_mirror_push_that_hangs_is_killed_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mirror, "PUSH_TIMEOUT", 0.5)
    hanging = ["sh", "-c", "exec sleep 30"]  # the launcher runs this instead of skopeo (its arguments ignored)
    with pytest.raises(processes.StartError) as caught:
        mirror.push(tmp_path / "a.oci.tar", f"{mirror.REGISTRY}/pause:3.10", "127.0.0.1", hanging)
    assert str(caught.value).endswith("skopeo still running after 0.5 s, killed")
    alone(caught.value)
