#!/usr/bin/env bash
# Regenerate the wrapper Go modules in toolchain/go/ from toolchain/versions.env.
# Developer-only: its outputs (go.mod, go.sum) are dependency pins and are committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/versions.env"
export GOFLAGS=-mod=mod CGO_ENABLED=0

tool_module() { # dir module-path "tool-package..." version [replace-lines]
  local dir=$1 modpath=$2 tools=$3 version=$4 replaces=${5:-} t args=()
  mkdir -p "$dir"; rm -f "$dir/go.mod" "$dir/go.sum"
  (cd "$dir" && go mod init "$modpath" >/dev/null 2>&1)
  if [ -n "$replaces" ]; then printf '\nreplace (\n%s\n)\n' "$replaces" >>"$dir/go.mod"; fi
  for t in $tools; do args+=("$t@$version"); done
  (cd "$dir" && go get -tool "${args[@]}" && go mod tidy)
}

# kustomize: a plain tool dependency.
tool_module "$here/go/kustomize" k8sta.io/toolchain/kustomize \
  sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"

# etcd: main.go calls etcdmain.Main; pin the server module.
(cd "$here/go/etcd" && rm -f go.mod go.sum && go mod init k8sta.io/toolchain/etcd >/dev/null 2>&1 \
  && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go mod tidy)

# kube-apiserver, kube-controller-manager and kube-scheduler (one module): k8s.io/kubernetes points
# its ~30 staging modules at ./staging; replace each
# with the published v0.<minor>.<patch>, list generated from the module's own go.mod.
kmod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
staging_version="v0.${KUBERNETES_VERSION#v1.}"
kreplaces=$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$kmod")
tool_module "$here/go/kube-apiserver" k8sta.io/toolchain/kube-apiserver \
  "k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl" \
  "$KUBERNETES_VERSION" "$kreplaces"

# CoreDNS (the real node's cluster DNS): our main.go (a plugin subset) requires the pinned module.
(cd "$here/go/coredns" && rm -f go.mod go.sum && go mod init k8sta.io/toolchain/coredns >/dev/null 2>&1 \
  && go get "github.com/coredns/coredns@$COREDNS_VERSION" && go mod tidy)

# KWOK: a plain tool dependency (its stages are copied from the module cache by build.sh).
tool_module "$here/go/kwok" k8sta.io/toolchain/kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION"

# Argo Rollouts: needs a newer Go than the default; copy its own replace block verbatim.
rmod=$(GOTOOLCHAIN=$ARGO_ROLLOUTS_GOTOOLCHAIN go mod download -json "github.com/argoproj/argo-rollouts@$ARGO_ROLLOUTS_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
rreplaces=$(sed -n '/^replace (/,/^)/p' "$rmod" | sed '1d;$d')
r=github.com/argoproj/argo-rollouts/cmd
GOTOOLCHAIN=$ARGO_ROLLOUTS_GOTOOLCHAIN tool_module "$here/go/argo-rollouts" k8sta.io/toolchain/argo-rollouts \
  "$r/rollouts-controller $r/kubectl-argo-rollouts" "$ARGO_ROLLOUTS_VERSION" "$rreplaces"

# Argo CD (the pin, and the oldest version still tested): copy its replace block verbatim. v3.6's
# single-line `replace github.com/argoproj/argo-cd/gitops-engine/v3 => ./gitops-engine` stays out: that
# directory is not in the module archive, and v3.6 publishes the module at the release's own tag
# (gitops-engine/v3.6.2), which its require line names.
argocd_module() { # dir module-path version
  local dir=$1 modpath=$2 version=$3 amod areplaces
  amod=$(go mod download -json "github.com/argoproj/argo-cd/v3@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  areplaces=$(sed -n '/^replace (/,/^)/p' "$amod" | sed '1d;$d')
  tool_module "$dir" "$modpath" github.com/argoproj/argo-cd/v3/cmd "$version" "$areplaces"
}
GOTOOLCHAIN=$ARGOCD_GOTOOLCHAIN argocd_module "$here/go/argocd" k8sta.io/toolchain/argocd "$ARGOCD_VERSION"
argocd_module "$here/go/argocd-compat" k8sta.io/toolchain/argocd-compat "$ARGOCD_COMPAT_VERSION"
