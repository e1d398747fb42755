#!/usr/bin/env bash
# Install the Debian packages that build and run K8sTA's images without a Docker engine (`make images`,
# tests/images): buildah builds, podman runs (and serves the Docker API for pytest-docker and
# docker-compose), mmdebstrap makes the base images from Debian packages, gcc and libc6-dev build the
# node's pause program, containerd's ctr imports the node images in tests/images. Only when missing.
set -euo pipefail
want=(
  buildah:buildah podman:podman skopeo:skopeo mmdebstrap:mmdebstrap docker-compose:docker-compose
  newuidmap:uidmap runc:runc fuse-overlayfs:fuse-overlayfs slirp4netns:slirp4netns
  iptables-save:iptables gcc:gcc ctr:containerd
)
missing=()
for pair in "${want[@]}"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
# toolchain/node-images.sh builds the pause program with `gcc -static` (libc.a); tests/images imports the
# node archives with a private containerd and `ctr`.
[ -f "/usr/lib/$(gcc -dumpmachine 2>/dev/null)/libc.a" ] || missing+=(libc6-dev)
# containernetworking-plugins: podman refuses to start without a network backend, even with host networking.
[ -d /usr/lib/cni ] || missing+=(containernetworking-plugins)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "k8sta: installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
