#!/usr/bin/env bash
# Build pinned external binaries into a git-ignored cache, each only when missing.
#   toolchain/build.sh [kustomize|etcd|kube-apiserver|kube-controller-manager|kube-scheduler|
#                       kwok|argo-rollouts|argocd|argocd-compat|all|
#                       kubelet|kube-proxy|kubectl|coredns|node]...
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
all_names=(kustomize etcd kube-apiserver kube-controller-manager kube-scheduler kwok argo-rollouts argocd argocd-compat)
# The real node's parts (toolchain/build.sh node): kubelet, kube-proxy and kubectl from the same module, CoreDNS.
node_names=(kubelet kube-proxy kubectl coredns)

version_of() {
  case $1 in
    kustomize) echo "$KUSTOMIZE_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl) echo "$KUBERNETES_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    argo-rollouts) echo "$ARGO_ROLLOUTS_VERSION" ;;
    argocd) echo "$ARGOCD_VERSION" ;;
    argocd-compat) echo "$ARGOCD_COMPAT_VERSION" ;;
    *) echo "unknown binary: $1 (want one of: ${all_names[*]})" >&2; return 2 ;;
  esac
}

# go_build name version module-dir ldflags [binary package]...
# Builds each (binary, package) pair from the wrapper module toolchain/go/<module-dir> into
# $cache/bin/<name>-<version>/, which appears only once every binary built (an atomic rename).
# A hook function `extras_<name>` (if defined) may add data files to the directory before the rename.
go_build() {
  local name=$1 version=$2 moddir=$3 ldflags=$4; shift 4
  local out="$cache/bin/$name-$version" log="$cache/logs/build-$name-$version.log"
  if [ -d "$out" ] && [ -x "$out/$1" ]; then echo "k8sta: $name $version cached at $out"; return 0; fi
  echo "k8sta: building $name $version (log: $log) ..."
  local start=$SECONDS tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"; : >"$log"
  while [ $# -gt 0 ]; do
    local bin=$1 pkg=$2; shift 2
    if ! (cd "$here/go/$moddir" && $timer go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/$bin" "$pkg") >>"$log" 2>&1; then
      echo "k8sta: building $name $version FAILED; last lines of $log:" >&2
      tail -n 30 "$log" >&2
      rm -rf "$tmp"; return 1
    fi
  done
  if declare -F "extras_${name//-/_}" >/dev/null && ! (cd "$here/go/$moddir" && "extras_${name//-/_}" "$tmp") >>"$log" 2>&1; then
    echo "k8sta: collecting data files of $name $version FAILED; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    rm -rf "$tmp"; return 1
  fi
  rm -rf "$out"; mv "$tmp" "$out"
  echo "k8sta: built $name $version in $((SECONDS - start)) s $(grep -o 'Maximum resident set size.*' "$log" | sort -t: -k2 -n | tail -n 1 || true)"
}

module_dir() { # module@version -> its directory in the module cache (downloaded if missing)
  go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

# KWOK refuses to start without stages: ship the module's "fast" node and pod stages, plus the node
# heartbeat that goes with its Lease renewals (else the node-lifecycle controller marks the Node NotReady).
extras_kwok() {
  local src; src=$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")
  mkdir -p "$1/stages"
  cp "$src/kustomize/stage/node/fast/node-initialize.yaml" "$1/stages/"
  cp "$src/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" "$1/stages/"
  cp "$src"/kustomize/stage/pod/fast/pod-*.yaml "$1/stages/"
  chmod -R u+w "$1/stages"
}

# The Rollouts CRDs of the same version, applied by the devstack.
extras_argo_rollouts() {
  local src; src=$(module_dir "github.com/argoproj/argo-rollouts@$ARGO_ROLLOUTS_VERSION")
  mkdir -p "$1/crds"
  cp "$src"/manifests/crds/*-crd.yaml "$1/crds/"
  chmod -R u+w "$1/crds"
}

# build_argocd version module-dir: Argo CD is one multi-call binary; each component is a name pointing
# at it. Both pins (ARGOCD_VERSION and ARGOCD_COMPAT_VERSION) land in $cache/bin/argocd-<version>/.
build_argocd() {
  local version=$1 moddir=$2 c=github.com/argoproj/argo-cd/v3/common alias
  go_build argocd "$version" "$moddir" \
    "-X $c.version=${version#v} -X $c.gitTreeState=clean -X $c.buildDate=1970-01-01T00:00:00Z" \
    argocd github.com/argoproj/argo-cd/v3/cmd
  for alias in argocd-server argocd-repo-server argocd-application-controller argocd-cmp-server; do
    ln -sf argocd "$cache/bin/argocd-$version/$alias"
  done
  # Upstream's image puts Argo CD's git wrappers next to the binary (its Dockerfile copies hack/*.sh into
  # /usr/local/bin); 3.6's repo-server runs git-verify-wrapper.sh on every checkout and refuses the
  # render ("permission denied") without it. Copied also into an existing cache, from the same module.
  local src script
  src=$(module_dir "github.com/argoproj/argo-cd/v3@$version")
  for script in git-verify-wrapper.sh gpg-wrapper.sh; do
    if [ -f "$src/hack/$script" ] && [ ! -x "$cache/bin/argocd-$version/$script" ]; then
      install -m 0755 "$src/hack/$script" "$cache/bin/argocd-$version/$script"
    fi
  done
}

build_one() {
  local name=$1 version
  version=$(version_of "$name")
  case $name in
    kustomize)
      go_build kustomize "$version" kustomize "-X sigs.k8s.io/kustomize/api/provenance.version=$version" \
        kustomize sigs.k8s.io/kustomize/kustomize/v5 ;;
    etcd)
      go_build etcd "$version" etcd "" etcd . ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl)
      # One wrapper module (toolchain/go/kube-apiserver) pins k8s.io/kubernetes for all of them.
      local minor=${version#v1.}; minor=${minor%%.*} v=k8s.io/component-base/version
      go_build "$name" "$version" kube-apiserver \
        "-X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z" \
        "$name" "k8s.io/kubernetes/cmd/$name" ;;
    coredns)
      # The wrapper's own main (toolchain/go/coredns/main.go): upstream's coremain with the node's plugins.
      go_build coredns "$version" coredns "-X github.com/coredns/coredns/coremain.GitCommit=$version" \
        coredns . ;;
    kwok)
      go_build kwok "$version" kwok "" kwok sigs.k8s.io/kwok/cmd/kwok ;;
    argo-rollouts)
      local r=github.com/argoproj/argo-rollouts
      GOTOOLCHAIN=$ARGO_ROLLOUTS_GOTOOLCHAIN go_build argo-rollouts "$version" argo-rollouts \
        "-X $r/utils/version.version=${version#v} -X $r/utils/version.gitTreeState=clean" \
        rollouts-controller "$r/cmd/rollouts-controller" \
        kubectl-argo-rollouts "$r/cmd/kubectl-argo-rollouts" ;;
    argocd)
      GOTOOLCHAIN=$ARGOCD_GOTOOLCHAIN build_argocd "$version" argocd ;;
    argocd-compat)
      build_argocd "$version" argocd-compat ;;
  esac
}

targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
  if [ "$t" = all ]; then for n in "${all_names[@]}"; do build_one "$n"; done
  elif [ "$t" = node ]; then for n in "${node_names[@]}"; do build_one "$n"; done
  else build_one "$t"; fi
done
