"""workflow/papers/twophase.yaml holds Tables I and II as printed, and rows may read a
class's accuracy (papers.py `metric:`), which Table I's per-scene rows need."""

from pathlib import Path

import pytest

from avrepro.papers import MetafileError, load_metafile, metric_value
from avrepro.variants.twophase import parse

REPO = Path(__file__).resolve().parents[2]
TWOPHASE = load_metafile(REPO / "workflow" / "papers" / "twophase.yaml")
DCASE_SCENES = ["airport", "bus", "metro", "metro_station", "park", "public_square",
                "shopping_mall", "street_pedestrian", "street_traffic", "tram"]


def test_table1_is_every_scene_and_overall_for_f1_to_f6():
    table = TWOPHASE.tables["table1"]
    assert table.columns == ("f1", "f2", "f3", "f4", "f5", "f6")
    assert [r.metric for r in table.rows] == [f"per_class.{s}" for s in DCASE_SCENES] + [
        "accuracy"]
    for row in table.rows:
        for column, cell in row.cells.items():
            assert cell.run == f"fusion_fn-{column}_mod-av", (row.method, column)
    by_method = {r.method: r for r in table.rows}
    # Spot checks against the paper: the best system, and the corners of the table.
    assert by_method["Overall"].cells["f4"].reported == 95.3
    assert by_method["Airport"].cells["f2"].reported == 82.2
    assert by_method["Tram"].cells["f6"].reported == 85.7
    overall = [by_method["Overall"].cells[f].reported for f in table.columns]
    assert overall == [94.1, 93.7, 93.6, 95.3, 95.0, 93.9]


def test_table2_cites_other_systems_and_rebuilds_f4_per_modality():
    table = TWOPHASE.tables["table2"]
    assert table.columns == ("audio", "visual", "audio_visual")
    cited = [r for r in table.rows if r.cited]
    assert len(cited) == 7
    zhou = next(r for r in cited if r.method == "Zhou et al.")
    assert zhou.cells["audio"].reported is None and zhou.cells["audio_visual"].reported == 91.6
    ours = next(r for r in table.rows if r.method.startswith("Two-phase, f4"))
    assert {c: (cell.reported, cell.run) for c, cell in ours.cells.items()} == {
        "audio": (80.5, "fusion_fn-f4_mod-a"), "visual": (91.8, "fusion_fn-f4_mod-v"),
        "audio_visual": (95.3, "fusion_fn-f4_mod-av")}


def test_every_run_is_a_two_phase_variant():
    for table in TWOPHASE.tables.values():
        for variant in table.variants():
            parse(variant)  # raises on a name the two-phase runs do not know
    assert TWOPHASE.clips("dcase2021") is None  # the paper prints no count


def test_metric_value_reads_accuracy_or_one_class():
    metrics = {"variant": "v", "accuracy": 90.0, "per_class": {"bus": 97.5, "tram": None}}
    assert metric_value(metrics, "accuracy") == 90.0
    assert metric_value(metrics, "per_class.bus") == 97.5
    assert metric_value(metrics, "per_class.tram") is None  # no such clips in the test split
    with pytest.raises(KeyError, match="per_class.park"):  # recorded no class accuracies
        metric_value(metrics, "per_class.park")
    # A class the run's dataset does not have (the smoke tier's subset of the scenes).
    assert metric_value({**metrics, "classes": ["bus", "tram"]}, "per_class.park") is None
    with pytest.raises(KeyError, match="per_class.bus"):
        metric_value({"variant": "v", "classes": ["bus"], "per_class": {}}, "per_class.bus")


@pytest.mark.parametrize("metric", ["f1_score", "per_class.", "per_class"])
def test_unknown_metrics_are_refused_naming_the_row(tmp_path, metric):
    path = tmp_path / "paper.yaml"
    path.write_text(f"""
paper: x
title: X
tables:
  table1:
    caption: c
    dataset: d
    rows:
      - {{method: A, reported: 1.0, run: vmlp, metric: "{metric}"}}
""")
    with pytest.raises(MetafileError, match=f"paper.yaml: table1 row 0: metric '{metric}'"):
        load_metafile(path)


def test_rows_read_accuracy_by_default():
    maivar = load_metafile(REPO / "workflow" / "papers" / "maivar.yaml")
    assert {r.metric for t in maivar.tables.values() for r in t.rows} == {"accuracy"}
