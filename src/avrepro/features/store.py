"""The feature store: one .npz per (dataset, extractor, shard) holding `features` and
the `clip_id` of each row (the row index), written atomically. Stores of window features
(MAFnet's one-second windows) also hold `n_valid`, each clip's count of real windows;
stores of augmented inputs `views`, each clip's features of every augmented view
(MAiVAR's flipped audio images: (N, V, dim), and its TSN snippets: (N, V, K, dim), view 0
the unaugmented `features`).

Shards are written uncompressed, so a reader can memory-map them (open_array) and read
only the rows it needs: `open_windows` does so for window stores, whose maps can be far
larger than memory (MAFnet's DenseNet-201 maps of Kinetics-Sounds: about 41 GB)."""

import mmap
import os
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def write_shard(
    path: Path,
    clip_ids: Sequence[str],
    features: np.ndarray,
    n_valid: np.ndarray | None = None,
    views: np.ndarray | None = None,
) -> None:
    if len(clip_ids) != len(features):
        raise ValueError(f"{path}: {len(clip_ids)} clip ids for {len(features)} feature rows")
    arrays = {"features": features, "clip_id": np.asarray(clip_ids, dtype=str)}
    if n_valid is not None:
        if len(n_valid) != len(features):
            raise ValueError(f"{path}: {len(n_valid)} window counts for {len(features)} rows")
        arrays["n_valid"] = np.asarray(n_valid, dtype=np.int64)
    if views is not None:
        if views.shape[0] != len(features) or views.shape[2:] != features.shape[1:]:
            raise ValueError(f"{path}: views {views.shape} do not match features "
                             f"{features.shape}")
        arrays["views"] = views
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def read_store(shards: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the shards of one store: (clip_id (N,), features (N, ...))."""
    ids, feats, _ = _read(shards, windows=False)
    return ids, feats


def read_views(shards: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the augmented views of a store's shards: (clip_id (N,), views (N, V, ...))."""
    ids, views = [], []
    for shard in shards:
        with np.load(shard) as data:
            if "views" not in data:
                raise ValueError(f"{shard}: holds no augmented views (extracted without them)")
            ids.append(data["clip_id"])
            views.append(data["views"])
    if not ids:
        raise ValueError("a store needs at least one shard")
    return np.concatenate(ids), np.concatenate(views)


def read_windows(shards: Sequence[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate the shards of a window store: (clip_id (N,), features (N, T, ...),
    n_valid (N,))."""
    return _read(shards, windows=True)


def _read(shards: Sequence[Path], windows: bool):
    ids, feats, counts = [], [], []
    for shard in shards:
        with np.load(shard) as data:
            if windows and "n_valid" not in data:
                raise ValueError(f"{shard}: not a window store (no n_valid)")
            ids.append(data["clip_id"])
            feats.append(data["features"])
            if windows:
                counts.append(data["n_valid"])
    if not ids:
        raise ValueError("a store needs at least one shard")
    n_valid = np.concatenate(counts) if windows else None
    return np.concatenate(ids), np.concatenate(feats), n_valid


def array_location(path: Path, key: str) -> tuple[tuple, bool, np.dtype, int] | None:
    """Where array `key` of an .npz lies in the file: (shape, Fortran order, dtype, byte
    offset of its data), or None when the array is compressed (no offset to read it at).
    KeyError when the .npz holds no such array."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{key}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        # The zip local header: 30 bytes, then the member's name and an extra field.
        name_len, extra_len = struct.unpack("<HH", handle.read(30)[26:30])
        handle.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(handle)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(handle)
        return shape, fortran, dtype, handle.tell()


def open_array(path: Path, key: str) -> np.ndarray:
    """Array `key` of an .npz: memory-mapped when stored uncompressed (np.savez, as every
    shard is written), read whole otherwise. MiT mini's stored frames are about 270 GB,
    more than memory; a run reads the few frames each batch needs."""
    try:
        location = array_location(path, key)
    except KeyError:
        raise ValueError(f"{path}: no array {key!r} (is it the right kind of shard?)") from None
    if location is None:
        with np.load(path) as data:
            return data[key]
    shape, fortran, dtype, offset = location
    if not np.prod(shape):
        return np.zeros(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C")


@dataclass(frozen=True)
class WindowStore:
    """A window store left in its shards: clip ids and window counts in memory, the
    features memory-mapped, read a few rows at a time. Indexing with integer rows reads
    them, as indexing the concatenated array would (read_windows); `select` makes a
    store of some rows without reading any.

    Clip i is row rows[i] of features[shards[i]].
    """

    clip_ids: np.ndarray  # (N,) str
    n_valid: np.ndarray  # (N,) real windows of each clip
    features: list[np.ndarray]  # per shard (n, T, ...), memory-mapped
    shards: np.ndarray  # (N,)
    rows: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.clip_ids)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.features[0].shape[1:])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.features[0].dtype

    def select(self, index: np.ndarray) -> "WindowStore":
        """The store of clips `index` (integer positions), in that order; nothing is read."""
        index = np.asarray(index, dtype=np.int64)
        return WindowStore(self.clip_ids[index], self.n_valid[index], self.features,
                           self.shards[index], self.rows[index])

    def __getitem__(self, index) -> np.ndarray:
        """The features of clips `index` (integer positions, or a slice), in that order."""
        index = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        out = np.empty((len(index), *self.shape[1:]), self.dtype)
        for s, array in enumerate(self.features):
            mine = np.flatnonzero(self.shards[index] == s)
            if not len(mine):
                continue
            # Rows in file order, so that a batch reads each shard front to back.
            order = np.argsort(self.rows[index[mine]], kind="stable")
            out[mine[order]] = array[self.rows[index[mine[order]]]]
            _release(array)
        return out


def _release(array: np.ndarray) -> None:
    """Drop a memory map's pages from this process's resident set. The pages a read touched
    would otherwise stay mapped, and count towards the job's RSS (and SLURM's accounting
    of it) until the kernel reclaims them, so a job that reads its whole store each epoch
    would appear to hold the store. They stay in the page cache for the next read."""
    if isinstance(array.base, mmap.mmap):
        array.base.madvise(mmap.MADV_DONTNEED)


def open_windows(shards: Sequence[Path]) -> WindowStore:
    """The window store of these shards, in their order, without reading its features."""
    ids, counts, arrays, shard_of, rows = [], [], [], [], []
    for i, shard in enumerate(shards):
        with np.load(shard) as data:
            if "n_valid" not in data:
                raise ValueError(f"{shard}: not a window store (no n_valid)")
            ids.append(data["clip_id"])
            counts.append(data["n_valid"])
        arrays.append(open_array(shard, "features"))
        if arrays[-1].shape[1:] != arrays[0].shape[1:] or arrays[-1].dtype != arrays[0].dtype:
            raise ValueError(f"{shard}: features {arrays[-1].dtype} {arrays[-1].shape[1:]} per "
                             f"clip, the first shard's {arrays[0].dtype} {arrays[0].shape[1:]}")
        shard_of.append(np.full(len(ids[-1]), i))
        rows.append(np.arange(len(ids[-1])))
    if not ids:
        raise ValueError("a store needs at least one shard")
    return WindowStore(np.concatenate(ids), np.concatenate(counts), arrays,
                       np.concatenate(shard_of), np.concatenate(rows))
