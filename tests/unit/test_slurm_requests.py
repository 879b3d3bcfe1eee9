"""The SLURM profile's requests cover what the full-shape tier measured, scaled to the
full tier's datasets (avrepro.cost), with the headroom slurm/config.yaml states; and no
job needs more than a GPU node's share of memory."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from avrepro.cost import read_measured, scale_jobs

REPO = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
PROFILE = yaml.safe_load((REPO / "slurm" / "config.yaml").read_text())
MEMORY_HEADROOM = 1.25  # slurm/config.yaml: requests are measured peaks x 1.25 or more
RUNTIME_HEADROOM = 1.5  # and measured (or, for GPU rules, estimated) hours x 1.5
MAX_JOB_GB = 32  # issue 13: no job needs more than 32 GB of RAM at full size


@pytest.fixture(scope="module")
def per_rule() -> pd.DataFrame:
    measured = read_measured(REPO / "tests/fullshape/measured_jobs.csv")
    machine = yaml.safe_load((REPO / "tests/fullshape/measured_machine.yaml").read_text())
    scaled = scale_jobs(measured, machine, CONFIG, CONFIG["cost"]["gpu_tflops"])
    scaled = scaled[scaled.scaling != "network"]  # localrules, on the submit host
    return scaled.groupby("rule").agg(mem_mb=("max_rss_mb", "max"),
                                      hours=("job_hours", "max"))


def request(rule: str, key: str) -> float:
    return PROFILE["set-resources"].get(rule, {}).get(key, PROFILE["default-resources"][key])


def test_every_rule_asks_for_its_measured_memory_with_headroom(per_rule):
    short = {rule: (request(rule, "mem_mb"), round(need.mem_mb * MEMORY_HEADROOM))
             for rule, need in per_rule.iterrows()
             if request(rule, "mem_mb") < need.mem_mb * MEMORY_HEADROOM}
    assert not short, f"rule: (requested, needed) MB: {short}"


def test_every_rule_asks_for_its_measured_time_with_headroom(per_rule):
    short = {rule: (request(rule, "runtime"), round(need.hours * 60 * RUNTIME_HEADROOM))
             for rule, need in per_rule.iterrows()
             if request(rule, "runtime") < need.hours * 60 * RUNTIME_HEADROOM}
    assert not short, f"rule: (requested, needed) minutes: {short}"


def test_no_job_needs_more_than_32_gb_at_full_size(per_rule):
    heavy = per_rule.mem_mb[per_rule.mem_mb > MAX_JOB_GB * 1024].round()
    assert heavy.empty, f"peak MB at full size: {heavy.to_dict()}"


def test_requests_of_measured_rules_are_not_guesses_far_above_their_need(per_rule):
    """A request many times its measured need holds a node's memory for nothing: at most
    the larger of 4 GB and 4 x the need with headroom."""
    wasteful = {rule: (request(rule, "mem_mb"), round(need.mem_mb * MEMORY_HEADROOM))
                for rule, need in per_rule.iterrows()
                if request(rule, "mem_mb") > max(4000, 4 * need.mem_mb * MEMORY_HEADROOM)}
    assert not wasteful, f"rule: (requested, needed) MB: {wasteful}"
