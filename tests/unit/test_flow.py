import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from clips import make_clip
from torchvision.models.optical_flow import raft_small

from avrepro.features.weights import WeightsMismatchError
from avrepro.media.flow import (
    FLOW_INDEX_COLUMNS,
    RAFT_MIN_SIDE,
    build_raft,
    dequantize_flow,
    flow_shard,
    quantize_flow,
    raft_flow,
    tvl1_flow,
)
from avrepro.media.frame_store import FrameStore, write_frames
from avrepro.media.shards import sample_frames_shard

# Fewer scales than OpenCV's 5 keep the tests fast; a 3-px shift needs no deep pyramid.
TVL1 = {"method": "tvl1", "bound": 20, "nscales": 3}


def moving_texture(n_frames: int, size: int, dx: int, dy: int, seed: int = 0) -> np.ndarray:
    """(n_frames, size, size, 3) uint8 views of a smooth random texture whose content moves
    by (dx, dy) pixels (rightwards, downwards) from each frame to the next."""
    rng = np.random.default_rng(seed)
    margin = n_frames * max(abs(dx), abs(dy)) + 1
    canvas = rng.uniform(0, 255, (size + 2 * margin, size + 2 * margin)).astype(np.float32)
    canvas = cv2.normalize(cv2.GaussianBlur(canvas, (0, 0), 2.0), None, 0, 255, cv2.NORM_MINMAX)
    # Content at canvas (y, x) shows at frame pixel (y - top, x - left); moving it by +dx
    # means the window's left edge moves by -dx.
    frames = [
        canvas[margin - t * dy : margin - t * dy + size, margin - t * dx : margin - t * dx + size]
        for t in range(n_frames)
    ]
    gray = np.stack(frames).round().astype(np.uint8)  # (T, size, size)
    return np.repeat(gray[..., None], 3, axis=-1)


