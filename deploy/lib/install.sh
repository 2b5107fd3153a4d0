#!/usr/bin/env bash
# Installers shared by ./dev, deploy/validate.sh and deploy/livekit/rig.sh. Source it; every
# function is idempotent and caches what is slow to make under $OC_CACHE
# (default ~/.cache/outbound-calling), so a second run installs nothing.
#
#   apt_install PKG...        Debian packages that are missing (apt-get update once)
#   go_install NAME MODULE VERSION BINARY
#                             go install MODULE@VERSION into $OC_CACHE/go-bin/NAME-VERSION/BINARY
#   install_helm, helm_bin    helm (go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION)
#   install_livekit_server, livekit_server_bin
#                             livekit-server (go install; the binary is named `server`)
#   install_livekit_sip, livekit_sip_bin
#                             livekit-sip (go install by module path; from
#                             ../shared/third_party/livekit-sip/build.sh when that exists)
#   install_sipp, sipp_bin    sipp (Debian's sip-tester), the rig's scripted SIP callees
#   install_redis_server, redis_server_bin
#                             Debian's redis-server
#   install_py_tool PKG==VER  a PyPI tool into the venv $OC_VENV (default $OC_CACHE/venv)
#   install_browser, chromium_bin, chromedriver_bin
#                             Debian's chromium and chromium-driver (the console's browser tests)
#
# The install_* functions print only logs (on stderr); the *_bin functions print the path.
#
# Go builds run with `-p=$OC_BUILD_JOBS` (default 1) under nice: the machines are small and
# the cargo build shares them.

OC_CACHE="${OC_CACHE:-$HOME/.cache/outbound-calling}"
OC_GO_BIN="${OC_GO_BIN:-${LK_BIN_CACHE:-$OC_CACHE/go-bin}}"
OC_BUILD_JOBS="${OC_BUILD_JOBS:-${LK_BUILD_JOBS:-1}}"
OC_VENV="${OC_VENV:-$OC_CACHE/venv}"
# Modules that say `go 1.26` need go >= 1.26; an older go (1.21+) fetches this toolchain
# from the module proxy.
OC_GO_TOOLCHAIN="${OC_GO_TOOLCHAIN:-${LK_GO_TOOLCHAIN:-go1.26.8}}"

HELM_MODULE="helm.sh/helm/v3/cmd/helm"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
LK_SERVER_MODULE="github.com/livekit/livekit-server/cmd/server"
LK_SERVER_VERSION="${LK_SERVER_VERSION:-v1.13.5}"
LK_SIP_MODULE="github.com/livekit/sip/cmd/livekit-sip"
LK_SIP_VERSION="${LK_SIP_VERSION:-v1.11.0}"
# The sources of livekit-sip $LK_SIP_VERSION beside a checkout, for machines whose Go module
# proxy refuses github.com/livekit/sip (see that folder's README).
OC_CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LK_SIP_SOURCE="${LK_SIP_SOURCE:-$OC_CHECKOUT/../shared/third_party/livekit-sip}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ $apt_updated -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_go() {
  command -v go >/dev/null || die "go not found: install Go 1.21 or newer (it fetches $OC_GO_TOOLCHAIN itself)"
  local have; have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  case "$have" in
    ''|1.1[0-9]*|1.20*) die "go $have is too old: Go 1.21 or newer is needed to fetch $OC_GO_TOOLCHAIN" ;;
  esac
  if [ "$(printf '%s\n1.26\n' "$have" | sort -V | head -n 1)" != "1.26" ]; then
    export GOTOOLCHAIN="$OC_GO_TOOLCHAIN"
    log "go $have is older than 1.26: using GOTOOLCHAIN=$GOTOOLCHAIN"
  fi
}

