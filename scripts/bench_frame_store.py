"""Benchmark the frames store (avrepro.media.frame_store): bytes, codec time, peak memory.

    .venv/bin/python scripts/bench_frame_store.py [--dir /tmp/frame_store_bench]
        [--clips 4 32] [--branch-clips 400] [--src DIR] [--skip-rss]

For each frames spec of config.yaml (tsn25 on UCF-size 320 x 240 video, fps2 on
DCASE-size 1280 x 720, fps6 at Moments in Time's, clips10 for AVE, imd4 for Kinetics), it
samples a real UCF101 clip (../shared/fixtures/clips/test.avi; for fps2, clips10 and imd4
the same clip scaled to 1280 x 720 and looped to 10 s, made once with ffmpeg) and prints:
- stored bytes per frame, raw (H x W x 3) and as the store's JPEG, and per shard and per
  dataset at the real sizes (avrepro.data.sizes, config.yaml's n_shards), raw and JPEG;
- encode and decode milliseconds per frame on one core (best of 5 passes);
- with /usr/bin/time's peak RSS (unless --skip-rss): `sample_frames_shard` (tsn25, fps2,
  fps6) on `--clips` copies of the clip (two counts show what each further clip costs),
  and a two-phase visual branch (train.twophase.run_branch, 1 epoch) on an fps2 shard of
  `--branch-clips` clips (the sampled clip repeated), its backbone replaced by a global
  average pool so that what is measured is what grows with the data (the backbone's own
  memory does not). `--src DIR` runs these two on another checkout's src/ (for example
  the code before the store, `git archive` of an older commit), which writes and reads
  its own shard format.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / ".." / "shared" / "fixtures" / "clips" / "test.avi"
# spec -> (dataset whose store it is, input clip: "ucf" as is, "dcase" 1280 x 720 x 10 s)
CASES = {"tsn25": ("ucf51", "ucf"), "fps2": ("dcase2021", "dcase"), "fps6": ("moments_mini", "ucf"),
         "clips10": ("ave", "dcase"), "imd4": ("kinetics400", "dcase")}
RSS_SPECS = ("tsn25", "fps2", "fps6")  # the stores issue 13 names


def dcase_clip(root: Path) -> Path:
    """The fixture scaled to 1280 x 720 and looped to 10 s, as a DCASE video (H.264)."""
    from avrepro.media.ffmpeg import ffmpeg_binary

    path = root / "dcase-1280x720.mp4"
    if not path.exists():
        subprocess.run([ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", "-stream_loop",
                        "-1", "-i", str(FIXTURE), "-t", "10", "-vf", "scale=1280:720", "-an",
                        "-c:v", "libx264", "-crf", "18", str(path)], check=True)
    return path


def manifest(clip: Path, n: int) -> pd.DataFrame:
    """n manifest rows of one clip, with DCASE-like ids (scene-city-location-segment) over
    three scenes and a split a two-phase run accepts."""
    scenes = ("airport", "bus", "park")
    return pd.DataFrame({
        "clip_id": [f"{scenes[i % 3]}-lyon-{i // 3}-0" for i in range(n)],
        "path": str(clip), "label": [scenes[i % 3] for i in range(n)],
        "label_index": [i % 3 for i in range(n)],
        "split": ["test" if (i // 3) % 4 == 0 else "train" for i in range(n)],
        "duration": 10.0, "has_audio": True, "status": "ok", "reason": ""})


def best_ms(work, frames: int, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1000 * min(times) / frames


def measure_store(name: str, spec: dict, clip: Path, root: Path, config: dict) -> dict:
    from avrepro.data.sizes import FULL_SIZES
    from avrepro.media.frame_store import FrameStore, encode_jpeg
    from avrepro.media.shards import sample_frames_shard

    shard = root / f"{name}.npz"
    sample_frames_shard(manifest(clip, 1), spec, shard)
    store = FrameStore([shard])
    real = range(store.n_valid[0])
    frames = store.read(0, real).reshape(-1, *store.frame_shape)
    n = len(frames)
    encode = best_ms(lambda: [encode_jpeg(f) for f in frames], n)
    decode = best_ms(lambda: store.read(0, real), n)
    jpeg_per_clip = int(np.diff(np.load(shard)["offsets"]).sum())
    # What a raw shard held for a clip: every item, padding included.
    raw_per_clip = store.clip_shape[0] * store.frames_per_item * frames[0].nbytes
    dataset, _ = CASES[name]
    clips = sum(FULL_SIZES[dataset].values())
    per_shard = clips / config["datasets"][dataset]["n_shards"]
    return {"spec": name, "frame": "x".join(map(str, frames.shape[1:])), "frames/clip": n,
            "raw B/frame": frames[0].nbytes, "jpeg B/frame": round(jpeg_per_clip / n),
            "ratio": round(raw_per_clip / jpeg_per_clip, 1),
            "shard raw GB": round(per_shard * raw_per_clip / 1e9, 2),
            "shard jpeg GB": round(per_shard * jpeg_per_clip / 1e9, 3),
            "store raw GB": round(clips * raw_per_clip / 1e9, 1),
            "store jpeg GB": round(clips * jpeg_per_clip / 1e9, 2),
            "encode ms": round(encode, 3), "decode ms": round(decode, 3)}


def peak_rss_mb(args: list[str], src: Path | None) -> float:
    """Peak RSS (MB) of this script's child mode `args`, run on `src`'s package if given."""
    env = os.environ | ({"PYTHONPATH": str(src / "src")} if src else {})
    out = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, __file__, "--child",
                          *args], env=env, check=True, capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024


def child_sample(spec_name: str, clip: str, n: int, out: str) -> None:
    from avrepro.media.shards import sample_frames_shard

    spec = yaml.safe_load((ROOT / "config.yaml").read_text())["frames"][spec_name]
    sample_frames_shard(manifest(Path(clip), int(n)), spec, Path(out))


def child_branch(frames: str, root: str) -> None:
    """Two-phase's visual branch on the shard, its backbone the frames' mean colour."""
    import torch  # here: the sample_frames runs are measured without torch, as their job

    from avrepro.models.twophase import Branch
    from avrepro.train import twophase

    class MeanColour(torch.nn.Module):
        """The pooled backbone: frames (B, H, W, 3) uint8 -> their mean colour (B, 3)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.float().mean((1, 2)) / 255

    torch.set_num_threads(1)
    root = Path(root)
    rows = manifest(FIXTURE, len(np.load(frames)["clip_id"]))
    rows.to_csv(root / "manifest.csv", index=False)
    media = {}
    for stream, column in (("audio", "audio_status"), ("frames", "frames_status")):
        media[stream] = [root / f"{stream}.csv"]
        pd.DataFrame({"clip_id": rows.clip_id, column: "ok"}).to_csv(media[stream][0],
                                                                        index=False)
    twophase.build_model = lambda variant, n_classes, widths=None: Branch(
        MeanColour(), 3, n_classes)
    hparams = {"val_fraction": 0.25, "mixup_alpha": 0.4,
               "schedule": {"epochs": 1, "batch_size": 32, "lr": 1e-4, "weight_decay": 1e-4}}
    twophase.run_branch("vis_bb-convnexttiny", root / "manifest.csv", [Path(frames)], media,
                        hparams, 0, root / "run")


