#!/usr/bin/env bash
# Build the images a real Kubernetes node (kubelet + containerd) runs, as OCI archives that
# `ctr -n k8s.io images import FILE` loads, without a Docker engine or a registry:
#   toolchain/node-images.sh [--print-index]
#   argocd  Argo CD (ARGOCD_VERSION; argocd-compat: ARGOCD_COMPAT_VERSION) shaped like upstream's image:
#           the cached multi-call `argocd` binary, its component names as symlinks, git, ssh, gpg, tini, the
#           git/gpg wrappers, user 999;
#   redis   Debian's redis-server, runs install.yaml's argocd-redis args (`--save "" ...`) as uid 999;
#   pause   the pod sandbox: Kubernetes' build/pause/linux/pause.c (KUBERNETES_VERSION) built static;
#   k8sta, k8sta-cmp  K8sTA's images of `make images` (localhost/k8sta:dev, localhost/k8sta-cmp:dev).
# Each archive lands in $K8STA_CACHE/images/node/<short>.oci.tar carrying the name the node pulls it by
# (devstack/k8sta_devstack/node/images.py holds the names), listed in index.json with the hash of its
# inputs; an archive is rebuilt only when that hash changes. The Debian rootfs tarballs (mmdebstrap,
# bookworm minbase) are cached under $K8STA_CACHE/images/ like toolchain/images.sh's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$root/toolchain/versions.env"
cache=${K8STA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8sta}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/toolchain/containers.conf}
out=$cache/images/node
if [ "${1:-}" = --print-index ]; then echo "$out/index.json"; exit 0; fi
mkdir -p "$out" "$cache/logs"
# One run at a time (`make node-images` and a test session's fixture share the archives).
exec 9>"$out/.lock"
flock 9

# The names the node knows the images by: one place, the Python module the devstack imports.
eval "$(python3 "$root/devstack/k8sta_devstack/node/images.py" --shell)"
CMP_IMAGE=${K8STA_CMP_IMAGE:-localhost/k8sta-cmp:dev}
DAEMON_IMAGE=${K8STA_DAEMON_IMAGE:-localhost/k8sta:dev}

