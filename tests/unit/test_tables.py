"""Tables put the paper's numbers beside ours and never mix them."""

import json
from pathlib import Path

import pandas as pd
import pytest

from avrepro.papers import load_metafile, run_reference
from avrepro.tables import build_table, load_metrics

REPO = Path(__file__).resolve().parents[2]
MAIVAR = load_metafile(REPO / "workflow" / "papers" / "maivar.yaml")


def write_metrics(tmp_path: Path, variant: str, accuracies: list[float],
                  dataset: str = "ucf51", per_class: dict | None = None) -> list[Path]:
    """Metrics files of a run of MAiVAR's, or of another paper's ("mafnet/attcluster")."""
    paths = []
    paper, variant = run_reference(variant, "maivar")
    for seed, acc in enumerate(accuracies):
        run = tmp_path / paper / dataset / variant / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({
            "variant": variant, "seed": seed, "accuracy": acc,
            "clips": {"train": 90, "val": 10, "test": 40}, "per_class": per_class or {},
        }))
        paths.append(run / "metrics.json")
    return paths


@pytest.fixture
def metrics(tmp_path):
    runs = {run: None for table in MAIVAR.tables.values() for run in table.runs()}
    paths = []
    for i, (dataset, variant) in enumerate(runs):
        paths += write_metrics(tmp_path, variant, [10.0 + i, 12.0 + i, 14.0 + i], dataset)
    return load_metrics(paths, "maivar")


def test_metafile_names_the_run_of_each_reproduced_row():
    ch = next(r for r in MAIVAR.tables["table1"].rows if r.method == "MAiVAR-CH")
    assert ch.cells["value"].run == "dhf_rep-ch_bb-irv2"
    assert MAIVAR.tables["table3"].columns == ("audio", "fusion")


def test_reproduced_is_mean_and_std_over_seeds_with_runs(metrics):
    frame = build_table(MAIVAR.tables["table1"], metrics, {"ucf51": 6836}).set_index("method")
    ch = frame.loc["MAiVAR-CH"]
    runs = metrics["ucf51", "dhf_rep-ch_bb-irv2"]
    accs = [r["accuracy"] for r in runs]
    assert ch.reproduced == pytest.approx(sum(accs) / 3, abs=0.005)
    assert ch["std"] == pytest.approx(pd.Series(accs).std(), abs=0.005)
    assert ch.n == 3 and ch.status == "reproduced"
    assert ch.runs.split(";") == sorted(r["run_dir"] for r in runs)
    assert ch.reported == 87.91  # typed from the paper, into the reported column only
    assert ch.clips_train == 100 and ch.clips_test == 40 and ch.clips_paper == 6836


def test_cited_rows_have_no_reproduced_value(metrics):
    frame = build_table(MAIVAR.tables["table1"], metrics, {}).set_index("method")
    c3d = frame.loc["C3D (Tran et al.)"]
    assert c3d.status == "cited" and pd.isna(c3d.reproduced) and c3d.n == 0
    assert c3d.reported == 82.23


def test_a_row_reproduced_by_another_papers_run_reads_its_folder(metrics):
    """MAiVAR's Table 1 copies MAFnet's Attention Cluster: MAFnet's run on UCF51 fills it,
    and its runs column says whose run it is."""
    frame = build_table(MAIVAR.tables["table1"], metrics, {}).set_index("method")
    row = frame.loc["Attention Cluster (Long et al.)"]
    assert row.status == "reproduced" and row.n == 3 and row.reported == 84.79
    assert all(Path(run).parts[-4:-1] == ("mafnet", "ucf51", "attcluster")
               for run in row.runs.split(";"))
    assert MAIVAR.tables["table1"].variants() == [
        v for v in MAIVAR.tables["table1"].variants() if "/" not in v]


def test_reported_numbers_never_reach_reproduced_cells(metrics):
    for key, table in MAIVAR.tables.items():
        frame = build_table(table, metrics, {})
        reported = {c.reported for r in table.rows for c in r.cells.values()} - {None}
        reproduced = frame.filter(like="reproduced").stack().dropna()
        assert not set(reproduced) & reported, key


def test_multi_column_table_has_a_pair_per_column(metrics):
    frame = build_table(MAIVAR.tables["table3"], metrics, {}).set_index("method")
    assert {"audio_reported", "audio_reproduced", "fusion_reported", "fusion_reproduced"} <= set(
        frame.columns)
    assert frame.loc["Chromagram", "fusion_reported"] == 87.91


def test_missing_run_is_an_error(metrics):
    del metrics["ucf51", "vmlp"]
    with pytest.raises(KeyError, match="vmlp.*ucf51"):
        build_table(MAIVAR.tables["table1"], metrics, {})


def test_a_column_over_several_datasets_averages_all_their_runs(tmp_path):
    # MAFnet's Table 1 reports UCF51 as the mean over UCF101's three splits.
    metafile = tmp_path / "toy.yaml"
    metafile.write_text("""
paper: toy
title: toy
datasets: {ucf51: {clips: 6836}, ave: {clips: 4143}}
tables:
  table1:
    caption: toy
    columns: [ave, ucf51]
    datasets: {ave: ave, ucf51: [ucf51, ucf51_split2]}
    rows:
      - {method: ours, ave: {reported: 90.0, run: net}, ucf51: {reported: 80.0, run: net}}
""")
    table = load_metafile(metafile).tables["table1"]
    assert table.runs() == [("ave", "net"), ("ucf51", "net"), ("ucf51_split2", "net")]
    paths = (write_metrics(tmp_path, "net", [50.0, 60.0], "ave")
             + write_metrics(tmp_path, "net", [70.0, 72.0], "ucf51")
             + write_metrics(tmp_path, "net", [74.0, 76.0], "ucf51_split2"))
    row = build_table(table, load_metrics(paths), {"ucf51": 6836, "ave": 4143}).iloc[0]
    assert row.ave_reproduced == 55.0 and row.ave_n == 2
    assert row.ucf51_reproduced == 73.0 and row.ucf51_n == 4
    assert row.ucf51_clips_paper == 6836 and row.ave_clips_paper == 4143
    assert row.ucf51_reported == 80.0


def test_a_row_can_read_one_class_accuracy(tmp_path):
    metafile = tmp_path / "toy.yaml"
    metafile.write_text("""
paper: toy
title: toy
tables:
  table1:
    caption: toy
    dataset: dcase2021
    rows:
      - {method: airport, metric: per_class.airport, reported: 70.0, run: net}
      - {method: overall, reported: 90.0, run: net}
""")
    table = load_metafile(metafile).tables["table1"]
    paths = write_metrics(tmp_path, "net", [80.0, 84.0], "dcase2021",
                          per_class={"airport": 60.0, "bus": 100.0})
    frame = build_table(table, load_metrics(paths), {}).set_index("method")
    assert frame.loc["airport", "reproduced"] == 60.0
    assert frame.loc["overall", "reproduced"] == 82.0


def test_a_metrics_file_in_another_variants_folder_is_refused(tmp_path):
    [path] = write_metrics(tmp_path, "vmlp", [50.0])
    moved = tmp_path / "maivar" / "ucf51" / "dhf" / "seed0" / "metrics.json"
    moved.parent.mkdir(parents=True)
    path.rename(moved)
    with pytest.raises(ValueError, match="holds variant 'vmlp', not 'dhf'"):
        load_metrics([moved])
