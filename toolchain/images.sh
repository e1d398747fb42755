#!/usr/bin/env bash
# Build K8sTA's two images without a Docker engine:  toolchain/images.sh [--print-tags]
#   1. two Debian base images (bookworm, python3 3.11) from Debian packages with mmdebstrap: the
#      daemon's, with git and openssh-client (it clones and pushes), and the plugin's, without them (it
#      never reaches the network: nothing in its image should be able to), and a builder image (the
#      daemon's base plus the pinned kustomize from the project cache, so the Dockerfiles'
#      `toolchain/build.sh kustomize` step finds it cached exactly as on the host). All are cached:
#      the rootfs tarballs under $K8STA_CACHE/images/, the images in podman's storage, each tagged with
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
CMP_PACKAGES=python3,python3-venv,python3-pip,ca-certificates,passwd  # no git, no openssh-client
MIRROR=${K8STA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY="deb ${K8STA_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $SUITE-security main"
# The host's CA bundle: egress from a build may pass a TLS-intercepting proxy (pip needs to trust it).
CA_BUNDLE=${K8STA_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

image_exists() { podman image exists "$1"; }
seconds() { echo $(( $(date +%s) - $1 )); }

# --- 1. the base images ------------------------------------------------------------------------------
# What went into a base, package by package, next to its tarball (<tar>.packages). Debian's mirrors keep
# only the newest version of each package, so the versions cannot be pinned without a snapshot mirror:
# they are recorded instead (docs/operations.md, "Supply chain").
record_packages() { # tar
  [ -s "$1" ] && [ ! -s "$1.packages" ] || return 0
  tar -xOf "$1" ./var/lib/dpkg/status | awk '/^Package:/ {p = $2} /^Version:/ {print p, $2}' | sort >"$1.packages"
}

make_base() { # name packages -> sets BASE_TAG (rootfs-<name>-<suite>-<key>.tar, localhost/k8sta-<name>:<suite>-<key>)
  local name=$1 packages=$2 key tar ctr start
  key=$(printf '%s\n' "$SUITE" "$packages" "$MIRROR" "$SECURITY" "$(mmdebstrap --version)" | sha256sum | cut -c1-12)
  if [ "$name" = base ]; then  # the daemon's base keeps the names it always had (caches stay valid)
    tar="$cache/images/rootfs-$SUITE-$key.tar"; BASE_TAG=localhost/k8sta-base:$SUITE-$key
  else
    tar="$cache/images/rootfs-$name-$SUITE-$key.tar"; BASE_TAG=localhost/k8sta-$name:$SUITE-$key
  fi
  record_packages "$tar"
  image_exists "$BASE_TAG" && return 0
  if [ ! -s "$tar" ]; then
    start=$(date +%s)
    echo "k8sta: mmdebstrap $SUITE ($packages) -> $tar (log: $cache/logs/mmdebstrap-$name.log) ..."
    rm -f "${tar%-"$key".tar}"-*.tar "${tar%-"$key".tar}"-*.tar.packages  # this base's older inputs' tarballs (mmdebstrap: .tar means a tarball)
    mmdebstrap --variant=minbase --include="$packages" --aptopt='Acquire::Languages "none"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      "$SUITE" "$tar.partial.tar" "$MIRROR" "$SECURITY" >"$cache/logs/mmdebstrap-$name.log" 2>&1 \
      || { tail -n 30 "$cache/logs/mmdebstrap-$name.log" >&2; rm -f "$tar.partial.tar"; exit 1; }
    mv "$tar.partial.tar" "$tar"
    record_packages "$tar"
    echo "k8sta: rootfs made in $(seconds "$start") s ($(du -h "$tar" | cut -f1))"
  fi
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$tar" / >/dev/null
  buildah config --env LANG=C.UTF-8 --cmd /bin/bash "$ctr"
  buildah commit --quiet --rm "$ctr" "$BASE_TAG" >/dev/null
  echo "k8sta: base image $BASE_TAG"
}
make_base base "$PACKAGES"
BASE_IMAGE=$BASE_TAG
make_base base-cmp "$CMP_PACKAGES"
CMP_BASE_IMAGE=$BASE_TAG

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
for repo_tag in $(podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/k8sta-(base|base-cmp|builder):' \
                  | grep -vxF -e "$BASE_IMAGE" -e "$CMP_BASE_IMAGE" -e "$BUILDER_IMAGE"); do
  podman rmi --force "$repo_tag" >/dev/null 2>&1 || true
done

# --- 3. our images -------------------------------------------------------------------------------------
image_id() { podman image inspect --format '{{.Id}}' "$1"; }

build() { # dockerfile tag python-base
  local start log=$cache/logs/build-$(basename "$1").log
  start=$(date +%s)
  # The bases by image ID, not by their (local, mutable) tags: the build uses exactly what was made above.
  if ! buildah bud --quiet --layers --pull=never --network host --isolation chroot \
      --build-arg PYTHON_IMAGE="$(image_id "$3")" --build-arg BUILDER_IMAGE="$(image_id "$BUILDER_IMAGE")" \
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
cmp_json=$(build Dockerfile.cmp "$CMP_IMAGE" "$CMP_BASE_IMAGE")
daemon_json=$(build Dockerfile.daemon "$DAEMON_IMAGE" "$BASE_IMAGE")
printf '{"base": "%s", "cmp_base": "%s", "builder": "%s", "base_id": "%s", "cmp_base_id": "%s", "builder_id": "%s", "images": [%s, %s]}\n' \
  "$BASE_IMAGE" "$CMP_BASE_IMAGE" "$BUILDER_IMAGE" "$(image_id "$BASE_IMAGE")" "$(image_id "$CMP_BASE_IMAGE")" \
  "$(image_id "$BUILDER_IMAGE")" "$cmp_json" "$daemon_json" >"$cache/images/last-build.json"
