"""CoreDNS for the real node's pods: a process in the node's network namespace on the node's address.

kubelet points every pod's resolv.conf at it (``clusterDNS``); it answers for Services and pods from the
API server, and for nothing else: the namespace has no way to any upstream resolver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from k8sta_devstack import processes
from k8sta_devstack.node import portal

PORT = 53
HEALTH_PORT = 8080


def start(sup: processes.Supervisor, binary: Path, directory: Path, kubeconfig: Path, node_ip: str,
          netns: Path, launcher: Sequence[str], env: Mapping[str, str],
          hosts: Mapping[str, str] | None = None) -> processes.Managed:
    """Start CoreDNS; ``hosts``: extra names (e.g. the git servers') mapped to addresses."""
    directory.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"        {ip} {name}\n" for name, ip in (hosts or {}).items())
    corefile = directory / "Corefile"
    corefile.write_text(f""".:{PORT} {{
    bind {node_ip}
    errors
    health 127.0.0.1:{HEALTH_PORT}
    hosts {{
{extra}        fallthrough
    }}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
""")
    return sup.start("coredns", [*launcher, binary, "-conf", corefile], env=env, cwd=directory,
                     ready=lambda: portal.http_status_in(str(netns), "127.0.0.1", HEALTH_PORT, "/health") == 200,
                     timeout=60)
