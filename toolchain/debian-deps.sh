#!/usr/bin/env bash
# Install the Debian packages the local stack needs, only when missing: redis-server, git, and for the
# intake tests a real OCI registry (docker-registry), skopeo to push test images, htpasswd (apache2-utils)
# for the registry's basic auth.
set -euo pipefail
missing=()
command -v git >/dev/null || missing+=(git)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v go >/dev/null || { echo "k8sta: Go 1.25+ is required to build the pinned tools (toolchain/build.sh)" >&2; exit 1; }
[ ${#missing[@]} -eq 0 ] && exit 0
echo "k8sta: installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
