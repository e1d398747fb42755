#!/usr/bin/env bash
# Install Debian's chromium for the browser tests and the board benchmark (Playwright drives it through
# executable_path: its own browser download is not used). Only when missing.
set -euo pipefail
command -v chromium >/dev/null && exit 0
echo "k8sta: installing Debian packages: chromium"
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
# Another apt run (e.g. toolchain/debian-deps.sh in a parallel job) may hold the lock: wait for it.
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core >/dev/null
