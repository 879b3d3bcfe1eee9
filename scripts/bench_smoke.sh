#!/usr/bin/env bash
# Benchmark: build the smoke tier from an empty tests/smoke/ working state on N cores
# (default 2): each paper alone, then the whole tier, which is left built. Prints
# `smoke_seconds_<paper>=<s>` per paper and `smoke_seconds=<s>` for the whole tier, then
# the whole tier's job-seconds per rule (scripts/job_seconds.py). Goal on 2 cores: the
# whole tier of three papers within 10 minutes, five papers within 15.
#   scripts/bench_smoke.sh [cores] [paper ...]     (papers: the Snakefile's paper targets)
set -euo pipefail
cd "$(dirname "$0")/.."
cores=${1:-2}
shift || true
papers=("$@")
if ((${#papers[@]} == 0)); then
    papers=(maivar mafnet twophase audiogen)
fi
make --quiet .venv/.installed

# Seconds Snakemake takes to build target $1 from nothing.
build_seconds() {
    make --quiet clean-smoke
    local start
    start=$(date +%s)
    .venv/bin/snakemake --directory tests/smoke --cores "$cores" --quiet rules -- "$1" >&2
    echo $(($(date +%s) - start))
}

for paper in "${papers[@]}"; do
    echo "smoke_seconds_$paper=$(build_seconds "$paper") cores=$cores"
done
echo "smoke_seconds=$(build_seconds all) cores=$cores"
.venv/bin/python scripts/job_seconds.py tests/smoke/benchmarks
