"""The cost model (avrepro.cost): a full-shape run's measured jobs scaled to the full tier."""

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from avrepro.config import resolve
from avrepro.cost import (
    MEASURED_COLUMNS,
    cost_table,
    file_bytes,
    parse_dry_run,
    planned_epochs,
    read_measured,
    scale_jobs,
    scaling,
)
from avrepro.data.sizes import FULL_SIZES

REPO = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
MACHINE = {"epoch_cap": 1, "seeds": 1, "cpu_gflops": 50.0}

DRY_RUN = """\
[Wed Dec  2 03:00:34 2026]
rule sample_frames:
    input: results/manifests/ucf51.csv
    output: results/media/ucf51/frames-tsn25/shard-000.npz, results/media/ucf51/f.csv
    log: logs/media/ucf51/frames-tsn25/shard-000.log
    benchmark: benchmarks/sample_frames/ucf51/frames-tsn25/shard-000.tsv
    wildcards: dataset=ucf51, spec=tsn25, shard=000
    resources: tmpdir=/tmp
[Wed Dec  2 03:00:34 2026]
localrule acquire_raw:
    output: resources/ucf101/.complete
    wildcards: raw=ucf101
    resources: tmpdir=/tmp
"""


def job(**fields) -> dict:
    row = {"target": "results/table1_maivar.csv", "rule": "table", "benchmark": "b.tsv",
           "dataset": "", "shard": "", "variant": "", "gpu": False, "seconds": 10.0,
           "cpu_seconds": 10.0, "max_rss_mb": 1000.0, "feature_bytes": 2 * 2**20,
           "flow_bytes": 3 * 2**20, "output_bytes": 2**20, "clips": 20,
           "train_clips": 12}
    return {**row, **fields}


def scaled(*jobs, config=CONFIG) -> pd.DataFrame:
    return scale_jobs(pd.DataFrame(jobs, columns=MEASURED_COLUMNS), MACHINE, config,
                      gpu_tflops=20.0)


def test_parse_dry_run_reads_each_job_and_its_lines():
    jobs = parse_dry_run(DRY_RUN)
    assert [j["rule"] for j in jobs] == ["sample_frames", "acquire_raw"]
    assert jobs[0]["benchmark"] == "benchmarks/sample_frames/ucf51/frames-tsn25/shard-000.tsv"
    assert jobs[0]["wildcards"] == "dataset=ucf51, spec=tsn25, shard=000"
    assert "benchmark" not in jobs[1]


@pytest.mark.parametrize(("rule", "shard", "dataset", "kind"), [
    ("sample_frames", "000", "ucf51", "shard"), ("train_imd", "", "kinetics400", "train"),
    ("late_fusion", "", "moments_mini", "train"), ("manifest", "", "ave", "dataset"),
    ("table", "", "", "fixed"), ("acquire_raw", "", "", "network"),
    ("download_weights_irv2", "", "", "network"),
])
def test_scaling_kinds(rule, shard, dataset, kind):
    assert scaling(rule, shard, dataset) == kind


def test_a_shard_job_scales_by_clips_per_shard_and_counts_every_shard():
    row = scaled(job(rule="sample_frames", dataset="ucf51", shard="000")).iloc[0]
    n_shards = CONFIG["datasets"]["ucf51"]["n_shards"]
    ratio = sum(FULL_SIZES["ucf51"].values()) / n_shards / 20
    assert row.jobs == n_shards
    assert row.job_hours == pytest.approx(10 * ratio / 3600)  # cpu_seconds
    assert row.cpu_hours == pytest.approx(n_shards * 10 * ratio / 3600)
    assert row.max_rss_mb == 1000  # frames are written a clip at a time
    assert row.output_bytes == pytest.approx(2**20 * ratio * n_shards)


def test_a_training_job_holds_the_stores_it_reads_whole_for_every_clip():
    ratio = sum(FULL_SIZES["ucf51"].values()) / 20
    features = scaled(job(rule="train_maivar", dataset="ucf51", variant="vmlp")).iloc[0]
    assert features.max_rss_mb == pytest.approx(1000 + 2 * (ratio - 1))
    flow = scaled(job(rule="train_tsn", dataset="ucf51", variant="tsn_mod-flow")).iloc[0]
    assert flow.max_rss_mb == pytest.approx(1000 + 3 * (ratio - 1))
    streamed = scaled(job(rule="train_mafnet", dataset="ucf51", variant="mafnet")).iloc[0]
    assert streamed.max_rss_mb == 1000


def test_file_bytes_counts_the_files_a_pattern_names(tmp_path):
    store = tmp_path / "results/features/ucf51/irv2-ch"
    store.mkdir(parents=True)
    (store / "shard-000.npz").write_bytes(b"x" * 10)
    (tmp_path / "results/media/ucf51/audio-22050").mkdir(parents=True)
    (tmp_path / "results/media/ucf51/audio-22050/a.wav").write_bytes(b"x" * 7)
    names = "results/features/ucf51/irv2-ch/shard-000.npz, results/media/ucf51/audio-22050"
    assert file_bytes(tmp_path, names) == 17
    assert file_bytes(tmp_path, names, r"results/features/.*\.npz") == 10
    assert file_bytes(tmp_path, "") == 0


