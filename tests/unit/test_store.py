"""Feature-store shards round-trip, window stores keep their window counts."""

import numpy as np
import pytest

from avrepro.features.store import read_store, read_views, read_windows, write_shard


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
