"""The node's pod network: Debian's CNI plugins (bridge, host-local, portmap, loopback).

One bridge in the node's network namespace; pods get addresses from ``POD_CIDR`` and route everything
through it (the bridge is their gateway). The node's own address sits on a dummy interface there, so
pods reach the API server, CoreDNS and the git servers at ``netns.NODE_IP``, and nothing beyond.
"""

from __future__ import annotations

import json
from pathlib import Path

POD_CIDR = "10.88.0.0/16"  # apart from KWOK's 10.1.0.0/16 and the Services' 10.0.0.0/16
BRIDGE = "k8sta-br0"


def write_config(conf_dir: Path, ipam_dir: Path) -> Path:
    """The network list containerd's CRI reads; host-local keeps its leases under ``ipam_dir``."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    ipam_dir.mkdir(parents=True, exist_ok=True)
    doc = {"cniVersion": "0.4.0", "name": "k8sta", "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]],
                  "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(ipam_dir)}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ]}
    path = conf_dir / "10-k8sta.conflist"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path
