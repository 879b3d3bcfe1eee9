import pandas as pd
import pytest

from avrepro.data.coverage import coverage_report, read_download_status


def manifest(rows):
    """rows: (clip_id, split, status, has_audio)."""
    return pd.DataFrame(rows, columns=["clip_id", "split", "status", "has_audio"])


# An AVE-like manifest, test rows first to check that the report orders splits itself.
MANIFEST = manifest(
    [
        ("t1", "test", "ok", True),
        ("a1", "train", "ok", True),
        ("a2", "train", "ok", False),
        ("a3", "train", "missing", False),
        ("a4", "train", "corrupt", False),
        ("v1", "val", "no_video", True),
        ("v2", "val", "ok", True),
    ]
)


def test_counts_listed_downloaded_usable_per_split_and_in_all():
    report = coverage_report(MANIFEST)
    assert list(report.columns) == ["split", "listed", "downloaded", "usable", "with_audio"]
    assert report.to_dict("list") == {
        "split": ["train", "val", "test", "all"],
        "listed": [4, 2, 1, 7],
        "downloaded": [3, 2, 1, 6],  # only "missing" was never downloaded
        "usable": [2, 1, 1, 4],
        "with_audio": [1, 1, 1, 3],
    }


def test_download_status_adds_the_clips_the_downloader_could_not_fetch():
    status = pd.DataFrame(
        {
            "clip_id": ["a1", "a3", "v1", "elsewhere"],
            "status": ["ok", "missing", "missing", "missing"],
            "reason": ["", "Video unavailable", "Private video", "not in this manifest"],
        }
    )
    report = coverage_report(MANIFEST, status)
    assert list(report["download_failed"]) == [1, 1, 0, 2]
    assert list(report["listed"]) == [4, 2, 1, 7]


def test_an_unknown_split_follows_the_known_ones():
    report = coverage_report(manifest([("x", "extra", "ok", True), ("y", "train", "ok", True)]))
    assert list(report["split"]) == ["train", "extra", "all"]


def test_an_empty_manifest_reports_zero():
    report = coverage_report(manifest([]))
    assert report.to_dict("records") == [
        {"split": "all", "listed": 0, "downloaded": 0, "usable": 0, "with_audio": 0}
    ]


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"manifest lacks columns \['has_audio'\]"):
        coverage_report(MANIFEST.drop(columns="has_audio"))
    with pytest.raises(ValueError, match=r"download status lacks columns \['clip_id'\]"):
        coverage_report(MANIFEST, pd.DataFrame({"youtube_id": ["a"], "status": ["ok"]}))


def test_download_records_are_read_across_splits(tmp_path):
    assert read_download_status(tmp_path) is None  # archives: no per-clip records
    (tmp_path / "download_status").mkdir()
    (tmp_path / "download_status" / "train.csv").write_text("clip_id,status,reason\na1,ok,\n")
    (tmp_path / "download_status" / "val.csv").write_text(
        "clip_id,status,reason\nv1,missing,Video unavailable\n")
    status = read_download_status(tmp_path)
    assert status.to_dict("list") == {"clip_id": ["a1", "v1"], "status": ["ok", "missing"],
                                      "reason": ["", "Video unavailable"]}
    report = coverage_report(MANIFEST, status).set_index("split")
    assert report.loc["val", "download_failed"] == 1 and report.loc["all", "download_failed"] == 1
