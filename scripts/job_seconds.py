"""Print job-seconds per rule of a built tier, from its benchmark files.

Usage: .venv/bin/python scripts/job_seconds.py [tests/smoke/benchmarks]
"""

import sys
from pathlib import Path

from avrepro.job_costs import per_rule, read_benchmarks

root = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/smoke/benchmarks")
jobs = read_benchmarks(root)
if jobs.empty:
    sys.exit(f"no benchmark files under {root}: build the tier first")
table = per_rule(jobs)
print(table.to_string())
print(f"total: {len(jobs)} jobs, {jobs.seconds.sum():.0f} job-seconds")
