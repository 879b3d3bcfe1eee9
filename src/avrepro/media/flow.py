"""Optical flow between a clip's sampled frames, stored the way TSN stores it.

TSN's temporal stream (Wang et al., ECCV 2016) reads TV-L1 optical flow made by TSN's tool,
yjxiong/dense_flow (used by tsn-pytorch and mmaction; mmaction2's
tools/data/build_rawframes.py calls its successor as `denseflow -a=tvl1 -b=20`). It
computes OpenCV's dual TV-L1 on grayscale frames with OpenCV's default parameters
(src/dense_flow.cpp: `DualTVL1OpticalFlow::create()`, no arguments) and keeps each
frame pair as two 8-bit images, x and y: every component clipped to +-bound pixels (20 in
TSN's build_of.py) and mapped linearly onto 0..255 with cvRound (src/common.cpp,
convertFlowToImage; mmaction2's tools/misc/flow_extraction.py truncates instead, we follow
dense_flow). We store those bytes losslessly, where dense_flow then JPEG-encodes them.

Which frames: Lee et al. (§3.2) fine-tune TSN on Moments in Time "sampled at 6 FPS", and
TSN computes flow between consecutive frames of what it is given, so flow here is taken
between consecutive sampled frames, 1/6 s apart. TSN itself takes it between consecutive
native frames (dense_flow's step 1, 1/25-1/30 s apart): motion over 1/6 s is about five
times larger, so more of it reaches the bound, which we keep at TSN's 20.

`method: raft` is a faster option on a GPU: torchvision's RAFT, quantised the same way.
It is another estimator than the paper's (TSN's flow is TV-L1), so it is a speed/fidelity
trade-off to choose knowingly, not a drop-in equivalent.
"""

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from avrepro.media.frame_store import FrameStore
from avrepro.media.shards import save_npz_atomically

if TYPE_CHECKING:
    from torch import nn

DEFAULT_BOUND = 20.0  # pixels; TSN's build_of.py and mmaction2's build_rawframes.py: -b=20
FLOW_INDEX_COLUMNS = ["clip_id", "n_flows"]

# Config key -> setter of cv2.optflow.DualTVL1OpticalFlow. Keys left out keep OpenCV's
# defaults, which are dense_flow's: tau 0.25, lambda 0.15, theta 0.3, nscales 5, warps 5,
# epsilon 0.01, inner_iterations 30, outer_iterations 10, scale_step 0.8, gamma 0,
# median_filtering 5. Fewer scales or warps trade accuracy for time on tiny frames.
TVL1_SETTERS = {
    "tau": "setTau",
    "lambda": "setLambda",
    "theta": "setTheta",
    "nscales": "setScalesNumber",
    "warps": "setWarpingsNumber",
    "epsilon": "setEpsilon",
    "inner_iterations": "setInnerIterations",
    "outer_iterations": "setOuterIterations",
    "scale_step": "setScaleStep",
    "gamma": "setGamma",
    "median_filtering": "setMedianFiltering",
}
# model: a KNOWN_WEIGHTS name; updates: RAFT's recurrent refinements (torchvision's default
# 12); batch_size: frame pairs per forward pass.
RAFT_DEFAULTS = {"model": "raft_large", "updates": 12, "batch_size": 8}
RAFT_SEED = 0  # random weights (smoke tier, tests): every shard gets the same network
# RAFT's correlation pyramid halves its 1/8-resolution feature maps three times and needs
# them at least 16 wide (torchvision's CorrBlock): frames of at least 128 pixels a side.
RAFT_MIN_SIDE = 128


