#!/usr/bin/env bash
# Builds the binaries of a real Kubernetes control plane for the end-to-end tests from the Go module
# proxy, with the ordinary `go` client: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
# (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3), kwok (simulated nodes) and helm.
# Idempotent: the result is cached outside the repository, keyed by every version, and a second run
# does nothing. Prints the binary directory on its last line.
set -euo pipefail
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
HELM_VERSION=${HELM_VERSION:-v3.20.2}
GO_VERSION=$(go env GOVERSION)
GOOS_ARCH="$(go env GOOS)-$(go env GOARCH)"
CACHE_ROOT=${EDGESITE_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgesite-cluster}
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}_${GO_VERSION}_${GOOS_ARCH}"
BIN="$CACHE_ROOT/bin/$KEY"

if [ -f "$BIN/.complete" ]; then
  echo "$BIN"
  exit 0
fi

export GOFLAGS="-modcacherw -buildvcs=false"
export CGO_ENABLED=0
work="$CACHE_ROOT/work/$KEY"
mkdir -p "$BIN" "$work"
log() { printf '[build-cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

build_kubernetes() {
  local dir="$work/kubernetes" staging="v0${K8S_VERSION#v1}"
  [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kubectl" ] && return 0
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init edgesite.local/k8s-build >/dev/null 2>&1
  # k8s.io/kubernetes resolves its staging modules with local replaces, which a dependent module
  # ignores: map each of them to its published v0.Y.Z instead, read from k/k's own go.mod.
  local kkmod
  kkmod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  for m in $(sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*|\1|p' "$kkmod"); do
    go mod edit -replace="$m=$m@$staging"
  done
  local godebug
  godebug=$(sed -n 's/^godebug default=\(.*\)$/\1/p' "$kkmod")
  [ -n "$godebug" ] && go mod edit -godebug="default=$godebug"
  local ver="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
  ver+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
  ver+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ver+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $K8S_VERSION"
  go build -mod=mod -trimpath -ldflags "-s -w $ver" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  local dir="$work/etcd"
  [ -x "$BIN/etcd" ] && return 0
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init edgesite.local/etcd-build >/dev/null 2>&1
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  log "building etcd $ETCD_VERSION"
  go build -mod=mod -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() {
  [ -x "$BIN/kwok" ] && [ -f "$BIN/kwok-stages/pod-ready.yaml" ] && return 0
  log "building kwok $KWOK_VERSION"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # Standalone kwok needs its stage configurations; they ship inside the module.
  local src
  src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  mkdir -p "$BIN/kwok-stages"
  cp "$src/kustomize/stage/node/fast/node-initialize.yaml" \
     "$src/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
     "$src/kustomize/stage/pod/fast/pod-ready.yaml" \
     "$src/kustomize/stage/pod/fast/pod-complete.yaml" \
     "$src/kustomize/stage/pod/fast/pod-delete.yaml" "$BIN/kwok-stages/"
  chmod 0644 "$BIN"/kwok-stages/*.yaml
}

build_helm() {
  [ -x "$BIN/helm" ] && return 0
  log "building helm $HELM_VERSION"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

build_etcd
build_kwok
build_kubernetes
build_helm
touch "$BIN/.complete"
log "done"
echo "$BIN"
