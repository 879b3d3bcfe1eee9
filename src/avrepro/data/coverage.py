"""How much of a dataset this run has: clips listed, downloaded and usable, per split.

Datasets decay (Kinetics loses YouTube videos every month) and archives can lack files,
so tables report how many clips a result rests on next to the paper's count (DESIGN.md).
The manifest's table is written when the clips are listed; the media stage's adds how
many usable clips decoded short of their header (avrepro.media.partial).
"""

from pathlib import Path

import pandas as pd

from avrepro.data.manifest import SPLITS

TOTAL = "all"
COLUMNS = ["split", "listed", "downloaded", "usable", "with_audio"]
STATUS_COLUMNS = ["clip_id", "status"]
# Where a downloader that fetches clip by clip (Kinetics' yt-dlp) records each clip.
STATUS_DIR = "download_status"


def read_download_status(root: str | Path) -> pd.DataFrame | None:
    """The per-clip download records under root/download_status/ (one CSV per split), or
    None for a dataset fetched as archives, which has none."""
    paths = sorted(Path(root, STATUS_DIR).glob("*.csv"))
    if not paths:
        return None
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths])


def _require(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [column for column in columns if column not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}")


def read_partial(index_paths: list[Path]) -> set[str]:
    """The clips that media indexes (frames shard CSVs, audio index.csv files) flag
    `partial`, kept or dropped."""
    flagged = set()
    for path in index_paths:
        index = pd.read_csv(path)
        _require(index, ["clip_id", "partial"], f"media index {path}")
        flagged |= set(index.loc[index["partial"].astype(bool), "clip_id"].astype(str))
    return flagged


def coverage_report(
    manifest: pd.DataFrame,
    download_status: pd.DataFrame | None = None,
    partial: set[str] | None = None,
) -> pd.DataFrame:
    """One row per split of one dataset's manifest, then a row "all" summing them.

    listed: the manifest's rows (the clips the dataset's lists name, in the configured
    classes). downloaded: those whose file is on disk (status other than "missing").
    usable: status "ok". with_audio: usable and with an audio track.
    download_status: the downloader's record, DataFrame(clip_id, status, ...) with status
    "ok" for a fetched clip; when given, a column `download_failed` counts the listed
    clips it records as not fetched (e.g. YouTube videos taken down).
    partial: clips the media stage decoded short of their header (read_partial); when
    given, a column `partial` counts the usable ones, whether kept or dropped.
    """
    _require(manifest, ["clip_id", "split", "status", "has_audio"], "manifest")
    usable = manifest["status"] == "ok"
    counts = pd.DataFrame(
        {
            "split": manifest["split"],
            "listed": 1,
            "downloaded": (manifest["status"] != "missing").astype(int),
            "usable": usable.astype(int),
            "with_audio": (usable & manifest["has_audio"].astype(bool)).astype(int),
        }
    )
    columns = list(COLUMNS)
    if download_status is not None:
        _require(download_status, STATUS_COLUMNS, "download status")
        failed = set(download_status.loc[download_status["status"] != "ok", "clip_id"])
        counts["download_failed"] = manifest["clip_id"].isin(failed).astype(int)
        columns.append("download_failed")
    if partial is not None:
        counts["partial"] = (usable & manifest["clip_id"].isin(partial)).astype(int)
        columns.append("partial")

    per_split = counts.groupby("split", sort=False).sum()
    # The manifest's splits in reading order; any other name follows in order of appearance.
    known = [split for split in SPLITS if split in per_split.index]
    order = known + [split for split in per_split.index if split not in known]
    report = per_split.loc[order]
    report.loc[TOTAL] = report.sum()
    return report.rename_axis("split").reset_index()[columns]