def branch_shard(root: Path, src: Path | None, spec_shard: Path, n: int) -> Path:
    """An fps2 shard of n clips (the sampled clip repeated) in `src`'s format: JPEG frames
    through this checkout's store, or raw frames for the code before it."""
    from avrepro.media.frame_store import FrameStore, write_frames

    store = FrameStore([spec_shard])
    frames = np.repeat(store.read(0)[None], n, axis=0)
    ids = manifest(FIXTURE, n).clip_id
    path = root / f"branch-{'before' if src else 'now'}-{n}.npz"
    if src:
        np.savez(path, clip_id=ids.to_numpy(dtype=str), frames=frames,
                 n_valid=np.full(n, store.n_valid[0]))
    else:
        write_frames(path, "fps", ids, frames, np.full(n, store.n_valid[0]))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/frame_store_bench"))
    parser.add_argument("--clips", type=int, nargs=2, default=[4, 32],
                        help="clips in the sample_frames shards whose peak RSS is measured")
    parser.add_argument("--branch-clips", type=int, default=400)
    parser.add_argument("--src", type=Path, help="a checkout whose src/ the RSS runs use")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        {"sample": child_sample, "branch": child_branch}[args.child[0]](*args.child[1:])
        return
    cv2.setNumThreads(1)  # one core, as the codec runs in a job
    args.dir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    inputs = {"ucf": FIXTURE, "dcase": dcase_clip(args.dir)}
    rows = [measure_store(name, config["frames"][name], inputs[kind], args.dir, config)
            for name, (_, kind) in CASES.items()]
    print(pd.DataFrame(rows).to_string(index=False))
    if args.skip_rss:
        return
    label = f"src {args.src}" if args.src else "this checkout"
    rss = {}
    for name in RSS_SPECS:
        kind = CASES[name][1]
        for n in args.clips:
            rss[f"sample_frames {name} x{n}"] = peak_rss_mb(
                ["sample", name, str(inputs[kind]), str(n), str(args.dir / f"rss-{name}.npz")],
                args.src)
    shard = branch_shard(args.dir, args.src, args.dir / "fps2.npz", args.branch_clips)
    run_root = args.dir / "branch"
    run_root.mkdir(exist_ok=True)
    rss[f"twophase vis branch x{args.branch_clips} (pooled backbone)"] = peak_rss_mb(
        ["branch", str(shard), str(run_root)], args.src)
    print(f"peak RSS, MB ({label}):")
    print(json.dumps({k: round(v) for k, v in rss.items()}, indent=1))


if __name__ == "__main__":
    main()
