"""Lee et al.'s metafile: every row of Tables 1-5, the numbers as printed, runs that parse."""

import json
from pathlib import Path

import pandas as pd

from avrepro.papers import IMPROVED_CLASSES, SOUND_COUNTS, load_metafile
from avrepro.tables import build_count_table, build_improvement_table, build_table, load_metrics
from avrepro.variants.audiogen import parse

REPO = Path(__file__).resolve().parents[2]
META = load_metafile(REPO / "workflow" / "papers" / "audiogen.yaml")


def test_every_table_and_row_is_there():
    tables = META.tables
    assert tables["table1"].kind == SOUND_COUNTS and tables["table5"].kind == IMPROVED_CLASSES
    # At least the paper's rows (9, 9 and 11): a row of one's own may join them.
    assert all(len(tables[t].rows) >= n for t, n in (("table2", 9), ("table3", 9), ("table4", 11)))
    assert tables["table5"].top == 3 and len(tables["table5"].comparisons) == 3


def test_every_run_is_an_audiogen_variant_and_reads_top1_and_top5():
    for table in META.tables.values():
        for _, variant in table.runs():
            parse(variant)
    table2 = META.tables["table2"]
    row = table2.rows[0]
    assert (table2.metric(row, "top1"), table2.metric(row, "top5")) == ("accuracy", "top5")


def write_runs(tmp_path: Path, per_class: dict[str, dict[str, float]]) -> list[Path]:
    paths = []
    for variant, accuracies in per_class.items():
        for seed in (0, 1):
            run = tmp_path / "audiogen" / "moments_mini" / variant / f"seed{seed}"
            run.mkdir(parents=True)
            shifted = {k: v + seed for k, v in accuracies.items()}  # seeds differ alike
            (run / "metrics.json").write_text(json.dumps({
                "variant": variant, "seed": seed, "accuracy": 50.0, "top5": 90.0,
                "per_class": shifted, "clips": {"train": 10, "val": 2, "test": 6}}))
            paths.append(run / "metrics.json")
    return paths


def test_improved_classes_rank_the_gain_of_each_comparison(tmp_path):
    base = {"boiling": 10.0, "howling": 20.0, "mowing": 30.0, "swimming": 40.0}
    real = {"boiling": 10.0, "howling": 60.0, "mowing": 35.0, "swimming": 40.0}
    generated = {"boiling": 50.0, "howling": 60.0, "mowing": 30.0, "swimming": 70.0}
    table = META.tables["table5"]
    names = {"(R+S) vs. R": (real, base), "(R+S(gen)) vs. R": (generated, base)}
    runs = {}
    for column, comparison in table.comparisons.items():
        if column in names:
            runs[comparison.better], runs[comparison.worse] = names[column]
    frame = build_improvement_table(table, load_metrics(write_runs(tmp_path, runs)))
    assert list(frame["(R+S) vs. R reproduced"]) == ["howling", "mowing", "boiling"]
    assert list(frame["(R+S) vs. R gain"]) == [40.0, 5.0, 0.0]
    assert list(frame["(R+S(gen)) vs. R reproduced"]) == ["boiling", "howling", "swimming"]
    assert list(frame["(R+S) vs. (R+S(gen)) reproduced"]) == ["boiling", "swimming", "howling"]
    assert list(frame["(R+S) vs. R reported"]) == ["whistling", "howling", "chewing"]


def test_count_table_puts_our_counts_beside_the_papers():
    counts = pd.DataFrame({
        "split": ["train", "test"], "listed": [10, 5], "usable": [9, 5], "with_sound": [6, 3],
        "without_sound": [3, 2], "no_track": [2, 1], "silent_track": [1, 1],
        "audio_error": [0, 0], "unusable": [1, 0]})
    frame = build_count_table(META.tables["table1"], counts).set_index("method")
    assert frame.loc["with sound", "train_reported"] == 55196
    assert frame.loc["with sound", "train_counted"] == 6
    assert frame.loc["without sound", "test_counted"] == 2
    assert pd.isna(frame.loc["  silent track (all zeros)", "test_reported"])


def test_top5_cells_read_top5(tmp_path):
    paths = write_runs(tmp_path, {"tsn_mod-rgb": {}})
    table = META.tables["table4"]
    frame = build_table(table, load_metrics(paths) | {
        ("moments_mini", v): load_metrics(paths)[("moments_mini", "tsn_mod-rgb")]
        for v in table.variants()}, {}).set_index("method")
    assert frame.loc["RGB (spatial)", "top1_reproduced"] == 50.0
    assert frame.loc["RGB (spatial)", "top5_reproduced"] == 90.0
    assert frame.loc["RGB (spatial)", "top1_reported"] == 24.23
