#!/usr/bin/env bash
# Benchmark: build the smoke tier from an empty tests/smoke/results/ and print its wall
# time (goal: at most 15 minutes on 2 cores). Usage: scripts/bench_smoke.sh [cores]
set -euo pipefail
cd "$(dirname "$0")/.."
cores=${1:-2}
make --quiet .venv/.installed
rm -rf tests/smoke/results tests/smoke/resources tests/smoke/logs
start=$(date +%s)
.venv/bin/snakemake --directory tests/smoke --cores "$cores" all --quiet
echo "smoke_seconds=$(( $(date +%s) - start )) cores=$cores"
