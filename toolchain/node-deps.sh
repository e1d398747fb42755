#!/usr/bin/env bash
# Debian packages the real node needs (devstack/k8sta_devstack/node/), only when missing: containerd
# (we start our own, never the package's service), the CNI plugins (bridge, host-local, portmap,
# loopback), iptables (kube-proxy and the kubelet write their rules inside the node's namespace) and
# util-linux's nsenter/unshare.
set -euo pipefail
missing=()
command -v containerd >/dev/null || missing+=(containerd)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v iptables-save >/dev/null || missing+=(iptables)
command -v nsenter >/dev/null || missing+=(util-linux)
command -v ip >/dev/null || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "k8sta: installing Debian packages for the real node: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
$sudo apt-get update -qq
# The containerd package would enable its system service where systemd runs: the node never uses it.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
