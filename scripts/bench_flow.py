"""Benchmark optical flow: TV-L1 (TSN's estimator) and, if asked, RAFT, in flow frames a second.

    .venv/bin/python scripts/bench_flow.py --size 224 --pairs 20 [--small 64]
        [--raft cuda] [--raft-model raft_large] [--batch-size 16] [--threads 1]

The frames are synthetic moving stripes (avrepro.data.synthetic.render_picture) at 6 fps,
Lee et al.'s rate, so the motion between frames is what the workflow meets. TV-L1 runs
with OpenCV's defaults (dense_flow's) on `--threads` threads, one by default as in a
workflow job; RAFT (torchvision, random weights: the speed is the same as with the
published ones) runs on the device `--raft` names, after a warm-up batch, at `--size`
only (it needs frames of at least 128 pixels a side).
"""

import argparse
import time

import cv2
import numpy as np

from avrepro.data.synthetic import render_picture
from avrepro.media.flow import RAFT_MIN_SIDE, build_raft, raft_flow, tvl1_flow

RATE = 6.0  # frames per second, Lee et al. §3.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="frame side in pixels")
    parser.add_argument("--small", type=int, default=64, help="a second, small frame side")
    parser.add_argument("--pairs", type=int, default=20, help="frame pairs per timing")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV/torch threads")
    parser.add_argument("--raft", metavar="DEVICE", help="also time RAFT on DEVICE (cpu, cuda)")
    parser.add_argument("--raft-model", default="raft_large", choices=["raft_large", "raft_small"])
    parser.add_argument("--updates", type=int, default=12, help="RAFT's refinement steps")
    parser.add_argument("--batch-size", type=int, default=16, help="RAFT frame pairs a batch")
    args = parser.parse_args()

    cv2.setNumThreads(args.threads)
    print(f"{args.pairs} pairs, {args.threads} thread(s); flow frames per second:")
    for size in dict.fromkeys((args.size, args.small)):
        frames = _moving_frames(args.pairs + 1, size)
        seconds = _timed(tvl1_flow, frames)
        print(f"tvl1 {size}x{size}: {args.pairs / seconds:.2f}")
    if args.raft:
        _bench_raft(args)


def _bench_raft(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    if args.size < RAFT_MIN_SIDE:
        print(f"{args.raft_model}: skipped, frames under {RAFT_MIN_SIDE} pixels")
        return
    model = build_raft(args.raft_model)
    frames = _moving_frames(args.pairs + 1, args.size)
    raft = {"updates": args.updates, "batch_size": args.batch_size, "device": args.raft}
    raft_flow(model, frames[: args.batch_size + 1], **raft)  # warm-up: kernels, allocator
    seconds = _timed(raft_flow, model, frames, **raft)
    label = f"{args.raft_model} {args.size}x{args.size} on {args.raft}"
    print(f"{label} ({args.updates} updates, batch {args.batch_size}): {args.pairs / seconds:.2f}")


def _moving_frames(n_frames: int, size: int) -> np.ndarray:
    """(n_frames, size, size, 3) uint8 stripes drifting across the picture at 6 fps."""
    rng = np.random.default_rng(0)
    return render_picture(
        3, direction=1, rng=rng, duration=n_frames / RATE, fps=RATE, size=(size, size)
    )


def _timed(function, *args, **kwargs) -> float:
    """Wall-clock seconds of one call; CUDA work is waited for (flow is copied back to the
    host inside the call, which synchronises)."""
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
