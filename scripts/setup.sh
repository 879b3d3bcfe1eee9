#!/usr/bin/env bash
# The set-up behind the README's two commands (`make smoke`, `make test`), run by `make`
# when the venv is missing or older than one of the files given as arguments:
#   1. Debian packages the full tier may use (optional: a failure is a warning);
#   2. .venv from pyproject.toml (PyTorch is the registry's CUDA build; it runs on CPUs);
#   3. librosa's numba kernels, compiled once into .venv/numba-cache (avrepro.numba_cache).
# Two set-ups starting at once (a fresh machine running `make smoke` and `make test`) take
# turns on a lock: the second finds the venv the first made and does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP=$VENV/.installed

exec 9>"$VENV.lock"
flock 9
up_to_date=true
for input in "$@"; do
    [[ $STAMP -nt $input ]] || up_to_date=false
done
if [[ -f $STAMP ]] && $up_to_date; then
    exit 0
fi

scripts/install_system_packages.sh
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip || echo "setup: warning: pip was not upgraded" >&2
"$VENV/bin/python" -m pip install -e '.[dev]'
rm -rf "$VENV/numba-cache"
NUMBA_CACHE_DIR=$VENV/numba-cache "$VENV/bin/python" -m avrepro.numba_cache
touch "$STAMP"
