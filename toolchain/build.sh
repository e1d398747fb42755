#!/usr/bin/env bash
# Build pinned external binaries into a git-ignored cache, each only when missing.
#   toolchain/build.sh [kustomize|etcd|kube-apiserver|argocd|all]...
# Cache: $K8STA_CACHE (default ~/.cache/k8sta). Binaries land in
# $K8STA_CACHE/bin/<name>-<version>/<name>; each build's log in $K8STA_CACHE/logs/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/versions.env"
cache=${K8STA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8sta}
mkdir -p "$cache/bin" "$cache/logs"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
# GNU time reports each build's peak memory into its log when it is installed.
timer=""; [ -x /usr/bin/time ] && timer="/usr/bin/time -v"

version_of() {
  case $1 in
    kustomize) echo "$KUSTOMIZE_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kube-apiserver) echo "$KUBERNETES_VERSION" ;;
    argocd) echo "$ARGOCD_VERSION" ;;
    *) echo "unknown binary: $1 (want kustomize, etcd, kube-apiserver, argocd)" >&2; return 2 ;;
  esac
}

go_build() { # name version package ldflags
  local name=$1 version=$2 pkg=$3 ldflags=$4
  local out="$cache/bin/$name-$version" log="$cache/logs/build-$name-$version.log"
  if [ -x "$out/$name" ]; then echo "k8sta: $name $version cached at $out/$name"; return 0; fi
  echo "k8sta: building $name $version (log: $log) ..."
  local start=$SECONDS tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  if ! (cd "$here/go/$name" && $timer go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/$name" "$pkg") >"$log" 2>&1; then
    echo "k8sta: building $name $version FAILED; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    rm -rf "$tmp"; return 1
  fi
  rm -rf "$out"; mv "$tmp" "$out"
  echo "k8sta: built $name $version in $((SECONDS - start)) s $(grep -o 'Maximum resident set size.*' "$log" || true)"
}

build_one() {
  local name=$1 version
  version=$(version_of "$name")
  case $name in
    kustomize)
      go_build kustomize "$version" sigs.k8s.io/kustomize/kustomize/v5 \
        "-X sigs.k8s.io/kustomize/api/provenance.version=$version" ;;
    etcd)
      go_build etcd "$version" . "" ;;
    kube-apiserver)
      local minor=${version#v1.}; minor=${minor%%.*} v=k8s.io/component-base/version
      go_build kube-apiserver "$version" k8s.io/kubernetes/cmd/kube-apiserver \
        "-X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z" ;;
    argocd)
      local c=github.com/argoproj/argo-cd/v3/common
      go_build argocd "$version" github.com/argoproj/argo-cd/v3/cmd \
        "-X $c.version=${version#v} -X $c.gitTreeState=clean -X $c.buildDate=1970-01-01T00:00:00Z"
      # Argo CD is one multi-call binary: each component is a name pointing at it.
      local d="$cache/bin/argocd-$version"
      for alias in argocd-server argocd-repo-server argocd-application-controller argocd-cmp-server; do
        ln -sf argocd "$d/$alias"
      done ;;
  esac
}

targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
  if [ "$t" = all ]; then for n in kustomize etcd kube-apiserver argocd; do build_one "$n"; done
  else build_one "$t"; fi
done
