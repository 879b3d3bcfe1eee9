"""Feature-store shards round-trip, window stores keep their window counts, and a window
store read lazily from its memory-mapped shards gives the rows the concatenated store has."""

import re
from pathlib import Path

import numpy as np
import pytest

from avrepro.features.store import (
    WindowStore,
    open_array,
    open_windows,
    read_store,
    read_views,
    read_windows,
    write_shard,
)


def test_shards_concatenate_in_order(tmp_path):
    write_shard(tmp_path / "a.npz", ["x", "y"], np.array([[1.0], [2.0]]))
    write_shard(tmp_path / "b.npz", ["z"], np.array([[3.0]]))
    ids, feats = read_store([tmp_path / "a.npz", tmp_path / "b.npz"])
    assert ids.tolist() == ["x", "y", "z"] and feats[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert not list(tmp_path.glob("*.tmp*"))  # written through a renamed temporary


def test_window_stores_keep_each_clips_count(tmp_path):
    maps = np.zeros((2, 4, 3, 2, 2), np.float16)  # (N, T, C, H, W), float16 on disk
    write_shard(tmp_path / "w.npz", ["x", "y"], maps, n_valid=np.array([4, 2]))
    ids, feats, n_valid = read_windows([tmp_path / "w.npz"])
    assert feats.shape == (2, 4, 3, 2, 2) and feats.dtype == np.float16
    assert n_valid.tolist() == [4, 2]


def test_mismatched_rows_and_plain_stores_read_as_windows_are_refused(tmp_path):
    with pytest.raises(ValueError, match="2 clip ids for 1 feature rows"):
        write_shard(tmp_path / "a.npz", ["x", "y"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="1 window counts for 2 rows"):
        write_shard(tmp_path / "a.npz", ["x", "y"], np.zeros((2, 2)), n_valid=np.array([1]))
    write_shard(tmp_path / "p.npz", ["x"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="p.npz: not a window store"):
        read_windows([tmp_path / "p.npz"])


def test_augmented_views_are_kept_beside_the_features(tmp_path):
    views = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)  # (N, V, dim)
    write_shard(tmp_path / "v.npz", ["x", "y"], views[:, 0], views=views)
    ids, read = read_views([tmp_path / "v.npz"])
    assert ids.tolist() == ["x", "y"] and np.array_equal(read, views)
    assert np.array_equal(read_store([tmp_path / "v.npz"])[1], views[:, 0])
    with pytest.raises(ValueError, match="views .* do not match"):
        write_shard(tmp_path / "w.npz", ["x", "y"], views[:, 0], views=views[:1])
    write_shard(tmp_path / "p.npz", ["x"], np.zeros((1, 3)))
    with pytest.raises(ValueError, match="holds no augmented views"):
        read_views([tmp_path / "p.npz"])


def test_open_array_maps_stored_shards_and_reads_compressed_ones(tmp_path):
    data = np.arange(2 * 3 * 4 * 4 * 2, dtype=np.uint8).reshape(2, 3, 4, 4, 2)
    np.savez(tmp_path / "a.npz", clip_id=np.array(["a", "b"]), flow=data)
    np.savez_compressed(tmp_path / "b.npz", clip_id=np.array(["a", "b"]), flow=data)
    mapped = open_array(tmp_path / "a.npz", "flow")
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, data)
    compressed = open_array(tmp_path / "b.npz", "flow")
    assert not isinstance(compressed, np.memmap) and np.array_equal(compressed, data)
    with pytest.raises(ValueError, match="no array 'frames'"):
        open_array(tmp_path / "a.npz", "frames")


def window_shards(tmp_path, sizes=(5, 0, 3), shape=(4, 3, 2, 2)):
    """Shards of random float16 window maps (an empty one among them), with their
    concatenation as read_windows reads it."""
    rng = np.random.default_rng(0)
    paths, start = [], 0
    for i, n in enumerate(sizes):
        paths.append(tmp_path / f"shard-{i}.npz")
        write_shard(paths[-1], [f"c{start + j}" for j in range(n)],
                    rng.normal(size=(n, *shape)).astype(np.float16),
                    n_valid=rng.integers(1, shape[0] + 1, n))
        start += n
    return paths, read_windows(paths)


def test_a_window_store_reads_the_rows_asked_in_their_order(tmp_path):
    paths, (ids, feats, n_valid) = window_shards(tmp_path)
    store = open_windows(paths)
    assert all(isinstance(a, np.memmap) for a in store.features if a.size)  # nothing read
    assert store.shape == feats.shape and store.dtype == np.float16 and store.ndim == 5
    assert len(store) == 8 and list(store.clip_ids) == list(ids)
    assert np.array_equal(store.n_valid, n_valid)
    index = np.array([7, 0, 3, 5, 5, 1])  # across shards, out of order, repeated
    assert np.array_equal(store[index], feats[index])
    assert np.array_equal(store[2:6], feats[2:6]) and store[np.array([], int)].shape == (
        0, 4, 3, 2, 2)
    sub = store.select(index)
    assert isinstance(sub, WindowStore) and list(sub.clip_ids) == list(ids[index])
    assert np.array_equal(sub.n_valid, n_valid[index])
    assert np.array_equal(sub[np.array([4, 0])], feats[index][[4, 0]])
    assert np.array_equal(sub.select(np.array([1, 2]))[:], feats[index[1:3]])


def test_window_stores_of_other_kinds_or_mixed_shapes_are_refused(tmp_path):
    write_shard(tmp_path / "p.npz", ["x"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="p.npz: not a window store"):
        open_windows([tmp_path / "p.npz"])
    write_shard(tmp_path / "a.npz", ["x"], np.zeros((1, 3, 2), np.float16), n_valid=[3])
    write_shard(tmp_path / "b.npz", ["y"], np.zeros((1, 4, 2), np.float16), n_valid=[4])
    with pytest.raises(ValueError, match=re.escape("b.npz: features float16 (4, 2) per clip")):
        open_windows([tmp_path / "a.npz", tmp_path / "b.npz"])
    with pytest.raises(ValueError, match="at least one shard"):
        open_windows([])


def rss_file_kb() -> int:
    """The file-backed part of this process's resident set (mapped file pages)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"RssFile:\s+(\d+) kB", status).group(1))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_reading_a_window_store_leaves_its_pages_out_of_the_resident_set(tmp_path):
    # 64 MB of maps, read whole: without releasing the mapping's pages they would all stay
    # resident in this process (and count towards a job's RSS) after the read.
    write_shard(tmp_path / "w.npz", [f"c{i}" for i in range(64)],
                np.ones((64, 2, 256, 32, 16), np.float16), n_valid=np.full(64, 2))
    store = open_windows([tmp_path / "w.npz"])
    before = rss_file_kb()
    total = sum(store[np.array([i])].sum(dtype=np.float64) for i in range(len(store)))
    assert total == 64 * 2 * 256 * 32 * 16  # every row was read
    assert rss_file_kb() - before < 8 * 1024