SUITE=bookworm
MIRROR=${K8STA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY="deb ${K8STA_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $SUITE-security main"
modcache=$(go env GOMODCACHE)
# The PATH of Docker's Debian/Ubuntu bases (an image without one relies on the runtime's default).
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

seconds() { echo $(( $(date +%s) - $1 )); }
hash_of() { sha256sum | cut -c1-16; }
die() { echo "k8sta: $*" >&2; exit 1; }

# Cached state of the previous run: short -> input hash, from index.json.
previous_hash() { # short
  [ -s "$out/index.json" ] || return 0
  python3 -c 'import json,sys
for i in json.load(open(sys.argv[1]))["images"]:
    if i["short"] == sys.argv[2]: print(i["input_hash"])' "$out/index.json" "$1"
}
previous_ref() { # short
  [ -s "$out/index.json" ] || return 0
  python3 -c 'import json,sys
for i in json.load(open(sys.argv[1]))["images"]:
    if i["short"] == sys.argv[2]: print(i["ref"])' "$out/index.json" "$1"
}

# rootfs name packages essential-hook customize-hook -> path of the cached tarball (built if missing).
# The hooks run in mmdebstrap's root mode with the new root as "$1".
rootfs() {
  local name=$1 packages=$2 essential=$3 customize=$4 key tar start log=$cache/logs/mmdebstrap-$1.log
  key=$(printf '%s\n' "$SUITE" "$packages" "$MIRROR" "$SECURITY" "$essential" "$customize" \
        "$(mmdebstrap --version)" | hash_of | cut -c1-12)
  tar="$cache/images/rootfs-node-$name-$SUITE-$key.tar"
  if [ ! -s "$tar" ]; then
    start=$(date +%s)
    echo "k8sta: mmdebstrap $SUITE ($packages) -> $tar (log: $log) ..." >&2
    rm -f "$cache/images/rootfs-node-$name-$SUITE-"*.tar  # older inputs' tarballs
    mmdebstrap --variant=minbase --include="$packages" --aptopt='Acquire::Languages "none"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --essential-hook="$essential" \
      --customize-hook="$customize" \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
      "$SUITE" "$tar.partial.tar" "$MIRROR" "$SECURITY" >"$log" 2>&1 \
      || { tail -n 30 "$log" >&2; rm -f "$tar.partial.tar"; exit 1; }
    mv "$tar.partial.tar" "$tar"
    echo "k8sta: rootfs $name made in $(seconds "$start") s ($(du -h "$tar" | cut -f1))" >&2
  fi
  echo "$tar"
}

# A uid/gid-999 account written before any package is installed: Debian hands out system ids from 999
# down, so a package's own group (openssh-client's _ssh) would otherwise take 999.
account_hook() { # name home
  printf 'echo "%s:x:999:" >>"$1/etc/group" && echo "%s:x:999:999::%s:/bin/sh" >>"$1/etc/passwd"' "$1" "$1" "$2"
}

# layer_tar dir -> a tarball of dir's tree owned by root (buildah add keeps owners and symlinks).
layer_tar() {
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$1" -cf "$1.tar" .
  echo "$1.tar"
}

# export_archive short image ref input-hash: write the OCI archive, named ref inside (the name
# `ctr images import` gives the image: containerd's io.containerd.image.name annotation, and the OCI
# ref.name that podman and skopeo read).
export_archive() {
  local short=$1 image=$2 ref=$3 tmp=$out/.$1.partial
  rm -rf "$tmp" "$tmp.tar"
  mkdir -p "$tmp"
  buildah push --quiet --format oci "$image" "oci:$tmp:$ref" >/dev/null
  python3 - "$tmp/index.json" "$ref" <<'EOF'
import json, sys
path, ref = sys.argv[1], sys.argv[2]
index = json.load(open(path))
for manifest in index["manifests"]:
    manifest.setdefault("annotations", {})["io.containerd.image.name"] = ref
    manifest["annotations"]["org.opencontainers.image.ref.name"] = ref
json.dump(index, open(path, "w"), separators=(",", ":"))
EOF
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$tmp" -cf "$tmp.tar" .
  mv "$tmp.tar" "$out/$short.oci.tar"
  rm -rf "$tmp"
}

declare -A REF HASH SECONDS_OF
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# image_done short ref hash: is the archive there, built from these inputs, under this name?
image_done() {
  [ -s "$out/$1.oci.tar" ] && [ "$(previous_hash "$1")" = "$3" ] && [ "$(previous_ref "$1")" = "$2" ]
}

# build short ref hash function [args]: unless the archive of these inputs is there already, run
# `function image args` (it commits image, localhost/k8sta-node-<short>:<hash>) and export its archive.
build() {
  local short=$1 ref=$2 hash=$3 fn=$4 start image
  REF[$short]=$ref HASH[$short]=$hash
  if image_done "$short" "$ref" "$hash"; then SECONDS_OF[$short]=0; return 0; fi
  start=$(date +%s)
  image=localhost/k8sta-node-$short:$hash
  if [ "$fn" = existing ]; then image=$5; else podman image exists "$image" || "$fn" "$image" "${@:5}"; fi
  export_archive "$short" "$image" "$ref"
  SECONDS_OF[$short]=$(seconds "$start")
  echo "k8sta: $short -> $out/$short.oci.tar ($ref) in ${SECONDS_OF[$short]} s," \
       "$(( $(stat -c %s "$out/$short.oci.tar") / 1000000 )) MB" >&2
}

# --- argocd (ARGOCD_VERSION, and the oldest release still tested, ARGOCD_COMPAT_VERSION) ------------------
kustomize=$cache/bin/kustomize-$KUSTOMIZE_VERSION/kustomize
[ -x "$kustomize" ] || die "no kustomize $KUSTOMIZE_VERSION in $cache/bin: run toolchain/build.sh kustomize"
# Upstream's argocd-base stage (its Dockerfile): these packages, user 999 `argocd` (home /home/argocd,
# owner argocd:0, g=u), /app/config/{ssh,tls,gpg} for the mounted ConfigMaps.
ARGOCD_PACKAGES=git,tini,ca-certificates,gpg,gpg-agent,tzdata,connect-proxy,openssh-client,passwd
# shellcheck disable=SC2016
ARGOCD_CUSTOMIZE='set -e; r="$1"
mkdir -p "$r/home/argocd" && chown 999:0 "$r/home/argocd" && chmod 0775 "$r/home/argocd"
mkdir -p "$r/app/config/ssh" "$r/app/config/tls" "$r/app/config/gpg/source" "$r/app/config/gpg/keys"
touch "$r/app/config/ssh/ssh_known_hosts" && ln -sf /app/config/ssh/ssh_known_hosts "$r/etc/ssh/ssh_known_hosts"
chown 999 "$r/app/config/gpg/keys" && chmod 0700 "$r/app/config/gpg/keys"'
ARGOCD_COMPONENTS="argocd-server argocd-repo-server argocd-cmp-server argocd-application-controller argocd-dex
  argocd-notifications argocd-applicationset-controller argocd-k8s-auth argocd-commit-server argocd-git-ask-pass"

make_argocd() { # image version bin-dir module-dir
  local ctr layer=$work/argocd-$2 name
  mkdir -p "$layer/usr/local/bin"
  cp "$3/argocd" "$kustomize" "$layer/usr/local/bin/"
  install -m 0755 "$4/hack/git-verify-wrapper.sh" "$4/hack/gpg-wrapper.sh" "$4/entrypoint.sh" "$layer/usr/local/bin/"
  ln -s /usr/local/bin/entrypoint.sh "$layer/usr/local/bin/uid_entrypoint.sh"
  for name in $ARGOCD_COMPONENTS; do ln -s /usr/local/bin/argocd "$layer/usr/local/bin/$name"; done
  chmod 0755 "$layer/usr/local/bin/argocd" "$layer/usr/local/bin/kustomize"
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$argocd_rootfs" / >/dev/null
  buildah add --quiet "$ctr" "$(layer_tar "$layer")" / >/dev/null
  buildah config --label org.opencontainers.image.source=https://github.com/argoproj/argo-cd \
    --label org.opencontainers.image.version="$2" \
    --env PATH="$DEFAULT_PATH" --env ARGOCD_USER_ID=999 --env USER=argocd --env GRPC_ENABLE_TXT_SERVICE_CONFIG=false \
    --entrypoint '["/usr/bin/tini", "--"]' --cmd '' --user 999 --workingdir /home/argocd "$ctr"
  buildah commit --quiet --rm "$ctr" "$1" >/dev/null
}
argocd_image() { # short version
  local bin=$cache/bin/argocd-$2 src=$modcache/github.com/argoproj/argo-cd/v3@$2 hash
  [ -x "$bin/argocd" ] || die "no Argo CD $2 binary in $bin: run toolchain/build.sh all"
  [ -f "$src/entrypoint.sh" ] || die "Argo CD's module source $src is missing: run toolchain/build.sh all"
  hash=$(printf '%s\n' "$(basename "$argocd_rootfs")" "$(cat "$bin/argocd" "$kustomize" \
      "$src/hack/git-verify-wrapper.sh" "$src/hack/gpg-wrapper.sh" "$src/entrypoint.sh" | sha256sum)" \
      "$2" "$ARGOCD_COMPONENTS" "$DEFAULT_PATH" "$(declare -f make_argocd layer_tar export_archive)" | hash_of)
  build "$1" "$ARGOCD_REPO:$2" "$hash" make_argocd "$2" "$bin" "$src"
}
argocd_rootfs=$(rootfs argocd "$ARGOCD_PACKAGES" "$(account_hook argocd /home/argocd)" "$ARGOCD_CUSTOMIZE")
argocd_image argocd "$ARGOCD_VERSION"
argocd_image argocd-compat "$ARGOCD_COMPAT_VERSION"

# --- redis ----------------------------------------------------------------------------------------------
# No command in install.yaml's argocd-redis, only args (`--save "" --appendonly no --requirepass ...`):
# like the official image's entrypoint, options alone mean "redis-server with these options".
REDIS_ENTRYPOINT='#!/bin/sh
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
exec "$@"'
# shellcheck disable=SC2016
REDIS_CUSTOMIZE='set -e; mkdir -p "$1/data" && chown 999:999 "$1/data"'
make_redis() { # image
  local ctr layer=$work/redis
  mkdir -p "$layer/usr/local/bin"
  printf '%s\n' "$REDIS_ENTRYPOINT" >"$layer/usr/local/bin/docker-entrypoint.sh"
  chmod 0755 "$layer/usr/local/bin/docker-entrypoint.sh"
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$redis_rootfs" / >/dev/null
  buildah add --quiet "$ctr" "$(layer_tar "$layer")" / >/dev/null
  buildah config --label org.opencontainers.image.version="$redis_version" \
    --env PATH="$DEFAULT_PATH" \
    --entrypoint '["/usr/local/bin/docker-entrypoint.sh"]' --cmd redis-server --user 999:999 --workingdir /data \
    --port 6379 "$ctr"
  buildah commit --quiet --rm "$ctr" "$1" >/dev/null
}
redis_rootfs=$(rootfs redis redis-server "$(account_hook redis /var/lib/redis)" "$REDIS_CUSTOMIZE")
# Debian's version of redis-server (e.g. 5:7.0.15-1~deb12u6); the tag is its upstream part (7.0.15).
redis_version=$(tar -xOf "$redis_rootfs" ./var/lib/dpkg/status | awk '
  /^Package: /{p=$2} /^Version: /{if (p=="redis-server") print $2}')
[ -n "$redis_version" ] || die "no redis-server in $redis_rootfs"
redis_tag=${redis_version#*:}; redis_tag=${redis_tag%%-*}
redis_hash=$(printf '%s\n' "$(basename "$redis_rootfs")" "$REDIS_ENTRYPOINT" "$DEFAULT_PATH" "$(declare -f make_redis layer_tar export_archive)" \
  | hash_of)
build redis "$REDIS_REPO:$redis_tag" "$redis_hash" make_redis

# --- pause ----------------------------------------------------------------------------------------------
pause_src=$modcache/k8s.io/kubernetes@$KUBERNETES_VERSION/build/pause
[ -f "$pause_src/linux/pause.c" ] || die "$pause_src/linux/pause.c is missing: run toolchain/build.sh kube-apiserver"
pause_tag=$(sed -n 's/^TAG ?= *//p' "$pause_src/Makefile")
[ -n "$pause_tag" ] || die "no TAG in $pause_src/Makefile"
make_pause() { # image: upstream's CFLAGS and Dockerfile (FROM scratch, /pause, USER 65535:65535)
  local ctr layer=$work/pause
  mkdir -p "$layer"
  gcc -Os -Wall -Werror -static -DVERSION="v$pause_tag-$KUBERNETES_VERSION" -o "$layer/pause" "$pause_src/linux/pause.c"
  strip "$layer/pause"
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$(layer_tar "$layer")" / >/dev/null
  buildah config --entrypoint '["/pause"]' --cmd '' --user 65535:65535 "$ctr"
  buildah commit --quiet --rm "$ctr" "$1" >/dev/null
}
pause_hash=$(printf '%s\n' "$(sha256sum <"$pause_src/linux/pause.c")" "$pause_tag" "$KUBERNETES_VERSION" \
  "$(gcc --version | head -n1)" "$(declare -f make_pause layer_tar export_archive)" | hash_of)
build pause "$PAUSE_REPO:$pause_tag" "$pause_hash" make_pause

# --- K8sTA's own images (make images), keyed by their image ids ---------------------------------------
build_existing() { # short image ref
  local id
  id=$(podman image inspect --format '{{.Id}}' "$2" 2>/dev/null) || die "no image $2 in podman's storage: run make images"
  build "$1" "$3" "$(printf '%s\n' "$id" "$(declare -f export_archive)" | hash_of)" existing "$2"
}
build_existing k8sta "$DAEMON_IMAGE" "$K8STA_REF"
build_existing k8sta-cmp "$CMP_IMAGE" "$K8STA_CMP_REF"

# --- index.json -------------------------------------------------------------------------------------------
{
  sep=''
  printf '{"images": ['
  for short in argocd argocd-compat redis pause k8sta k8sta-cmp; do
    printf '%s\n  {"short": "%s", "ref": "%s", "archive": "%s", "input_hash": "%s", "bytes": %s, "seconds": %s}' \
      "$sep" "$short" "${REF[$short]}" "$out/$short.oci.tar" "${HASH[$short]}" \
      "$(stat -c %s "$out/$short.oci.tar")" "${SECONDS_OF[$short]}"
    sep=,
  done
  printf '\n], "redis_debian_version": "%s"}\n' "$redis_version"
} >"$out/index.json.partial"
python3 -m json.tool "$out/index.json.partial" >/dev/null
mv "$out/index.json.partial" "$out/index.json"
# Committed node images of older inputs are dead weight in podman's storage.
for repo_tag in $(podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/k8sta-node-' \
                  | grep -vxF -e "localhost/k8sta-node-argocd:${HASH[argocd]}" \
                      -e "localhost/k8sta-node-argocd-compat:${HASH[argocd-compat]}" \
                      -e "localhost/k8sta-node-redis:${HASH[redis]}" -e "localhost/k8sta-node-pause:${HASH[pause]}"); do
  podman rmi --force "$repo_tag" >/dev/null 2>&1 || true
done
