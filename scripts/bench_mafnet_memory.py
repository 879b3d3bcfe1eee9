"""Peak memory of a MAFnet training job (train_mafnet's core: load_clips, then run) on
window stores of the full tier's shapes.

    .venv/bin/python scripts/bench_mafnet_memory.py write --clips 2000 [--dir DIR]
    /usr/bin/time -f %M .venv/bin/python scripts/bench_mafnet_memory.py train [--dir DIR]
        [--clips N] [--epochs 1] [--variant NAME]

`write` makes a dataset of `--clips` AVE-like clips (28 classes, AVE's split
proportions, 10 one-second windows each): a manifest, media indexes, and VGGish conv4_2
(N, 10, 512, 12, 8) and DenseNet-201 (N, 10, 1920, 7, 7) window stores in float16, as
features/vggish.py and features/densenet.py store them (config.yaml mafnet: frames
clips10), in shards of 250 clips. `train` trains `--variant` (the full model by default,
config.yaml's model settings and schedule, `--epochs` epochs) on the first `--clips`
clips of it, and prints the job's peak RSS (getrusage; /usr/bin/time -f %M prints the
same) and its time. Run `train` with PYTHONPATH pointing at another checkout's src/ to
measure that code: it only calls load_clips and run, which every version has.
"""

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from avrepro.data.manifest import write_manifest
from avrepro.features.store import write_shard

REPO = Path(__file__).resolve().parents[1]
WINDOWS = 10  # clips10: ten one-second windows
SHAPES = {"audio": (512, 12, 8), "visual": (1920, 7, 7)}  # vggish / densenet FEATURE_SHAPE
CLASSES = 28  # AVE
SHARD = 250
FULL = "mafnet_fusion-concat_att-both_film-audio_drop-0.1"


def clip_ids(n: int) -> list[str]:
    return [f"clip{i:06d}" for i in range(n)]


def write_dataset(root: Path, clips: int, seed: int = 0) -> None:
    """Manifest, media indexes and window stores of `clips` random clips."""
    root.mkdir(parents=True, exist_ok=True)
    ids = clip_ids(clips)
    rng = np.random.default_rng(seed)
    # AVE's proportions, 8:1:1, by position: the first k shards of clips hold 200 k training
    # clips, so no training batch of 32 is a single clip (batch norm needs two).
    split = np.array(["test", "val", *["train"] * 8])[np.arange(clips) % 10]
    labels = np.arange(clips) // 10 % CLASSES
    write_manifest(pd.DataFrame({
        "clip_id": ids, "path": [f"x/{c}.mp4" for c in ids],
        "label": [f"class{k}" for k in labels], "label_index": labels, "split": split,
        "duration": 10.0, "has_audio": True, "status": "ok", "reason": ""}),
        root / "manifest.csv")
    pd.DataFrame({"clip_id": ids, "audio_status": "ok"}).to_csv(root / "audio_index.csv")
    pd.DataFrame({"clip_id": ids, "frames_status": "ok"}).to_csv(root / "frames_index.csv")
    for key, shape in SHAPES.items():
        for start in range(0, clips, SHARD):
            n = min(SHARD, clips - start)
            maps = rng.random((n, WINDOWS, *shape), dtype=np.float32).astype(np.float16)
            write_shard(root / f"{key}-{start // SHARD:04d}.npz", ids[start:start + n], maps,
                        n_valid=np.full(n, WINDOWS))
            print(f"wrote {key} clips {start}-{start + n}", flush=True)


def train(root: Path, clips: int, epochs: int, variant: str) -> dict:
    """load_clips and one run on the shards that hold the first `clips` clips."""
    from avrepro.train import mafnet

    config = yaml.safe_load((REPO / "config.yaml").read_text())["mafnet"]
    shards = {key: sorted(root.glob(f"{key}-*.npz"))[: -(-clips // SHARD)] for key in SHAPES}
    start = time.perf_counter()
    splits = mafnet.load_clips(root / "manifest.csv", shards["audio"], shards["visual"],
                               {"audio": [root / "audio_index.csv"],
                                "frames": [root / "frames_index.csv"]},
                               config["val_fraction"])
    loaded = time.perf_counter() - start
    model = mafnet.parse(variant).model
    hparams = {"schedule": config["schedule"] | {"epochs": epochs},
               "model": config["models"][model]}
    metrics = mafnet.run(variant, "bench", splits, CLASSES, hparams, seed=0,
                         out_dir=root / "run" / variant, checkpoint_interval_s=1e9,
                         sources=[*shards["audio"], *shards["visual"]])
    return {"clips": metrics["clips"], "load_s": round(loaded, 1),
            "total_s": round(time.perf_counter() - start, 1),
            # Linux reports ru_maxrss in KiB.
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["write", "train"])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mafnet_memory_bench"))
    parser.add_argument("--clips", type=int, default=2000,
                        help="write: clips to write; train: clips to use (whole shards)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--variant", default=FULL)
    args = parser.parse_args()
    if args.command == "write":
        write_dataset(args.dir, args.clips)
    else:
        print(train(args.dir, args.clips, args.epochs, args.variant))


if __name__ == "__main__":
    main()
