"""A poller reads its Subscription only while this daemon leads and no other controller claimed the
namespace (``Intake.claimed_by``, from ``NamespaceClaims.yielded_to``). Pure: the poller thread with a
stand-in for the intake, which only counts the reads it is asked for."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from k8sta_daemon.watch.poller import Poller


@dataclass
class Reads:
    leading: bool = True
    claimed_by_other: str | None = None
    keys: list[tuple[str, str]] = field(default_factory=list)
    read: threading.Event = field(default_factory=threading.Event)

    def is_leader(self) -> bool:
        return self.leading

    def claimed_by(self, namespace: str) -> str | None:
        return self.claimed_by_other

    def poll(self, key: tuple[str, str]) -> float | None:
        self.keys.append(key)
        self.read.set()
        return None  # done: the poller thread ends


@pytest.mark.parametrize("leading, other, reads", [
    (True, None, [("shop", "api")]),
    (True, "controller-b", []),  # the namespace is another controller's: its intake reads it
    (False, None, []),  # not the leader of this controller's replicas
], ids=["ours", "claimed-elsewhere", "not-leading"])
def test_a_poller_reads_only_what_this_controller_owns(leading: bool, other: str | None,
                                                        reads: list[tuple[str, str]]) -> None:
    intake = Reads(leading=leading, claimed_by_other=other)
    poller = Poller(intake, ("shop", "api"))  # type: ignore[arg-type]
    poller.start()
    intake.read.wait(1.0)
    poller.stop.set()
    poller.wake.set()
    poller.join(5)
    assert not poller.is_alive()
    assert intake.keys == reads
