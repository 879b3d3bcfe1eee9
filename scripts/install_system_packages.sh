#!/usr/bin/env bash
# Debian packages the workflow uses outside Python, none of which the smoke tier or the
# tests need. Usage:
#   scripts/install_system_packages.sh              the workflow's own (run by `make`):
#       unar, libarchive-tools   RAR extractors for UCF101's video archive (either will do)
#   scripts/install_system_packages.sh slurm-wlm munge    (run by scripts/slurm_local.sh)
#
# Never fails: a package that cannot be installed is a warning naming what it would serve,
# and whoever needs it (the full tier's UCF101 download, scripts/slurm_local.sh) says so
# again when it is missing. Installing needs root and apt-get; elsewhere (a cluster login
# node) it only names what is missing. Package lists on a fresh machine may be stale (a
# library newer than the lists know makes apt refuse): a failed install refreshes them and
# tries again, then tries each package on its own so that one broken package does not keep
# the others out. Another apt (a second `make` starting at once) is waited for, not raced.
set -uo pipefail

declare -A SERVES=(
    [unar]="extracting UCF101's RAR archive (full tier)"
    [libarchive-tools]="extracting UCF101's RAR archive with bsdtar (full tier)"
    [slurm-wlm]="the one-node SLURM of scripts/slurm_local.sh (the SLURM workflow test)"
    [munge]="the one-node SLURM of scripts/slurm_local.sh (the SLURM workflow test)"
)
LOCK_TIMEOUT_S=300

if (($# == 0)); then
    set -- unar libarchive-tools
fi

warn() { echo "install_system_packages: warning: $*" >&2; }

installed() {
    dpkg-query --show --showformat='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing_of() {
    local package
    for package in "$@"; do
        installed "$package" || echo "$package"
    done
}

warn_missing() {
    local package
    for package in "$@"; do
        warn "$package is not installed: it serves ${SERVES[$package]:-the workflow}"
    done
}

apt() {
    apt-get -o DPkg::Lock::Timeout="$LOCK_TIMEOUT_S" "$@"
}

mapfile -t missing < <(missing_of "$@")
if ((${#missing[@]} == 0)); then
    exit 0
fi
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    warn "cannot install without root and apt-get"
    warn_missing "${missing[@]}"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt install -y "${missing[@]}"; then
    exit 0
fi
warn "apt-get install failed; refreshing the package lists and trying again"
apt update || warn "apt-get update failed"
if ! apt install -y "${missing[@]}"; then
    for package in "${missing[@]}"; do
        apt install -y "$package" || true
    done
fi
mapfile -t missing < <(missing_of "${missing[@]}")
if ((${#missing[@]} > 0)); then
    warn_missing "${missing[@]}"
fi
exit 0
