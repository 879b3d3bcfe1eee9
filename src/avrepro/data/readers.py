"""A dataset's clips as its raw layout lists them, by the reader of its `raw` dataset.

config.yaml's `datasets.{name}` picks a raw dataset (`raw`) and, where the raw dataset
has several, its split: `split` (UCF101's official split 1, 2 or 3) or `splits` (our
split name -> Kinetics' split).
"""

from pathlib import Path

import pandas as pd

from avrepro.data.ave import read_ave
from avrepro.data.dcase import read_dcase
from avrepro.data.kinetics import read_kinetics
from avrepro.data.mit import read_mit
from avrepro.data.ucf101 import read_ucf101

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
