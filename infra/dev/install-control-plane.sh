#!/usr/bin/env bash
# Installs what the local control plane and test harness need, once per machine:
#   - Debian packages: etcd-server, docker-registry, git, age, golang-go (build only), rsync, jq
#   - kube-apiserver and kube-controller-manager built from Debian bookworm's `kubernetes`
#     source package, cached under $FLUXLESS_CACHE_DIR/kubernetes-<version>/
# Idempotent: when everything is present it returns in well under a second.
# Prints progress on stderr; on failure it says what failed and what to do instead.
set -euo pipefail

K8S_VERSION="${FLUXLESS_K8S_VERSION:-1.20.2}"
# Bump when the build recipe changes, so machines rebuild once.
BUILD_REV="fl2"
CACHE_DIR="${FLUXLESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fluxless}"
BIN_DIR="$CACHE_DIR/kubernetes-$K8S_VERSION-$BUILD_REV"
log() { echo "[fluxless install] $*" >&2; }
die() {
  echo "[fluxless install] ERROR: $1" >&2
  echo "[fluxless install] Instead, point FLUXLESS_TEST_KUBECONFIG at a kubeconfig of an existing cluster (kind, EKS, ...)." >&2
  exit 1
}

# One install at a time per cache (a test run and `npm start`, or two clones, may start together):
# the second waits for the first, then finds everything in place.
mkdir -p "$CACHE_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_DIR/.install.lock"
  if ! flock -n 9; then
    log "another install is running (lock $CACHE_DIR/.install.lock); waiting for it"
    flock 9
  fi
fi

need_pkgs=()
command -v etcd >/dev/null 2>&1 || need_pkgs+=(etcd-server)
command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
[ -x /usr/lib/git-core/git-http-backend ] || need_pkgs+=(git)
command -v age >/dev/null 2>&1 || need_pkgs+=(age)
[ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
have_bins=0
[ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kube-controller-manager" ] && have_bins=1
if [ "$have_bins" = 0 ]; then
  command -v go >/dev/null 2>&1 || need_pkgs+=(golang-go)
  command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
  command -v jq >/dev/null 2>&1 || need_pkgs+=(jq)
  # The vendored reflect2 1.0.1 crashes (SIGSEGV in map iteration) when built with Go >= 1.18;
  # Debian's reflect2 1.0.2 sources replace it.
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || need_pkgs+=(golang-github-modern-go-reflect2-dev)
fi

apt_updated=0
apt_update() {
  [ "$apt_updated" = 1 ] && return 0
  log "apt-get update"
  apt-get update -qq >&2 || die "apt-get update failed (no network to Debian's mirrors?)."
  apt_updated=1
}

if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages (${need_pkgs[*]}) and not root, so they cannot be installed with apt-get."
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${need_pkgs[*]}) and this machine has no apt-get."
  apt_update
  log "apt-get install ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2 \
    || die "apt-get install ${need_pkgs[*]} failed."
fi

if [ "$have_bins" = 1 ]; then
  exit 0
fi

[ "$(id -u)" = 0 ] || die "kube-apiserver is not built yet and building it needs root (apt-get source)."
log "building kube-apiserver and kube-controller-manager $K8S_VERSION from Debian's source package (about 6 minutes, once per machine)"
src_list=/etc/apt/sources.list.d/fluxless-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  cat > "$src_list" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_updated=0
fi
apt_update

work="$CACHE_DIR/build-kubernetes-$K8S_VERSION"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source --download-only kubernetes >&2 || die "apt-get source kubernetes failed."
orig=$(ls kubernetes_*.orig.tar.* 2>/dev/null | head -n1)
[ -n "$orig" ] || die "the kubernetes source package has no .orig tarball."
mkdir src
tar -xf "$orig" -C src --strip-components=1
cd src
rm -rf vendor/github.com/modern-go/reflect2
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2
rm -rf vendor/github.com/modern-go/reflect2/test* vendor/github.com/modern-go/reflect2/*_test.go
sed -i 's|^# github.com/modern-go/reflect2 v1.0.1$|# github.com/modern-go/reflect2 v1.0.2|' vendor/modules.txt
sed -i 's|github.com/modern-go/reflect2 v1.0.1|github.com/modern-go/reflect2 v1.0.2|' go.mod
mkdir -p .go/src/k8s.io
ln -s ../../.. .go/src/k8s.io/kubernetes
build() {
  GOPATH="$PWD/.go" CGO_ENABLED=0 make WHAT="cmd/$1" >&2
}
for target in kube-apiserver kube-controller-manager; do
  if ! build "$target"; then
    log "build of $target failed once; retrying after clearing _output"
    rm -rf _output
    build "$target" || die "building $target failed (see the make output above)."
  fi
done
mkdir -p "$BIN_DIR"
for target in kube-apiserver kube-controller-manager; do
  f=$(find _output -type f -name "$target" -perm -u+x | head -n1)
  [ -n "$f" ] || die "build finished but _output has no $target binary."
  cp "$f" "$BIN_DIR/$target.tmp" && mv "$BIN_DIR/$target.tmp" "$BIN_DIR/$target"
done
log "installed $BIN_DIR/kube-apiserver and kube-controller-manager"
