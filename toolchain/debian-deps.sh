#!/usr/bin/env bash
# Install the Debian packages the local stack needs, only when missing: redis-server, git, and for the
# intake tests a real OCI registry (docker-registry), skopeo to push test images, htpasswd (apache2-utils)
# for the registry's basic auth; the config repository's git servers (devstack/k8sta_devstack/node/gitservers.py):
# openssh-server (sshd) and lighttpd with mod_openssl (git http-backend over TLS).
set -euo pipefail
missing=()
command -v git >/dev/null || missing+=(git)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
[ -x /usr/sbin/lighttpd ] || missing+=(lighttpd)
[ -e /usr/lib/lighttpd/mod_openssl.so ] || missing+=(lighttpd-mod-openssl)
command -v go >/dev/null || { echo "k8sta: Go 1.25+ is required to build the pinned tools (toolchain/build.sh)" >&2; exit 1; }
[ ${#missing[@]} -eq 0 ] && exit 0
echo "k8sta: installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
$sudo apt-get update -qq
# openssh-server and lighttpd start a system service (sshd on :22, lighttpd on :80) from their postinst;
# the stack runs its own copies, so a policy-rc.d that refuses every start (exit 101) is in place for
# the install and removed afterwards unless it was there before.
policy=/usr/sbin/policy-rc.d
if [ -e "$policy" ]; then ours=; else ours=1; printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null; $sudo chmod 755 "$policy"; fi
trap '[ -z "$ours" ] || $sudo rm -f "$policy"' EXIT
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
# ... and never at boot either: the packages enable their units; the stack's copies are its own processes.
for unit in ssh lighttpd; do
  case " ${missing[*]} " in *" ${unit/ssh/openssh-server} "*)
    command -v systemctl >/dev/null && { $sudo systemctl disable --quiet "$unit" 2>/dev/null || true; } ;;
  esac
done
