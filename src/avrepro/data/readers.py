"""A dataset's clips as its raw layout lists them, by the reader of its `raw` dataset.

config.yaml's `datasets.{name}` picks a raw dataset (`raw`) and, where the raw dataset
has several, its split: `split` (UCF101's official split 1, 2 or 3) or `splits` (our
split name -> Kinetics' split). `all_splits` asks, for UCF101, for every clip's role in
several official splits besides (`split_table`).
"""

from pathlib import Path

import pandas as pd

from avrepro.data.ave import read_ave
from avrepro.data.dcase import read_dcase
from avrepro.data.kinetics import read_kinetics
from avrepro.data.mit import read_mit
from avrepro.data.ucf101 import read_ucf101, read_ucf101_splits

RAW_DATASETS = ("ucf101", "kinetics400", "ave", "dcase2021", "moments_mini")


def _key(name: str, cfg: dict, key: str) -> object:
    if key not in cfg:
        raise ValueError(f"datasets.{name}: raw {cfg['raw']} needs the key '{key}'")
    return cfg[key]


def read_listed(name: str, cfg: dict, root: str | Path) -> pd.DataFrame:
    """The clips of dataset `name` (config `cfg`) under `root`: DataFrame(clip_id, path,
    label, split), and audio_path for DCASE, whose sound is a WAV of its own."""
    raw = cfg["raw"]
    if raw == "ucf101":
        return read_ucf101(root, _key(name, cfg, "split"))
    if raw == "kinetics400":
        return read_kinetics(root, _key(name, cfg, "splits"))
    readers = {"ave": read_ave, "dcase2021": read_dcase, "moments_mini": read_mit}
    if raw not in readers:
        raise ValueError(f"datasets.{name}: raw {raw!r} is not one of {list(RAW_DATASETS)}")
    return readers[raw](root)


def split_table(name: str, cfg: dict, root: str | Path, clip_ids: pd.Series) -> pd.DataFrame:
    """Each of `clip_ids` (the manifest's, in its order) with its role in every split of
    cfg["all_splits"]: DataFrame(clip_id, split_1, split_2, ...) of "train"/"test".

    Only UCF101 has numbered splits, and the manifest's own `split` must be among them,
    so that its split column is one of the table's columns.
    """
    splits = _key(name, cfg, "all_splits")
    if cfg["raw"] != "ucf101":
        raise ValueError(f"datasets.{name}.all_splits: only UCF101 has numbered splits")
    if cfg.get("split") not in splits:
        raise ValueError(
            f"datasets.{name}.all_splits: {splits} must include the manifest's split "
            f"({cfg.get('split')})"
        )
    table = read_ucf101_splits(root, splits).set_index("clip_id")
    unknown = clip_ids[~clip_ids.isin(table.index)]
    if not unknown.empty:
        raise ValueError(f"datasets.{name}: clips in no split list: {list(unknown[:5])}")
    return table.loc[clip_ids].reset_index()