def quantize_flow(flow: np.ndarray, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Flow in pixels -> uint8, as dense_flow's convertFlowToImage: clip to +-bound, then
    cvRound(255 * (v + bound) / (2 * bound)). Computed in float64 as dense_flow does, and
    np.rint rounds halves to even as cvRound does, so the bytes match."""
    flow = np.clip(np.asarray(flow, dtype=np.float64), -bound, bound)
    return np.rint(255 * (flow + bound) / (2 * bound)).astype(np.uint8)


def dequantize_flow(images: np.ndarray, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """uint8 flow images -> pixels (float32), within half a step (bound / 255) of the flow
    that was quantised when it lay inside +-bound."""
    return images.astype(np.float32) * np.float32(2 * bound / 255) - np.float32(bound)


def tvl1_flow(frames: np.ndarray, params: Mapping[str, float] | None = None) -> np.ndarray:
    """TV-L1 flow between consecutive frames: (T, H, W, 3) uint8 RGB -> (T-1, H, W, 2)
    float32 pixels, channel 0 rightwards and 1 downwards (the motion that carries frame t
    onto frame t + 1). On grayscale frames, as dense_flow (BGR2GRAY of its BGR frames)."""
    estimator = cv2.optflow.DualTVL1OpticalFlow_create()
    for key, value in (params or {}).items():
        if key not in TVL1_SETTERS:
            raise ValueError(f"unknown TV-L1 parameter {key!r}; known: {sorted(TVL1_SETTERS)}")
        getattr(estimator, TVL1_SETTERS[key])(value)
    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]  # T x (H, W)
    flow = np.empty((max(len(frames) - 1, 0), *frames.shape[1:3], 2), dtype=np.float32)
    for t in range(len(flow)):
        flow[t] = estimator.calc(gray[t], gray[t + 1], None)  # (H, W, 2)
    return flow


def build_raft(model: str = "raft_large", weights: Path | None = None) -> "nn.Module":
    """torchvision's RAFT `model` ("raft_large" or "raft_small"), frozen in eval mode,
    filled from the local file of KNOWN_WEIGHTS[model] when `weights` is given; seeded
    random weights otherwise (smoke tier and tests only)."""
    from torchvision.models.optical_flow import raft_large, raft_small

    from avrepro.features.weights import frozen_network

    makers = {"raft_large": raft_large, "raft_small": raft_small}
    if model not in makers:
        raise ValueError(f"unknown RAFT model {model!r}; known: {sorted(makers)}")
    return frozen_network(model, makers[model], weights, seed=RAFT_SEED)


def raft_flow(
    model: "nn.Module",
    frames: np.ndarray,
    updates: int = RAFT_DEFAULTS["updates"],
    batch_size: int = RAFT_DEFAULTS["batch_size"],
    device: str = "cpu",
) -> np.ndarray:
    """RAFT flow between consecutive frames: (T, H, W, 3) uint8 RGB -> (T-1, H, W, 2)
    float32 pixels, in tvl1_flow's convention. Frames are padded to a multiple of 8 by
    repeating their edges, as RAFT's InputPadder does (princeton-vl/RAFT,
    core/utils/utils.py), and the flow is cropped back."""
    import torch
    import torch.nn.functional as F

    height, width = frames.shape[1:3]
    pad_h, pad_w = -height % 8, -width % 8
    if min(height + pad_h, width + pad_w) < RAFT_MIN_SIDE:
        raise ValueError(
            f"RAFT needs frames of at least {RAFT_MIN_SIDE} pixels a side, got {height}x{width}; "
            "use method tvl1 for smaller frames"
        )
    top, left = pad_h // 2, pad_w // 2
    model = model.to(device)
    flow = np.empty((max(len(frames) - 1, 0), height, width, 2), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(flow), batch_size):
            stop = min(start + batch_size, len(flow))
            batch = torch.from_numpy(frames[start : stop + 1]).to(device)  # (B + 1, H, W, 3)
            # [0, 255] -> [-1, 1], torchvision's OpticalFlow preset for these weights.
            x = batch.permute(0, 3, 1, 2).float() / 127.5 - 1  # (B + 1, 3, H, W)
            x = F.pad(x, (left, pad_w - left, top, pad_h - top), mode="replicate")
            # RAFT returns its estimate after every update; the last is the answer.
            predicted = model(x[:-1], x[1:], num_flow_updates=updates)[-1]  # (B, 2, H', W')
            predicted = predicted[:, :, top : top + height, left : left + width]
            flow[start:stop] = predicted.permute(0, 2, 3, 1).float().cpu().numpy()
    return flow


def flow_estimator(
    params: Mapping, weights: Path | None = None, device: str = "auto", threads: int = 1
) -> Callable[[np.ndarray], np.ndarray]:
    """The function frames (T, H, W, 3) uint8 -> flow (T-1, H, W, 2) float32 that a flow
    config asks for: {"method": "tvl1", "bound", TV-L1 parameters (TVL1_SETTERS)} or
    {"method": "raft", "bound", "model", "updates", "batch_size"}. Raises ValueError
    naming a bad key before any work.

    `threads` caps OpenCV's (and for RAFT on the CPU, torch's) threads in this process:
    Snakemake already runs one shard job per core, and OpenCV's default of a thread per
    core in every job would oversubscribe the cores; a rule that grants a job more
    threads passes them here.
    """
    method = params.get("method")
    if method not in ("tvl1", "raft"):
        raise ValueError(f"flow config {dict(params)}: 'method' must be 'tvl1' or 'raft'")
    if not params.get("bound", DEFAULT_BOUND) > 0:
        raise ValueError(f"flow config {dict(params)}: 'bound' must be positive")
    own = {key: value for key, value in params.items() if key not in ("method", "bound")}
    known = TVL1_SETTERS if method == "tvl1" else RAFT_DEFAULTS
    unknown = sorted(set(own) - set(known))
    if unknown:
        raise ValueError(
            f"flow config {dict(params)}: {unknown} not parameters of {method}; "
            f"known: {sorted(known)}"
        )
    cv2.setNumThreads(threads)
    if method == "tvl1":
        return partial(tvl1_flow, params=own)
    import torch

    from avrepro.jobs import resolve_device

    torch.set_num_threads(threads)
    raft = {**RAFT_DEFAULTS, **own}
    model = build_raft(raft["model"], weights)
    return partial(
        raft_flow,
        model,
        updates=raft["updates"],
        batch_size=raft["batch_size"],
        device=resolve_device(device),
    )


def flow_shard(
    frames_npz: Path,
    out_path: Path,
    params: Mapping,
    weights: Path | None = None,
    device: str = "auto",
    threads: int = 1,
) -> pd.DataFrame:
    """Quantised flow for every clip of an "fps" frames shard, into one `.npz`.

    The archive holds `clip_id` (N,) str, `flow` (N, T-1, H, W, 2) uint8 (channel 0 x,
    1 y; dequantize_flow gives pixels) and `n_valid` (N,) int64 = max(frames' n_valid - 1,
    0). Past a clip's valid flows the bytes are zeros, as past its frames in the frames
    shard; zero bytes read as -bound, so consumers mask by `n_valid`. Returns the index:
    clip_id, n_flows.
    """
    estimate = flow_estimator(params, weights, device, threads)
    bound = params.get("bound", DEFAULT_BOUND)
    frames = FrameStore([frames_npz])
    if frames.sampler != "fps":
        raise ValueError(f"{frames_npz}: flow needs consecutive frames, a shard of the 'fps' "
                         f"sampler, not of {frames.sampler!r}")
    clip_ids, n_frames = frames.clip_ids, frames.n_valid
    n_times, height, width = frames.clip_shape[:3]
    flow = np.zeros((len(frames), max(n_times - 1, 0), height, width, 2), dtype=np.uint8)
    n_valid = np.maximum(n_frames - 1, 0).astype(np.int64)
    for i in tqdm(range(len(frames)), desc="flow", unit="clip"):
        if n_valid[i]:  # the clip's real frames, decoded
            real = frames.read(i, range(n_frames[i]))
            flow[i, : n_valid[i]] = quantize_flow(estimate(real), bound)
    # Compressed: quantised flow is mostly values near 128 and zlib shrinks it ~9x (3.4 MB
    # -> 0.39 MB for two 3-s MiT-like clips at 6 fps, 224 x 224), for 66 ms of writing
    # against ~28 s of TV-L1 for those 34 pairs; reading takes 6 ms instead of 3.
    arrays = {"clip_id": clip_ids, "flow": flow, "n_valid": n_valid}
    save_npz_atomically(Path(out_path), arrays, compressed=True)
    return pd.DataFrame({"clip_id": clip_ids, "n_flows": n_valid}, columns=FLOW_INDEX_COLUMNS)
