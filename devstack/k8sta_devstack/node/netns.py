"""The node's network namespace: where every route, iptables rule and sysctl of the real node lives.

The stack creates it (``ip netns add``), gives it loopback and one interface carrying the node's
address, and removes it on teardown; removing the namespace removes every rule, route and interface
made inside it. Processes enter it with ``nsenter --net`` (only the network namespace: the kubelet's
mounts must stay visible to containerd, so no private mount namespace as ``ip netns exec`` makes).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from k8sta_devstack import shell

NETNS_DIR = Path("/run/netns")
PREFIX = "k8sta-"
# The node's own address (kubelet's nodeIP, the API server's advertised address): not loopback, which
# kubelet refuses; on a dummy interface inside the namespace, so the host never routes to it.
NODE_IP = "10.77.0.1"
NODE_INTERFACE = "k8sta0"


class NetnsError(RuntimeError):
    """A namespace could not be made or entered; the message holds the command's output."""


def _run(*argv: str) -> str:
    try:
        return shell.sh.Command(argv[0])(*argv[1:])
    except shell.Failed as err:
        raise NetnsError(f"{' '.join(argv)} failed ({err.exit_code}): {shell.said(err)}") from None


@dataclass(frozen=True)
class Netns:
    name: str

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def launcher(self) -> list[str]:
        """The argv prefix that runs a command inside the namespace (and nothing else changed)."""
        return ["nsenter", f"--net={self.path}", "--"]

    def run(self, *argv: str) -> str:
        return _run(*self.launcher(), *argv)


def create(name: str | None = None) -> Netns:
    """A new namespace with loopback up, the node's address and IPv4 forwarding (pods route through it)."""
    ns = Netns(name or PREFIX + secrets.token_hex(4))
    _run("ip", "netns", "add", ns.name)
    try:
        ns.run("ip", "link", "set", "lo", "up")
        # A veth pair with both ends inside (this kernel has no dummy devices): one end carries the
        # node's address, the other only gives it a carrier.
        ns.run("ip", "link", "add", NODE_INTERFACE, "type", "veth", "peer", "name", NODE_INTERFACE + "-peer")
        ns.run("ip", "addr", "add", f"{NODE_IP}/32", "dev", NODE_INTERFACE)
        for name in (NODE_INTERFACE, NODE_INTERFACE + "-peer"):
            ns.run("ip", "link", "set", name, "up")
        # A default route so the kubelet finds a "primary" interface; it points at the node's own interface and
        # leads nowhere: the namespace has no way out but the stack's portals.
        ns.run("ip", "route", "add", "default", "dev", NODE_INTERFACE)
        # Per-namespace sysctls: pods reach Services and each other through the node.
        set_sysctl(ns, "net/ipv4/ip_forward", "1")
        set_sysctl(ns, "net/ipv4/conf/all/route_localnet", "1")
    except Exception:
        delete(ns)
        raise
    return ns


def set_sysctl(ns: Netns, key: str, value: str) -> None:
    """Write a network sysctl *inside* the namespace (/proc/sys/net is per network namespace)."""
    ns.run("sh", "-c", f"echo {value} > /proc/sys/{key}")


def delete(ns: Netns) -> None:
    """Remove the namespace; everything made inside it (interfaces, routes, rules) goes with it."""
    with contextlib.suppress(NetnsError):
        _run("ip", "netns", "del", ns.name)


def leftovers() -> list[str]:
    """Namespaces of ours that still exist (a stack that crashed before teardown)."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(PREFIX))
    except OSError:
        return []