def test_memory_of_a_rule_holding_one_clip_at_a_time_does_not_grow():
    row = scaled(job(rule="extract_audio", dataset="ucf51", shard="000")).iloc[0]
    assert row.max_rss_mb == 1000


def test_a_training_job_scales_by_training_clips_epochs_and_seeds():
    row = scaled(job(rule="train_mafnet", dataset="ave", variant="mafnet", gpu=True)).iloc[0]
    epochs = CONFIG["mafnet"]["schedule"]["epochs"]
    ratio = FULL_SIZES["ave"]["train"] / 12 * epochs
    to_gpu = 50.0 / 20_000
    assert row.jobs == len(CONFIG["seeds"])  # seeds_per_job: one
    assert row.job_hours == pytest.approx(10 * ratio * to_gpu / 3600)
    assert row.gpu_hours == pytest.approx(len(CONFIG["seeds"]) * 10 * ratio * to_gpu / 3600)
    assert row.cpu_hours == 0


def test_seeds_in_one_job_make_one_longer_job():
    config = {**CONFIG, "seeds_per_job": "all"}
    one = scaled(job(rule="train_imd", dataset="ucf101", variant="x"), config=CONFIG).iloc[0]
    together = scaled(job(rule="train_imd", dataset="ucf101", variant="x"), config=config).iloc[0]
    assert together.jobs == 1
    assert together.job_hours == pytest.approx(one.job_hours * len(CONFIG["seeds"]))
    assert together.cpu_hours == pytest.approx(one.cpu_hours)


def test_planned_epochs_follow_each_schedule_uncapped():
    assert planned_epochs("train_twophase_branch", "aud_spec-cqt", CONFIG) == \
        CONFIG["twophase"]["audio"]["epochs"]
    assert planned_epochs("train_twophase_branch", "vis_bb-inceptionv3", CONFIG) == \
        CONFIG["twophase"]["visual"]["epochs"]
    assert planned_epochs("train_tsn", "tsn_mod-flow", CONFIG) == \
        CONFIG["audiogen"]["tsn"]["flow"]["schedule"]["epochs"]
    assert planned_epochs("train_imd", "anything", CONFIG) == 15
    assert planned_epochs("late_fusion", "late_vis-rgb_snd-none", CONFIG) is None


def test_network_jobs_are_not_costed_and_tables_do_not_grow():
    rows = scaled(job(rule="acquire_raw"), job(rule="table"))
    assert math.isnan(rows.job_hours[0]) and rows.cpu_hours[0] == 0
    assert rows.job_hours[1] == pytest.approx(10 / 3600) and rows.jobs[1] == 1


def test_cost_table_sums_rules_and_totals_each_target():
    rows = scaled(job(rule="sample_frames", dataset="ucf51", shard="000"),
                  job(rule="train_maivar", dataset="ucf51", variant="vmlp", gpu=True),
                  job(rule="table"))
    table = cost_table(rows)
    total = table[table.rule == "all rules"].iloc[0]
    per_rule = table[table.rule != "all rules"]
    assert total.jobs == per_rule.jobs.sum()
    assert total.cpu_hours == pytest.approx(per_rule.cpu_hours.sum(), abs=1e-3)
    assert total.peak_ram_gb == pytest.approx(per_rule.peak_ram_gb.max())
    assert table.rule.iloc[-1] == "all rules"


def test_the_committed_measurements_cover_every_paper_and_read_back():
    measured = read_measured(REPO / "tests/fullshape/measured_jobs.csv")
    machine = yaml.safe_load((REPO / "tests/fullshape/measured_machine.yaml").read_text())
    fullshape = resolve(yaml.safe_load((REPO / "tests/fullshape/config.yaml").read_text()),
                        REPO / "tests/fullshape")
    assert machine["epoch_cap"] == fullshape["epoch_cap"]
    assert machine["seeds"] == len(fullshape["seeds"])
    assert measured.shard.str.fullmatch(r"(\d{3})?").all()  # kept as text
    table = cost_table(scale_jobs(measured, machine, CONFIG, CONFIG["cost"]["gpu_tflops"]))
    assert set(table.target) == set(measured.target)


def test_unbuilt_jobs_take_their_rules_median_and_are_flagged():
    rows = scaled(job(rule="train_imd", dataset="ucf101", variant="a", benchmark="a.tsv"),
                  job(rule="train_imd", dataset="ucf101", variant="b", benchmark="b.tsv",
                      seconds=30.0, cpu_seconds=30.0),
                  job(rule="train_imd", dataset="ucf101", variant="c", benchmark="c.tsv",
                      seconds=float("nan"), cpu_seconds=float("nan"),
                      max_rss_mb=float("nan")))
    assert rows.job_hours[2] == pytest.approx((rows.job_hours[0] + rows.job_hours[1]) / 2)
    assert list(rows.imputed_jobs) == [0, 0, rows.jobs[2]]
    assert cost_table(rows).imputed_jobs.iloc[-1] == rows.jobs[2]
