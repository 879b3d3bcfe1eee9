"""MAFnet's metafile holds every row of Tables 1-4 as printed."""

from pathlib import Path

import pytest

from avrepro.papers import MetafileError, load_metafile

REPO = Path(__file__).resolve().parents[2]
META = load_metafile(REPO / "workflow" / "papers" / "mafnet.yaml")
FULL = "mafnet_fusion-concat_att-both_film-audio_drop-0.1"


def values(table: str, column: str = "value") -> dict[str, float | None]:
    return {r.method: r.cells[column].reported for r in META.tables[table].rows}


def test_every_table_and_row_is_there():
    assert META.paper == "mafnet"
    assert list(META.tables) == ["table1", "table2", "table3", "table4"]
    assert META.datasets == {"ave": {"clips": 4143}, "ucf51": {"clips": 6836},
                             "kinetics_sounds32": {"clips": 21945}}


def test_reported_numbers_as_printed():
    assert values("table1", "ave")["MAFnet"] == 90.86
    assert values("table1", "ucf51")["MAFnet"] == 86.72
    assert values("table1", "kinetics_sounds32")["MAFnet"] == 83.94
    assert values("table1", "kinetics_sounds32")["MARS (V; Kinetics-pretrained)"] is None
    assert values("table1", "ucf51")["R(2+1)D (V; Sports1M + Kinetics-pretrained)"] == 95.54
    assert list(values("table2").values()) == [75.63, 69.29, 84.77, 89.34, 88.83, 87.56]
    assert list(values("table3").values()) == [87.82, 88.92, 88.66, 89.34]
    assert list(values("table4").values()) == [86.55, 87.62, 90.86, 90.61]


def test_table1_has_a_dataset_per_column_and_cites_end_to_end_models():
    table1 = META.tables["table1"]
    assert table1.columns == ("ave", "ucf51", "kinetics_sounds32")
    with pytest.raises(ValueError, match="one dataset per column"):
        _ = table1.dataset
    # UCF51 averages UCF101's three splits (§4.1), each a dataset over the same clips.
    assert table1.datasets["ucf51"] == ("ucf51", "ucf51_split2", "ucf51_split3")
    datasets = ("ave", "ucf51", "ucf51_split2", "ucf51_split3", "kinetics_sounds32")
    assert set(table1.runs()) == {(d, v) for d in datasets for v in ("attcluster", "dmrn", FULL)}
    cited = [r.method for r in table1.rows if r.cited]
    assert cited[:4] == ["I3D (V; Kinetics-pretrained)",
                         "R(2+1)D (V; Sports1M + Kinetics-pretrained)",
                         "SlowFast (V; Kinetics-pretrained)", "MARS (V; Kinetics-pretrained)"]
    assert cited[4].startswith("DMRN (VGG19")


def test_ablations_are_on_ave_and_share_runs_where_the_paper_does():
    assert {META.tables[k].dataset for k in ("table2", "table3", "table4")} == {"ave"}
    run = {k: {r.method: r.cells["value"].run for r in META.tables[k].rows}
           for k in ("table2", "table3", "table4")}
    assert run["table2"]["concatenation"] == run["table3"]["modality & temporal attention"]
    assert run["table4"]["FiLM layer in audio path"] == FULL  # Table 1's MAFnet on AVE
    assert all(r is not None for rows in run.values() for r in rows.values())


def test_a_column_without_a_dataset_is_refused(tmp_path):
    text = (REPO / "workflow" / "papers" / "mafnet.yaml").read_text()
    broken = tmp_path / "mafnet.yaml"
    broken.write_text(text.replace("ucf51: [ucf51, ucf51_split2, ucf51_split3],", ""))
    with pytest.raises(MetafileError, match="mafnet.yaml.*ucf51"):
        load_metafile(broken)