def interior_mean(flow: np.ndarray) -> np.ndarray:
    """Mean (dx, dy) per frame pair over the central half of the picture: (T-1, 2)."""
    height, width = flow.shape[1:3]
    inner = flow[:, height // 4 : -height // 4, width // 4 : -width // 4]
    return inner.mean(axis=(1, 2))


def test_tvl1_recovers_a_known_translation() -> None:
    frames = moving_texture(3, 48, dx=3, dy=-2)
    flow = tvl1_flow(frames, {"nscales": 3})
    assert flow.shape == (2, 48, 48, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(interior_mean(flow), [[3, -2], [3, -2]], atol=0.1)

    # Quantised as TSN stores it, the flow comes back within half a step (bound / 255).
    images = quantize_flow(flow, bound=20)
    assert images.dtype == np.uint8
    assert np.abs(dequantize_flow(images, bound=20) - flow).max() <= 20 / 255 + 1e-6
    np.testing.assert_allclose(interior_mean(dequantize_flow(images)), [[3, -2]] * 2, atol=0.1)


def test_tvl1_takes_opencv_parameters_and_rejects_unknown_ones() -> None:
    frames = moving_texture(2, 32, dx=2, dy=1)
    default = tvl1_flow(frames)
    starved = tvl1_flow(frames, {"nscales": 1, "warps": 1, "outer_iterations": 1})
    assert not np.allclose(default, starved)  # the parameters reach OpenCV
    with pytest.raises(ValueError, match="unknown TV-L1 parameter 'iterations'"):
        tvl1_flow(frames, {"iterations": 5})


def test_quantize_flow_is_dense_flows_formula() -> None:
    # cvRound(255 * (v + 20) / 40): -20 -> 0, 0 -> 127.5 -> 128 (halves to even), 10 ->
    # 191.25 -> 191, 20 -> 255; beyond the bound, clipped.
    flow = np.array([-20.0, 0.0, 10.0, 20.0, -35.0, 50.0, 1.0], dtype=np.float32)
    np.testing.assert_array_equal(quantize_flow(flow), [0, 128, 191, 255, 0, 255, 134])
    np.testing.assert_array_equal(quantize_flow(flow, bound=5), [0, 128, 255, 255, 0, 255, 153])
    back = dequantize_flow(quantize_flow(flow))
    np.testing.assert_allclose(back[[0, 3, 4, 5]], [-20, 20, -20, 20], atol=1e-5)
    assert np.abs(back[[1, 2, 6]] - flow[[1, 2, 6]]).max() <= 20 / 255 + 1e-6  # half a step


def test_flow_shard_of_an_fps_frames_shard(tmp_path: Path) -> None:
    # A 2-s 10-fps clip sampled at 6 fps for 3 s: 12 of 18 frames, so 11 of 17 flows.
    clip = make_clip(tmp_path / "clip.mp4", audio=False)
    manifest = pd.DataFrame(
        {"clip_id": ["a"], "path": [str(clip)], "status": ["ok"], "reason": [""]}
    )
    spec = {"sampler": "fps", "fps": 6, "seconds": 3, "short_side": 40, "crop": 32}
    frames_npz = tmp_path / "frames" / "shard-0.npz"
    sample_frames_shard(manifest, spec, frames_npz)

    out_path = tmp_path / "flow" / "shard-0.npz"
    index = flow_shard(frames_npz, out_path, TVL1, device="cpu")

    assert list(index.columns) == FLOW_INDEX_COLUMNS
    assert index.to_dict("list") == {"clip_id": ["a"], "n_flows": [11]}
    assert sorted(p.name for p in out_path.parent.iterdir()) == ["shard-0.npz"]  # no temp file
    with zipfile.ZipFile(out_path) as archive:  # flow compresses well: stored deflated
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    with np.load(out_path) as shard:
        assert set(shard.files) == {"clip_id", "flow", "n_valid"}
        assert shard["clip_id"].tolist() == ["a"] and shard["n_valid"].tolist() == [11]
        flow = shard["flow"]
        assert flow.shape == (1, 17, 32, 32, 2) and flow.dtype == np.uint8
        stored = FrameStore([frames_npz]).read(0, range(12))  # the frames as decoded
        expected = quantize_flow(tvl1_flow(stored, {"nscales": 3}))
        np.testing.assert_array_equal(flow[0, :11], expected)
        assert not flow[0, 11:].any()  # zeros past the valid flows


def test_flow_shard_pads_clips_of_one_frame_and_keeps_empty_shards(tmp_path: Path) -> None:
    frames = np.zeros((2, 4, 32, 32, 3), dtype=np.uint8)
    frames[0] = moving_texture(4, 32, dx=1, dy=1)
    frames[1, :1] = moving_texture(1, 32, dx=0, dy=0, seed=1)
    shard_path = tmp_path / "frames.npz"
    write_frames(shard_path, "fps", ["moving", "still"], frames, np.array([4, 1]))

    index = flow_shard(shard_path, tmp_path / "flow.npz", TVL1, device="cpu")
    assert index["n_flows"].tolist() == [3, 0]
    with np.load(tmp_path / "flow.npz") as shard:
        assert shard["flow"].shape == (2, 3, 32, 32, 2)
        assert shard["n_valid"].tolist() == [3, 0]
        assert shard["flow"][0].any() and not shard["flow"][1].any()
        moving = dequantize_flow(shard["flow"][0])
    np.testing.assert_allclose(interior_mean(moving), [[1, 1]] * 3, atol=0.15)

    empty = tmp_path / "empty.npz"
    write_frames(empty, "fps", [], frames[:0], np.zeros(0, int))
    assert flow_shard(empty, tmp_path / "empty-flow.npz", TVL1).empty
    with np.load(tmp_path / "empty-flow.npz") as shard:
        assert shard["flow"].shape == (0, 3, 32, 32, 2)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"method": "farneback"}, "'method' must be"),
        ({"method": "tvl1", "bound": 0}, "'bound' must be positive"),
        ({"method": "tvl1", "updates": 12}, r"\['updates'\] not parameters of tvl1"),
        ({"method": "raft", "nscales": 3}, r"\['nscales'\] not parameters of raft"),
    ],
)
def test_a_bad_flow_config_is_named_before_any_work(
    tmp_path: Path, params: dict, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        flow_shard(tmp_path / "absent.npz", tmp_path / "flow.npz", params)
    assert list(tmp_path.iterdir()) == []


def test_flow_needs_a_shard_of_consecutive_frames(tmp_path: Path) -> None:
    tsn_shard = tmp_path / "tsn.npz"  # the tsn sampler's segment centres
    write_frames(tsn_shard, "tsn", ["a"], np.zeros((1, 3, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="tsn.npz: flow needs consecutive frames"):
        flow_shard(tsn_shard, tmp_path / "flow.npz", TVL1)


def test_raft_with_random_weights_gives_flow_of_the_frames_shape() -> None:
    model = build_raft("raft_small")
    frames = moving_texture(3, RAFT_MIN_SIDE + 4, dx=2, dy=0)[:, :RAFT_MIN_SIDE]  # 128x132
    flow = raft_flow(model, frames, updates=2, batch_size=1)  # padded to 128x136, cropped
    assert flow.shape == (2, RAFT_MIN_SIDE, RAFT_MIN_SIDE + 4, 2) and flow.dtype == np.float32
    assert np.isfinite(flow).all()
    assert quantize_flow(flow).shape == flow.shape
    with pytest.raises(ValueError, match="at least 128 pixels.*use method tvl1"):
        raft_flow(model, moving_texture(2, 64, dx=1, dy=1))


def test_raft_weights_round_trip_through_a_local_file(tmp_path: Path) -> None:
    torch.manual_seed(123)  # not build_raft's seed: equal outputs come from the file
    published = raft_small().eval()
    path = tmp_path / "raft_small_C_T_V2-01064c6d.pth"
    torch.save(published.state_dict(), path)

    frames = moving_texture(2, RAFT_MIN_SIDE, dx=1, dy=2)
    loaded = build_raft("raft_small", weights=path)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    expected = raft_flow(published, frames, updates=2)
    np.testing.assert_array_equal(raft_flow(loaded, frames, updates=2), expected)
    assert not np.array_equal(raft_flow(build_raft("raft_small"), frames, updates=2), expected)

    state = published.state_dict()
    state.pop("update_block.flow_head.conv2.bias")
    torch.save(state, tmp_path / "truncated.pth")
    with pytest.raises(WeightsMismatchError, match="flow_head.conv2.bias"):
        build_raft("raft_small", weights=tmp_path / "truncated.pth")
