"""Tables put the paper's numbers beside ours and never mix them."""

import json
from pathlib import Path

import pandas as pd
import pytest

from avrepro.papers import load_metafile
from avrepro.tables import build_table, load_metrics

REPO = Path(__file__).resolve().parents[2]
MAIVAR = load_metafile(REPO / "workflow" / "papers" / "maivar.yaml")


def write_metrics(tmp_path: Path, variant: str, accuracies: list[float]) -> list[Path]:
    paths = []
    for seed, acc in enumerate(accuracies):
        run = tmp_path / variant / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({
            "variant": variant, "seed": seed, "accuracy": acc,
            "clips": {"train": 90, "val": 10, "test": 40},
        }))
        paths.append(run / "metrics.json")
    return paths


@pytest.fixture
def metrics(tmp_path):
    paths = []
    for i, variant in enumerate(MAIVAR.tables["table3"].variants() + ["vmlp"]):
        paths += write_metrics(tmp_path, variant, [10.0 + i, 12.0 + i, 14.0 + i])
    return load_metrics(paths)


def test_metafile_holds_every_row_of_the_papers_tables():
    assert [len(t.rows) for t in MAIVAR.tables.values()] == [17, 8, 6]
    ch = next(r for r in MAIVAR.tables["table1"].rows if r.method == "MAiVAR-CH")
    assert ch.cells["value"].run == "dhf_rep-ch_bb-irv2"
    assert MAIVAR.tables["table3"].columns == ("audio", "fusion")


def test_reproduced_is_mean_and_std_over_seeds_with_runs(metrics):
    frame = build_table(MAIVAR.tables["table1"], metrics, paper_clips=6836).set_index("method")
    ch = frame.loc["MAiVAR-CH"]
    runs = metrics["dhf_rep-ch_bb-irv2"]
    accs = [r["accuracy"] for r in runs]
    assert ch.reproduced == pytest.approx(sum(accs) / 3, abs=0.005)
    assert ch["std"] == pytest.approx(pd.Series(accs).std(), abs=0.005)
    assert ch.n == 3 and ch.status == "reproduced"
    assert ch.runs.split(";") == sorted(r["run_dir"] for r in runs)
    assert ch.reported == 87.91  # typed from the paper, into the reported column only
    assert ch.clips_train == 100 and ch.clips_test == 40 and ch.clips_paper == 6836


def test_cited_rows_have_no_reproduced_value(metrics):
    frame = build_table(MAIVAR.tables["table1"], metrics, None).set_index("method")
    mafnet = frame.loc["MAFnet (Brousmiche et al.)"]
    assert mafnet.status == "cited" and pd.isna(mafnet.reproduced) and mafnet.n == 0
    assert mafnet.reported == 86.72


def test_reported_numbers_never_reach_reproduced_cells(metrics):
    for key, table in MAIVAR.tables.items():
        frame = build_table(table, metrics, None)
        reported = {c.reported for r in table.rows for c in r.cells.values()} - {None}
        reproduced = frame.filter(like="reproduced").stack().dropna()
        assert not set(reproduced) & reported, key


def test_multi_column_table_has_a_pair_per_column(metrics):
    frame = build_table(MAIVAR.tables["table3"], metrics, None).set_index("method")
    assert {"audio_reported", "audio_reproduced", "fusion_reported", "fusion_reproduced"} <= set(
        frame.columns)
    assert frame.loc["Chromagram", "fusion_reported"] == 87.91


def test_missing_run_is_an_error(metrics):
    del metrics["vmlp"]
    with pytest.raises(KeyError, match="vmlp"):
        build_table(MAIVAR.tables["table1"], metrics, None)
