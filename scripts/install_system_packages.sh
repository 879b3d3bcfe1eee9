#!/usr/bin/env bash
# Debian packages the workflow uses outside Python, installed by `make` with the venv:
#   unar, libarchive-tools   RAR extractors for UCF101's video archive (either one will do)
#   slurm-wlm, munge         the one-node SLURM of scripts/slurm_local.sh (tests only)
# Needs root and apt-get (CI containers, a workstation with sudo make). Elsewhere (a
# cluster login node) it only says what is missing: the smoke tier and the tests need
# none of these, and the full tier's UCF101 download names the extractors it looks for.
set -euo pipefail

PACKAGES=(unar libarchive-tools slurm-wlm munge)

missing=()
for package in "${PACKAGES[@]}"; do
    if ! dpkg-query --show --showformat='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "install_system_packages: not installed: ${missing[*]} (needs root and apt-get);" \
        "UCF101's RAR needs unar or bsdtar, the SLURM test needs slurm-wlm and munge" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they do not know a package yet.
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    apt-get update
fi
apt-get install -y "${missing[@]}"
