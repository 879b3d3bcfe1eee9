"""The frames store (avrepro.media.frame_store): JPEG frames, read lazily."""

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from sklearn.datasets import load_sample_image
from torch.utils.data import DataLoader

from avrepro.media import frame_store as fs
from avrepro.media.frames import sample_tsn


def psnr(decoded: np.ndarray, original: np.ndarray) -> float:
    mse = np.mean((decoded.astype(np.float64) - original.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / mse)


def photo_clips(n: int, length: int, side: int) -> np.ndarray:
    """(n, length, side, side, 3) uint8 frames panning across a real photo (sklearn's)."""
    photo = load_sample_image("china.jpg")  # 427 x 640
    frames = np.empty((n, length, side, side, 3), np.uint8)
    for i in range(n):
        for t in range(length):
            top, left = 20 * i, 30 * i + 12 * t
            crop = photo[top : top + 200, left : left + 200]
            frames[i, t] = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    return frames


@pytest.fixture
def shard(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A shard of 3 clips of 5 frames (clip 1 has 2 real frames, clip 2 none)."""
    frames = photo_clips(3, 5, 64)
    n_valid = np.array([5, 2, 0])
    frames[np.arange(5)[None, :] >= n_valid[:, None]] = 0
    path = tmp_path / "shard-000.npz"
    fs.write_frames(path, "fps", ["a", "b", "c"], frames, n_valid)
    return path, frames, n_valid


def test_round_trip_is_close_to_the_original_frames(shard) -> None:
    path, frames, n_valid = shard
    store = fs.FrameStore([path])
    assert list(store.clip_ids) == ["a", "b", "c"] and store.n_valid.tolist() == [5, 2, 0]
    assert store.sampler == "fps" and store.clip_shape == (5, 64, 64, 3)
    decoded = np.stack([store.read(i) for i in range(3)])
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    # A photo squeezed to 64 px is the worst case (every pixel detail, saturated chroma
    # halved by 4:2:0): above 30 dB at quality 95.
    assert psnr(decoded[0], frames[0]) > 30
    assert psnr(decoded[1, :2], frames[1, :2]) > 30


def test_real_video_frames_lose_little(tmp_path: Path, fixtures_dir: Path) -> None:
    # UCF101's own frames, TSN-sampled at the workflow's 224 x 224: about 45 dB, more than
    # ten times smaller than raw.
    frames = sample_tsn(fixtures_dir / "clips" / "test.avi", n_segments=5, short_side=256,
                        crop=224)
    fs.write_frames(tmp_path / "ucf.npz", "tsn", ["v"], frames[None])
    decoded = fs.FrameStore([tmp_path / "ucf.npz"]).read(0)
    assert psnr(decoded, frames) > 40
    assert (tmp_path / "ucf.npz").stat().st_size < frames.nbytes / 8


def test_reads_decode_only_the_frames_asked_for(shard, monkeypatch) -> None:
    path, frames, _ = shard
    decodes = []
    imdecode = cv2.imdecode
    monkeypatch.setattr(fs.cv2, "imdecode", lambda *a: decodes.append(1) or imdecode(*a))
    store = fs.FrameStore([path])
    assert not decodes  # opening reads no image
    whole = fs.FrameStore([path]).read(0)
    decodes.clear()
    part = store.read(0, [4, 1, 4])
    assert len(decodes) == 2  # a repeated frame is decoded once
    np.testing.assert_array_equal(part, whole[[4, 1, 4]])
    with pytest.raises(IndexError):
        store.read(0, [5])


def test_padding_is_zeros_and_never_stored(shard) -> None:
    path, _, _ = shard
    store = fs.FrameStore([path])
    with np.load(path) as data:
        assert len(data["offsets"]) == 5 + 2 + 1  # real frames only
    b = store.read(1)
    assert b[:2].mean() > 20 and not b[2:].any()
    assert not store.read(2).any() and store.read(2, [0, 3]).shape == (2, 64, 64, 3)


def test_clips_layout_and_select(tmp_path: Path) -> None:
    frames = photo_clips(2, 6, 32).reshape(2, 3, 2, 32, 32, 3)  # 3 windows of 2 frames
    frames[1, 1:] = 0
    fs.write_frames(tmp_path / "w.npz", "clips", ["x", "y"], frames, np.array([3, 1]))
    fs.write_frames(tmp_path / "w2.npz", "clips", ["z"], frames[:1])
    store = fs.FrameStore([tmp_path / "w.npz", tmp_path / "w2.npz"])
    assert store.frames_per_item == 2 and store.clip_shape == (3, 2, 32, 32, 3)
    picked = store.select(["z", "y"])
    assert list(picked.clip_ids) == ["z", "y"] and picked.n_valid.tolist() == [3, 1]
    np.testing.assert_array_equal(picked.read(0), store.read(0))
    assert picked.read(1, [0, 2]).shape == (2, 2, 32, 32, 3) and not picked.read(1)[1:].any()
    assert psnr(picked.read(1, [0])[0], frames[1, 0]) > 30
    with pytest.raises(KeyError, match="'q' is not in the frames shards"):
        store.select(["q"])
    fs.write_frames(tmp_path / "other.npz", "fps", ["q"], frames[:1, :, 0])
    with pytest.raises(fs.FrameStoreError, match="the first shard's clips"):
        fs.FrameStore([tmp_path / "w.npz", tmp_path / "other.npz"])


def test_an_empty_shard(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    with fs.FrameShardWriter(path, "tsn", (3, 8, 8, 3)):
        pass
    store = fs.FrameStore([path])
    assert len(store) == 0 and store.clip_shape == (3, 8, 8, 3)
    assert np.load(path)["clip_id"].shape == (0,)
    # Beside other shards, it holds no place.
    frames = np.full((2, 3, 8, 8, 3), 100, np.uint8)
    frames[1] = 200
    fs.write_frames(tmp_path / "full.npz", "tsn", ["a", "b"], frames)
    store = fs.FrameStore([path, tmp_path / "full.npz", path])
    assert list(store.clip_ids) == ["a", "b"]
    np.testing.assert_array_equal(store.read(1), frames[1])


def test_tsn_views_layout(tmp_path: Path) -> None:
    """A tsn shard with TSN's training views: clips (1 + V, T, H, W, 3), each view an
    item of T frames; beside it, an old (T, H, W, 3) tsn shard reads as before."""
    frames = photo_clips(2, 12, 32).reshape(2, 3, 4, 32, 32, 3)  # 1 + 2 views of 4
    fs.write_frames(tmp_path / "views.npz", "tsn", ["a", "b"], frames)
    store = fs.FrameStore([tmp_path / "views.npz"])
    assert store.clip_shape == (3, 4, 32, 32, 3) and store.frames_per_item == 4
    assert store.n_valid.tolist() == [3, 3]
    assert store.read(1).shape == (3, 4, 32, 32, 3)
    assert psnr(store.read(1, [2])[0], frames[1, 2]) > 30
    assert psnr(store.read(0), frames[0]) > 30
    fs.write_frames(tmp_path / "plain.npz", "tsn", ["c"], frames[:1, 0])
    assert fs.FrameStore([tmp_path / "plain.npz"]).clip_shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="not the tsn sampler's"):
        fs.FrameShardWriter(tmp_path / "x.npz", "tsn", (2, 3, 4, 32, 32, 3))


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="do not fit"):
        with fs.FrameShardWriter(tmp_path / "s.npz", "fps", (2, 8, 8, 3)) as writer:
            writer.add("a", np.zeros((2, 8, 8, 3), np.uint8))
            writer.add("b", np.zeros((3, 8, 8, 3), np.uint8))  # longer than T
    assert list(tmp_path.iterdir()) == []


def test_corrupt_shards_give_a_clear_error(shard, tmp_path: Path) -> None:
    path, _, _ = shard
    data = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(fs.FrameStoreError, match="truncated or corrupt.*delete it"):
        fs.FrameStore([truncated])
    # An image's bytes overwritten: found when that frame is read. (A JPEG's entropy-coded
    # data cannot hold FF D8, so the second FF D8 FF starts frame 1's image.)
    start = data.index(b"\xff\xd8\xff", data.index(b"\xff\xd8\xff") + 1)
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(data[:start] + b"\x00" * 64 + data[start + 64 :])
    store = fs.FrameStore([damaged])
    store.read(0, [0])  # the frames before it read
    with pytest.raises(fs.FrameStoreError, match="clip a's frame at byte .* corrupt"):
        store.read(0, [1])
    raw = tmp_path / "raw.npz"
    np.savez(raw, clip_id=np.array(["a"]), frames=np.zeros((1, 2, 4, 4, 3), np.uint8))
    with pytest.raises(fs.FrameStoreError, match="raw-frames shard"):
        fs.FrameStore([raw])


class Frames(torch.utils.data.Dataset):
    def __init__(self, store: fs.FrameStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.store.read(i))


def test_the_store_travels_to_worker_processes(shard) -> None:
    path, _, _ = shard
    store = fs.FrameStore([path])
    store.read(0, [0])  # opened here: a copy must open its own
    copy = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(copy.read(1), store.read(1))
    loaded = list(DataLoader(Frames(store), batch_size=None, num_workers=2))
    np.testing.assert_array_equal(torch.stack(loaded).numpy(),
                                  np.stack([store.read(i) for i in range(3)]))