# go_install NAME MODULE VERSION BINARY: build into a .partial folder, then rename, so an
# interrupted build never leaves a binary that looks finished.
go_install() {
  local name=$1 module=$2 version=$3 binary=$4
  local dir="$OC_GO_BIN/$name-$version"
  [ -x "$dir/$binary" ] && return 0
  ensure_go
  mkdir -p "$OC_GO_BIN/logs"
  local tmp="$dir.partial" logf="$OC_GO_BIN/logs/$name-$version.log" start
  rm -rf "$tmp"; mkdir -p "$tmp"
  log "building $name $version (go install $module@$version; minutes the first time)"
  start=$(date +%s)
  if ! GOBIN="$tmp" GOFLAGS="-p=$OC_BUILD_JOBS -buildvcs=false" GOMAXPROCS="$OC_BUILD_JOBS" \
      nice -n 19 go install "$module@$version" > "$logf" 2>&1; then
    rm -rf "$tmp"
    grep -v '^go: downloading' "$logf" | tail -n 20 >&2
    die "go install $module@$version failed (full log: $logf)"
  fi
  rm -rf "$dir"; mv "$tmp" "$dir"
  log "built $name $version in $(( $(date +%s) - start ))s: $dir/$binary"
}

install_helm() { go_install helm "$HELM_MODULE" "$HELM_VERSION" helm; }
helm_bin() { echo "$OC_GO_BIN/helm-$HELM_VERSION/helm"; }

install_livekit_server() {
  # cgo parts (and go itself) need a C toolchain.
  apt_install ca-certificates gcc libc6-dev
  go_install livekit-server "$LK_SERVER_MODULE" "$LK_SERVER_VERSION" server
}
livekit_server_bin() { echo "$OC_GO_BIN/livekit-server-$LK_SERVER_VERSION/server"; }

install_livekit_sip() {
  # livekit-sip is cgo: Opus (libopus, libopusfile) and libsoxr through pkg-config.
  apt_install ca-certificates gcc libc6-dev pkg-config libopus-dev libopusfile-dev libsoxr-dev
  local bin; bin=$(livekit_sip_bin)
  [ -x "$bin" ] && return 0
  if [ -x "$LK_SIP_SOURCE/build.sh" ] && [ "$LK_SIP_VERSION" = v1.11.0 ]; then
    ensure_go
    mkdir -p "$OC_GO_BIN/logs" "$(dirname "$bin")"
    local logf="$OC_GO_BIN/logs/livekit-sip-$LK_SIP_VERSION.log" start
    log "building livekit-sip $LK_SIP_VERSION from $LK_SIP_SOURCE (minutes the first time)"
    start=$(date +%s)
    # build.sh writes OUT.partial and renames it, so an interrupted build leaves no binary.
    if ! GOFLAGS="-p=$OC_BUILD_JOBS -buildvcs=false" GOMAXPROCS="$OC_BUILD_JOBS" \
        nice -n 19 "$LK_SIP_SOURCE/build.sh" "$bin" > "$logf" 2>&1; then
      grep -v '^go: downloading' "$logf" | tail -n 20 >&2
      die "building livekit-sip from $LK_SIP_SOURCE failed (full log: $logf)"
    fi
    log "built livekit-sip $LK_SIP_VERSION in $(( $(date +%s) - start ))s: $bin"
  else
    CGO_ENABLED=1 go_install livekit-sip "$LK_SIP_MODULE" "$LK_SIP_VERSION" livekit-sip
  fi
}
livekit_sip_bin() { echo "$OC_GO_BIN/livekit-sip-$LK_SIP_VERSION/livekit-sip"; }

install_sipp() { command -v sipp >/dev/null || apt_install sip-tester; }
sipp_bin() { command -v sipp || echo /usr/bin/sipp; }

install_redis_server() { apt_install redis-server; }
redis_server_bin() { command -v redis-server || echo /usr/bin/redis-server; }

# Headless Chromium and its WebDriver, from Debian (browser builds cannot be downloaded).
install_browser() { apt_install chromium chromium-driver; }
chromium_bin() { command -v chromium || echo /usr/bin/chromium; }
chromedriver_bin() { command -v chromedriver || echo /usr/bin/chromedriver; }

# install_py_tool PKG==VERSION: pip install into the shared venv unless that version is there.
install_py_tool() {
  local spec=$1 name=${1%%==*} version=${1#*==}
  if [ ! -x "$OC_VENV/bin/pip" ]; then
    command -v python3 >/dev/null || apt_install python3
    python3 -m venv "$OC_VENV" 2>/dev/null || { apt_install python3-venv; rm -rf "$OC_VENV"; python3 -m venv "$OC_VENV"; }
  fi
  if [ "$("$OC_VENV/bin/pip" show "$name" 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ]; then
    log "installing $spec into $OC_VENV"
    "$OC_VENV/bin/pip" install --quiet --disable-pip-version-check "$spec"
  fi
}
