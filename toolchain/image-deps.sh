#!/usr/bin/env bash
# Install the Debian packages that build and run K8sTA's images without a Docker engine (`make images`,
# tests/images): buildah builds, podman runs (and serves the Docker API for pytest-docker and
# docker-compose), mmdebstrap makes the base images from Debian packages. Only when missing.
set -euo pipefail
want=(
  buildah:buildah podman:podman skopeo:skopeo mmdebstrap:mmdebstrap docker-compose:docker-compose
  newuidmap:uidmap runc:runc fuse-overlayfs:fuse-overlayfs slirp4netns:slirp4netns
  iptables-save:iptables
)
missing=()
for pair in "${want[@]}"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
# containernetworking-plugins: podman refuses to start without a network backend, even with host networking.
[ -d /usr/lib/cni ] || missing+=(containernetworking-plugins)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "k8sta: installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
