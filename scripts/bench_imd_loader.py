"""Benchmark IMD's data loader (avrepro.train.imd_data) in clips a second.

    .venv/bin/python scripts/bench_imd_loader.py [--clips 32] [--workers 0 2 4]
        [--batch 8] [--batches 8] [--dir /tmp/imd_loader_bench] [--torch-threads 1]

It writes, once, a frames, flow and AST store at the workflow's full size (config.yaml
imd: frames spec imd4, 40 stored frames of 256 x 256 a clip, TV-L1 flow between them, a
768-wide AST embedding), as the media and feature stages write them (frames as JPEG
images, media.frame_store), then times the training loader (8 frames every 4th stored
frame, 224 crops with scale jitter and flips, RGB + flow + audio, as train.imd's loop
asks for them) and the test loader (4 clips x 3 crops a clip) for each worker count. The
stores are random bytes: the same cost for flow and AST, a pessimistic one for frames,
whose noise takes longer to decode as JPEG than a video's pictures.
The first pass over a new store reads the disk; each timing follows one untimed batch,
so the page cache is warm as it is in a long run whose shards fit in memory.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from avrepro.media.frame_store import FrameStore, write_frames
from avrepro.train.imd_data import IMDClips, Sampling, Views, open_audio, read_column, select

STORED, SIDE, WIDTH = 40, 256, 768  # imd4: 4 fps x 10 s of 256-px squares; AST-B's width


def write_stores(root: Path, clips: int, seed: int = 0) -> dict[str, list[Path]]:
    """Frames, flow and AST shards of `clips` random clips (one shard each), written once."""
    root.mkdir(parents=True, exist_ok=True)
    paths = {k: [root / f"{k}.npz"] for k in ("frames", "flow", "ast")}
    if all(p[0].exists() for p in paths.values()):
        return paths
    rng = np.random.default_rng(seed)
    ids = np.array([f"clip{i:05d}" for i in range(clips)])
    n_valid = np.full(clips, STORED)
    write_frames(paths["frames"][0], "fps", ids,
                 rng.integers(0, 256, (clips, STORED, SIDE, SIDE, 3), dtype=np.uint8))
    np.savez(paths["flow"][0], clip_id=ids, n_valid=n_valid - 1,
             flow=rng.integers(0, 256, (clips, STORED - 1, SIDE, SIDE, 2), dtype=np.uint8))
    np.savez(paths["ast"][0], clip_id=ids, has_audio=np.ones(clips, bool),
             embedding=rng.normal(size=(clips, WIDTH)).astype(np.float32),
             probs=rng.uniform(size=(clips, 527)).astype(np.float32))
    return paths


def dataset(paths: dict[str, list[Path]]) -> IMDClips:
    ids = [str(c) for c in np.load(paths["frames"][0])["clip_id"]]
    frames = FrameStore(paths["frames"]).select(ids)
    flow, where_flow = select(paths["flow"], "flow", ids)
    audio = open_audio(paths["ast"], ids, ["x"] * len(ids), None, None, None)
    return IMDClips(np.zeros(len(ids), np.int64), Sampling(frames=8, stride=4),
                    frames.n_valid, frames=frames, flow=flow,
                    n_fields=read_column(paths["flow"], "n_valid")[where_flow], audio=audio)


def clips_per_second(data: DataLoader, batches: int) -> float:
    """Clips a second over `batches` batches, after one untimed batch (workers starting)."""
    iterator = iter(data)
    next(iterator)
    start, clips = time.perf_counter(), 0
    for _ in range(batches):
        clips += len(next(iterator)["label"])
    return clips / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=32, help="clips in the store")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4])
    parser.add_argument("--batch", type=int, default=8, help="clips a batch (a GPU's share)")
    parser.add_argument("--batches", type=int, default=8, help="timed batches")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/imd_loader_bench"))
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch threads in the main process (workers use one each)")
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)

    clips = dataset(write_stores(args.dir, args.clips))
    n = (args.batches + 1) * args.batch
    train = [[(i % len(clips), i) for i in range(b * args.batch, (b + 1) * args.batch)]
             for b in range(n // args.batch)]
    test = [[i % len(clips) for i in range(b * args.batch, (b + 1) * args.batch)]
            for b in range(n // args.batch)]
    print(f"{args.clips} clips of {STORED} x {SIDE}^2 frames; batches of {args.batch}; "
          f"clips a second (rgb + flow + audio, 8 x 224^2):")
    for workers in args.workers:
        rates = []
        for data, kind in ((clips, train), (Views(clips, np.arange(len(clips))), test)):
            loader = DataLoader(data, batch_sampler=kind, num_workers=workers)
            rates.append(clips_per_second(loader, args.batches))
        print(f"  workers {workers}: train {rates[0]:6.1f}   test (12 views) {rates[1]:6.1f}")


if __name__ == "__main__":
    main()
