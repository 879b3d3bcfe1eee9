"""Manifests: schema checks with useful errors, atomic writes, shards, coverage, building."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avrepro.data import manifest
from avrepro.data.manifest import (
    COLUMNS,
    ManifestError,
    build_manifest,
    coverage,
    read_manifest,
    shard_rows,
    write_manifest,
)
from avrepro.media.probe import Probe


def example() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "clip_id": ["a1", "a2", "b1", "b2", "b3"],
            "path": ["v/a1.avi", "v/a2.avi", "v/b1.avi", "v/b2.avi", "v/b3.avi"],
            "label": ["A", "A", "B", "B", "B"],
            "label_index": [0, 0, 1, 1, 1],
            "split": ["train", "test", "train", "train", "test"],
            "duration": [3.0, 2.5, np.nan, 4.0, 1.0],
            "has_audio": [True, False, False, True, True],
            "status": ["ok", "ok", "missing", "ok", "ok"],
            "reason": ["", "", "v/b1.avi: file not found", "", ""],
        }
    )


def test_round_trip_keeps_values_and_types(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "m.csv"
    write_manifest(example(), path)
    back = read_manifest(path)
    pd.testing.assert_frame_equal(back, example(), check_dtype=False)
    assert back["label_index"].dtype == np.int64
    assert back["has_audio"].dtype == bool
    assert back["reason"].tolist()[0] == ""  # empty text stays text, not NaN
    assert np.isnan(back["duration"][2])
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary left


def test_columns_are_written_in_schema_order(tmp_path: Path) -> None:
    write_manifest(example()[COLUMNS[::-1]], tmp_path / "m.csv")
    assert (tmp_path / "m.csv").read_text().splitlines()[0] == ",".join(COLUMNS)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("status", "broken", r"column status: 'broken' is not one of"),
        ("split", "val", r"column split: 'val' is not one of"),
        ("label_index", -1, r"column label_index: -1 is less than the minimum"),
        ("reason", "something", r"column reason: '' was expected"),
    ],
)
def test_bad_value_names_file_row_and_column(tmp_path, column, value, message) -> None:
    df = example()
    df[column] = df[column].astype(object)
    df.loc[1, column] = value
    with pytest.raises(ManifestError, match=rf"m\.csv: row 1 \(clip_id 'a2'\): {message}"):
        write_manifest(df, tmp_path / "m.csv")


def test_unusable_clip_must_say_why(tmp_path: Path) -> None:
    df = example()
    df.loc[2, "reason"] = ""
    with pytest.raises(ManifestError, match=r"row 2 .*column reason: '' should be non-empty"):
        write_manifest(df, tmp_path / "m.csv")


def test_usable_clip_needs_a_duration(tmp_path: Path) -> None:
    df = example()
    df.loc[0, "duration"] = np.nan
    with pytest.raises(ManifestError, match=r"row 0 .*column duration: None is not of type"):
        write_manifest(df, tmp_path / "m.csv")


def test_failed_write_keeps_the_previous_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    write_manifest(example(), path)
    before = path.read_text()
    with pytest.raises(ManifestError, match="duplicate clip_id"):
        write_manifest(example().assign(clip_id="same"), path)
    assert path.read_text() == before
    assert list(tmp_path.iterdir()) == [path]


def test_read_names_a_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    example().drop(columns="has_audio").to_csv(path, index=False)
    with pytest.raises(ManifestError, match=r"m\.csv: missing columns \['has_audio'\]"):
        read_manifest(path)


@pytest.mark.parametrize(
    ("written", "edited", "message"),
    [
        ("B,1,train", "B,one,train", "column label_index: 'one' is not of type 'integer'"),
        (",False,missing", ",no,missing", "column has_audio: 'no' is not of type 'boolean'"),
    ],
)
def test_read_names_an_edited_bad_cell(tmp_path, written, edited, message) -> None:
    path = tmp_path / "m.csv"
    write_manifest(example(), path)
    path.write_text(path.read_text().replace(written, edited, 1))
    with pytest.raises(ManifestError, match=rf"row 2 \(clip_id 'b1'\): {message}"):
        read_manifest(path)


def test_shards_partition_the_rows_by_position() -> None:
    df = example()
    shards = [shard_rows(df, i, 2) for i in range(2)]
    assert shards[0]["clip_id"].tolist() == ["a1", "b1", "b3"]
    assert shards[1]["clip_id"].tolist() == ["a2", "b2"]
    assert sorted(pd.concat(shards).index) == list(df.index)
    with pytest.raises(ValueError, match="shard index 2"):
        shard_rows(df, 2, 2)


def test_coverage_counts_usable_and_audio_per_split() -> None:
    table = coverage(example())
    assert table.to_dict("records") == [
        {"split": "train", "listed": 3, "usable": 2, "with_audio": 2},
        {"split": "test", "listed": 2, "usable": 2, "with_audio": 1},  # a2 has no audio
    ]


def reader_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "clip_id": ["x1", "y1", "z1", "y2"],
            "path": ["x1.avi", "y1.avi", "z1.avi", "y2.avi"],
            "label": ["X", "Y", "Z", "Y"],
            "split": ["train", "train", "test", "test"],
        }
    )


def fake_status(path: str) -> tuple[str, Probe | None, str]:
    if path == "y2.avi":
        return "corrupt", None, f"{path}: moov atom not found"
    probe = Probe(duration=2.0, fps=25.0, width=32, height=24, has_video=True, has_audio=True)
    return "ok", probe, ""


def test_build_keeps_configured_classes_in_config_order(monkeypatch) -> None:
    monkeypatch.setattr(manifest, "clip_status", fake_status)
    built = build_manifest(reader_rows(), classes=["Y", "X"], probe_workers=2)
    assert built.columns.tolist() == COLUMNS
    assert built["clip_id"].tolist() == ["x1", "y1", "y2"]  # Z is not configured
    assert built["label_index"].tolist() == [1, 0, 0]
    assert built["status"].tolist() == ["ok", "ok", "corrupt"]
    assert built["reason"].tolist()[2] == "y2.avi: moov atom not found"
    assert np.isnan(built["duration"][2]) and not built["has_audio"][2]
    manifest.validate_manifest(built, "built")


def test_build_rejects_a_class_with_no_clips(monkeypatch) -> None:
    monkeypatch.setattr(manifest, "clip_status", fake_status)
    with pytest.raises(ManifestError, match=r"no clips in the dataset: \['HandStandPushups'\]"):
        build_manifest(reader_rows(), classes=["X", "HandStandPushups"])


def test_build_probes_real_files(fixtures_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.avi").touch()
    rows = pd.DataFrame(
        {
            "clip_id": ["real", "empty", "gone"],
            "path": [
                str(fixtures_dir / "clips" / "test.avi"),
                str(tmp_path / "empty.avi"),
                str(tmp_path / "gone.avi"),
            ],
            "label": ["A", "A", "A"],
            "split": ["train", "train", "test"],
        }
    )
    built = build_manifest(rows, classes=["A"])
    assert built["status"].tolist() == ["ok", "empty", "missing"]
    assert built["duration"][0] == pytest.approx(6.56, abs=0.05)
    assert built["has_audio"].tolist() == [True, False, False]
    write_manifest(built, tmp_path / "m.csv")
