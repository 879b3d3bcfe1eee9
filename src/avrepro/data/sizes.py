"""Clips per split of the real datasets, for planning and cost estimates before anything
is downloaded (scripts/bench_dag.py, avrepro.cost). Our counts of what each dataset's
recipe keeps, approximate where dataset versions differ (Kinetics' YouTube videos
disappear over time); the papers' own counts live in their metafiles."""

FULL_SIZES = {
    "ucf51": {"train": 4892, "test": 1944},  # UCF101 split 1, the 51 classes with audio
    "kinetics_sounds": {"train": 19347, "test": 1344},
    "kinetics_sounds32": {"train": 20600, "test": 1345},
    "ave": {"train": 3339, "val": 402, "test": 402},
    "dcase2021": {"train": 8646, "test": 3645},  # fold1 of the development set
    "moments_mini": {"train": 100_000, "test": 10_000},
    "kinetics400": {"train": 240_000, "test": 20_000},
    "ucf101": {"train": 9537, "test": 3783},  # split 1
}


def full_size(datasets: dict, name: str) -> dict[str, int]:
    """Clips per split of dataset `name` of a config's `datasets` at its real size: a
    dataset that takes its clips from another (`clips_from`, another split of UCF101)
    has that one's clips."""
    return FULL_SIZES[datasets[name].get("clips_from", name)]
