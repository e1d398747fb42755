#!/usr/bin/env bash
# Build K8sTA's two images without a Docker engine:  toolchain/images.sh [--print-tags]
#   1. a Debian base image (bookworm, python3 3.11) from Debian packages with mmdebstrap, and a builder
#      image (that base plus the pinned kustomize from the project cache, so the Dockerfiles'
#      `toolchain/build.sh kustomize` step finds it cached exactly as on the host). Both are cached:
#      the rootfs tarball under $K8STA_CACHE/images/, the images in podman's storage, each tagged with
#      the hash of its inputs and rebuilt only when those change;
#   2. Dockerfile.cmp and Dockerfile.daemon with buildah, the bases passed as build args (elsewhere the
#      Dockerfiles' defaults, python:3.11-slim-bookworm and golang:1.26-bookworm, are used).
# Prints one line per image (name, size, seconds) and writes $K8STA_CACHE/images/last-build.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$root/toolchain/versions.env"
cache=${K8STA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8sta}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/toolchain/containers.conf}
mkdir -p "$cache/images" "$cache/logs"

CMP_IMAGE=${K8STA_CMP_IMAGE:-localhost/k8sta-cmp:dev}
DAEMON_IMAGE=${K8STA_DAEMON_IMAGE:-localhost/k8sta:dev}
if [ "${1:-}" = --print-tags ]; then echo "$CMP_IMAGE $DAEMON_IMAGE"; exit 0; fi

SUITE=bookworm
PACKAGES=python3,python3-venv,python3-pip,ca-certificates,git,openssh-client,passwd
MIRROR=${K8STA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY="deb ${K8STA_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $SUITE-security main"
# The host's CA bundle: egress from a build may pass a TLS-intercepting proxy (pip needs to trust it).
CA_BUNDLE=${K8STA_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

image_exists() { podman image exists "$1"; }
seconds() { echo $(( $(date +%s) - $1 )); }

# --- 1. the base image -------------------------------------------------------------------------------
base_key=$(printf '%s\n' "$SUITE" "$PACKAGES" "$MIRROR" "$SECURITY" "$(mmdebstrap --version)" | sha256sum | cut -c1-12)
base_tar="$cache/images/rootfs-$SUITE-$base_key.tar"
BASE_IMAGE=localhost/k8sta-base:$SUITE-$base_key
if ! image_exists "$BASE_IMAGE"; then
  if [ ! -s "$base_tar" ]; then
    start=$(date +%s)
    echo "k8sta: mmdebstrap $SUITE ($PACKAGES) -> $base_tar (log: $cache/logs/mmdebstrap.log) ..."
    rm -f "$cache"/images/rootfs-"$SUITE"-*.tar  # older inputs' tarballs (mmdebstrap: .tar means a tarball)
    mmdebstrap --variant=minbase --include="$PACKAGES" --aptopt='Acquire::Languages "none"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      "$SUITE" "$base_tar.partial.tar" "$MIRROR" "$SECURITY" >"$cache/logs/mmdebstrap.log" 2>&1 \
      || { tail -n 30 "$cache/logs/mmdebstrap.log" >&2; rm -f "$base_tar.partial.tar"; exit 1; }
    mv "$base_tar.partial.tar" "$base_tar"
    echo "k8sta: rootfs made in $(seconds "$start") s ($(du -h "$base_tar" | cut -f1))"
  fi
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$base_tar" / >/dev/null
  buildah config --env LANG=C.UTF-8 --cmd /bin/bash "$ctr"
  buildah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
  echo "k8sta: base image $BASE_IMAGE"
fi

# --- 2. the builder image: the base plus the pinned kustomize in the cache layout build.sh expects -----
"$root/toolchain/build.sh" kustomize >/dev/null
kustomize="$cache/bin/kustomize-$KUSTOMIZE_VERSION/kustomize"
builder_key=$(printf '%s\n' "$BASE_IMAGE" "$(sha256sum "$kustomize")" | sha256sum | cut -c1-12)
BUILDER_IMAGE=localhost/k8sta-builder:$builder_key
if ! image_exists "$BUILDER_IMAGE"; then
  # No `buildah run` here: it would put a container on a network (bridge: iptables rules).
  ctr=$(buildah from --pull=never "$BASE_IMAGE")
  buildah copy --quiet --chmod 0755 "$ctr" "$kustomize" "/cache/bin/kustomize-$KUSTOMIZE_VERSION/kustomize" >/dev/null
  buildah commit --quiet --rm "$ctr" "$BUILDER_IMAGE" >/dev/null
  echo "k8sta: builder image $BUILDER_IMAGE"
fi

# Older bases and builders (other inputs) are dead weight in podman's storage.
for repo_tag in $(podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/k8sta-(base|builder):' \
                  | grep -vxF -e "$BASE_IMAGE" -e "$BUILDER_IMAGE"); do
  podman rmi --force "$repo_tag" >/dev/null 2>&1 || true
done

# --- 3. our images -------------------------------------------------------------------------------------
build() { # dockerfile tag
  local start log=$cache/logs/build-$(basename "$1").log
  start=$(date +%s)
  if ! buildah bud --quiet --layers --pull=never --network host --isolation chroot \
      --build-arg PYTHON_IMAGE="$BASE_IMAGE" --build-arg BUILDER_IMAGE="$BUILDER_IMAGE" \
      --build-arg KUSTOMIZE_VERSION="$KUSTOMIZE_VERSION" \
      -v "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro" \
      -f "$root/$1" -t "$2" "$root" >"$log" 2>&1; then
    echo "k8sta: building $1 FAILED; last lines of $log:" >&2; tail -n 30 "$log" >&2; return 1
  fi
  local took size
  took=$(seconds "$start")
  size=$(podman image inspect --format '{{.Size}}' "$2")
  echo "k8sta: built $2 from $1 in $took s, $((size / 1000000)) MB" >&2
  printf '{"image": "%s", "dockerfile": "%s", "seconds": %s, "bytes": %s}' "$2" "$1" "$took" "$size"
}
cmp_json=$(build Dockerfile.cmp "$CMP_IMAGE")
daemon_json=$(build Dockerfile.daemon "$DAEMON_IMAGE")
printf '{"base": "%s", "builder": "%s", "images": [%s, %s]}\n' "$BASE_IMAGE" "$BUILDER_IMAGE" \
  "$cmp_json" "$daemon_json" >"$cache/images/last-build.json"
