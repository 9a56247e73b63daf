#!/usr/bin/env bash
# Sourced by the other scripts in Scripts/ (not run on its own):
#   PROJECT_ROOT          the checkout's root, from this file's own location
#   log MSG...            "==> MSG" on stderr
#   die MSG...            "error: MSG" on stderr, then exit 1
#   ensure_packages PKG...  installs the missing Debian packages (apt-get update at most once)
set -euo pipefail

PROJECT_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
export PROJECT_ROOT

log() {
  printf '==> %s\n' "$*" >&2
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Whether a Debian package is installed (not merely known to dpkg, e.g. removed
# with its configuration files left).
package_installed() {
  dpkg -s "$1" 2>/dev/null | grep -qx 'Status: install ok installed'
}

# Set once `apt-get update` has run; exported so that the scripts a script runs
# (Scripts/test runs Scripts/setup, Scripts/build, ...) do not update again.
export BULKHEAD_APT_UPDATED="${BULKHEAD_APT_UPDATED:-0}"

ensure_packages() {
  local pkg
  local missing=()
  for pkg in "$@"; do
    package_installed "$pkg" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "missing packages (${missing[*]}): run as root or install sudo"
    sudo=(sudo)
  fi
  if [[ "$BULKHEAD_APT_UPDATED" != 1 ]]; then
    log "apt-get update"
    "${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed"
    BULKHEAD_APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
}
