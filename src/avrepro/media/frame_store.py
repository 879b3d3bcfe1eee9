"""The frames store: a shard of sampled frames as one JPEG image per stored frame.

A shard is an uncompressed `.npz` (so `np.load(path)["clip_id"]` still lists its clips)
holding, for its N clips:
- `format` (): FORMAT, which tells this layout from the raw-frames shards of before;
- `clip_id` (N,) str and `n_valid` (N,) int64, each clip's real items;
- `sampler` () str, the media stage's sampler ("tsn", "clips" or "fps"), and
  `clip_shape` (ndim,) int64, its layout of one clip, (T, ..., H, W, 3): (T, H, W, 3) for
  "tsn" and "fps", (T, frames_per_clip, H, W, 3) for "clips", and (1 + V, T, H, W, 3) for
  "tsn" with V random training views (media.frames.pick_tsn), whose items are the views;
- `jpeg` (bytes,) uint8, the JPEG images of the real items' frames one after another,
  clip by clip, item by item, and `offsets` (M + 1,) int64, where frame k's image lies
  (jpeg[offsets[k]:offsets[k + 1]]).
Items past a clip's n_valid are not stored: they read as zeros, as the raw shards held.

Why JPEG: the raw shards took H x W x 3 bytes a frame (UCF51's tsn25 store about 25 GB,
Moments in Time's fps6 about 270 GB); rawframe datasets (TSN's dense_flow, mmaction2's
build_rawframes and denseflow) store every frame as a JPEG for the same reason, at
OpenCV's default quality, 95, which we keep: the networks were trained and evaluated on
frames so stored, and at 95 the loss sits well below what the sources' own video coding
left (tests/unit/test_frame_store.py bounds it). OpenCV encodes and decodes (libjpeg-turbo;
Pillow, the other encoder installed, writes byte-identical files at the same settings).

`FrameShardWriter` writes a shard a clip at a time, spooling the images to a temporary
file, so that a job never holds a shard's frames; `FrameStore` opens shards lazily and
decodes only the frames asked for, with positioned reads on its own file descriptors,
reopened in each process that reads it (DataLoader workers).
"""

import copy
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from avrepro.features.store import array_location

FORMAT = "avrepro-jpeg-frames-1"
JPEG_QUALITY = 95
# The samplers (media.shards) and the axes their clip_shape may have (tsn: 5 with views).
SAMPLER_AXES = {"tsn": (4, 5), "clips": (5,), "fps": (4,)}
_SMALL_KEYS = ("format", "sampler", "clip_id", "n_valid", "clip_shape", "offsets")
_SOI, _EOI = b"\xff\xd8", b"\xff\xd9"  # a JPEG's first and last two bytes


class FrameStoreError(ValueError):
    """A frames shard that cannot be read: not one, truncated or corrupt."""


def encode_jpeg(frame: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 RGB frame as a JPEG at JPEG_QUALITY."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"OpenCV could not encode a frame of shape {frame.shape} as JPEG")
    return encoded.tobytes()


class FrameShardWriter:
    """Write one frames shard, a clip at a time; the shard appears whole on `close`.

        with FrameShardWriter(path, sampler, clip_shape) as shard:
            shard.add(clip_id, items)  # (n_valid, *clip_shape[1:]) uint8, n_valid <= T

    Leaving the block by an exception writes nothing.
    """

    def __init__(self, path: Path, sampler: str, clip_shape: Sequence[int]) -> None:
        self.path, self.sampler = Path(path), sampler
        self.clip_shape = tuple(int(s) for s in clip_shape)
        if sampler not in SAMPLER_AXES:
            raise ValueError(f"sampler {sampler!r} is not one of {sorted(SAMPLER_AXES)}")
        if len(self.clip_shape) not in SAMPLER_AXES[sampler] or self.clip_shape[-1] != 3:
            raise ValueError(f"clip_shape {self.clip_shape} is not the {sampler} sampler's "
                             "(T, ..., H, W, 3)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Beside the target, so that a large shard spools on the disk it is written to.
        self._spool = tempfile.TemporaryFile(dir=self.path.parent, prefix=f".{self.path.name}.")
        self._offsets, self._ids, self._n_valid = [0], [], []

    def add(self, clip_id: str, items: np.ndarray) -> None:
        if items.shape[1:] != self.clip_shape[1:] or len(items) > self.clip_shape[0]:
            raise ValueError(f"clip {clip_id}: items {items.shape} do not fit clip_shape "
                             f"{self.clip_shape}")
        if items.dtype != np.uint8:
            raise ValueError(f"clip {clip_id}: frames must be uint8, got {items.dtype}")
        for frame in items.reshape(-1, *self.clip_shape[-3:]):
            encoded = encode_jpeg(np.ascontiguousarray(frame))
            self._spool.write(encoded)
            self._offsets.append(self._offsets[-1] + len(encoded))
        self._ids.append(clip_id)
        self._n_valid.append(len(items))

    def close(self) -> None:
        """Write the shard: to a temporary name beside it, then renamed (atomic)."""
        arrays = {"format": np.array(FORMAT), "sampler": np.array(self.sampler),
                  "clip_id": np.array(self._ids, dtype=str),
                  "n_valid": np.array(self._n_valid, dtype=np.int64),
                  "clip_shape": np.array(self.clip_shape, dtype=np.int64),
                  "offsets": np.array(self._offsets, dtype=np.int64)}
        tmp_path = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with zipfile.ZipFile(tmp_path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                for key, array in arrays.items():
                    with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
                # The images go from the spool in chunks, never all in memory.
                self._spool.seek(0)
                with archive.open("jpeg.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array_header_2_0(member, {
                        "descr": "|u1", "fortran_order": False, "shape": (self._offsets[-1],)})
                    shutil.copyfileobj(self._spool, member, 1 << 22)
            os.replace(tmp_path, self.path)
        finally:
            tmp_path.unlink(missing_ok=True)
            self._spool.close()

    def __enter__(self) -> "FrameShardWriter":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self._spool.close()


def write_frames(path: Path, sampler: str, clip_ids: Sequence[str], frames: np.ndarray,
                 n_valid: np.ndarray | None = None) -> None:
    """A shard of frames held in memory (tests, benchmarks): frames (N, T, ..., H, W, 3)
    uint8, whose clip i has n_valid[i] real items (default: all T)."""
    n_valid = np.full(len(frames), frames.shape[1]) if n_valid is None else n_valid
    with FrameShardWriter(path, sampler, frames.shape[1:]) as shard:
        for clip_id, items, n in zip(clip_ids, frames, n_valid, strict=True):
            shard.add(str(clip_id), items[:n])


class FrameStore:
    """The clips of some frames shards, in their order (or `select`'s): clip ids, n_valid
    and the layout in memory, the images left on disk until `read` decodes them.

    Picklable: a copy opens the shards again in the process it is used in.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError("a frames store needs at least one shard")
        ids, n_valid, shard, first, self._offsets = [], [], [], [], []
        for s, path in enumerate(self.paths):
            meta = _open_shard(path)
            layout = (meta["sampler"], meta["clip_shape"])
            if s and layout != (self.sampler, self.clip_shape):
                raise FrameStoreError(f"{path}: {layout[0]} clips of shape {layout[1]}, the "
                                      f"first shard's {self.sampler} {self.clip_shape}")
            self.sampler, self.clip_shape = layout
            ids.append(meta["clip_id"])
            n_valid.append(meta["n_valid"])
            shard.append(np.full(len(meta["clip_id"]), s))
            stored = meta["n_valid"] * self.frames_per_item  # frames of each clip
            first.append(np.cumsum(stored) - stored)
            self._offsets.append(meta["data_offset"] + meta["offsets"])  # absolute
        self.clip_ids = np.concatenate(ids)
        self.n_valid = np.concatenate(n_valid)
        self._shard = np.concatenate(shard)
        self._first = np.concatenate(first)
        self._files: dict[int, int] = {}
        self._pid = os.getpid()

    @property
    def frames_per_item(self) -> int:
        """Frames one item holds: 1, frames_per_clip for the "clips" sampler, or the
        segments of a "tsn" view."""
        return int(np.prod(self.clip_shape[1:-3], dtype=np.int64))

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return self.clip_shape[-3:]

    def __len__(self) -> int:
        return len(self.clip_ids)

    def select(self, clip_ids: Sequence[str]) -> "FrameStore":
        """The store of `clip_ids`, in that order (nothing is read); KeyError names a clip
        the shards lack."""
        position = dict(zip(self.clip_ids, range(len(self)), strict=True))
        try:
            index = np.array([position[c] for c in clip_ids], dtype=np.int64)
        except KeyError as error:
            raise KeyError(f"clip {error} is not in the frames shards {self.paths[:1]}..."
                           ) from None
        chosen = copy.copy(self)  # through __getstate__: descriptors of its own
        for key in ("clip_ids", "n_valid", "_shard", "_first"):
            setattr(chosen, key, getattr(self, key)[index])
        return chosen

    def read(self, i: int, items: Sequence[int] | None = None) -> np.ndarray:
        """Clip i's `items` (default: all T), decoded: (len(items), *clip_shape[1:]) uint8,
        zeros for an item past the clip's n_valid. A repeated item is decoded once."""
        length = self.clip_shape[0]
        items = np.arange(length) if items is None else np.asarray(items, dtype=np.int64)
        if items.size and (items.min() < 0 or items.max() >= length):
            raise IndexError(f"items {items.tolist()} outside a clip's {length}")
        out = np.zeros((len(items), *self.clip_shape[1:]), np.uint8)
        real = np.flatnonzero(items < self.n_valid[i])
        unique, inverse = np.unique(items[real], return_inverse=True)
        per = self.frames_per_item
        for u, item in enumerate(unique):
            first = self._first[i] + item * per
            decoded = np.stack([self._decode(i, first + f) for f in range(per)])
            out[real[inverse == u]] = decoded.reshape(self.clip_shape[1:])
        return out

    def _decode(self, i: int, frame: int) -> np.ndarray:
        s = int(self._shard[i])
        start, stop = self._offsets[s][frame], self._offsets[s][frame + 1]
        data = os.pread(self._fd(s), int(stop - start), int(start))
        image = None
        if data[:2] == _SOI and data[-2:] == _EOI and len(data) == stop - start:
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
        if image is None or image.shape != self.frame_shape:
            raise FrameStoreError(f"{self.paths[s]}: clip {self.clip_ids[i]}'s frame at byte "
                                  f"{start} is not a {self.frame_shape} JPEG: the shard is "
                                  "corrupt; delete it so that the media stage writes it anew")
        return image

    def _fd(self, s: int) -> int:
        if self._pid != os.getpid():  # a forked copy: descriptors of its own
            self._files, self._pid = {}, os.getpid()
        if s not in self._files:
            self._files[s] = os.open(self.paths[s], os.O_RDONLY)
        return self._files[s]

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_files": {}, "_pid": None}

    def __del__(self) -> None:
        if getattr(self, "_pid", None) == os.getpid():
            for fd in self._files.values():
                os.close(fd)


def _open_shard(path: Path) -> dict:
    """A shard's small arrays, its layout and where its images start in the file."""
    try:
        with np.load(path) as data:
            if "format" not in data.files:
                raise FrameStoreError(
                    f"{path}: not a JPEG frames shard ({sorted(data.files)}): a raw-frames "
                    "shard of an older avrepro? Delete it so that the media stage writes it "
                    "anew")
            meta = {key: data[key] for key in _SMALL_KEYS}
        location = array_location(path, "jpeg")
        size = os.path.getsize(path)
    except (OSError, KeyError, EOFError, zipfile.BadZipFile, ValueError) as error:
        if isinstance(error, FrameStoreError):
            raise
        raise FrameStoreError(f"{path}: not a readable frames shard (truncated or corrupt: "
                              f"{error}); delete it so that the media stage writes it anew"
                              ) from error
    if str(meta["format"]) != FORMAT:
        raise FrameStoreError(f"{path}: format {meta['format']}, this avrepro reads {FORMAT}")
    meta["clip_shape"] = tuple(int(s) for s in meta["clip_shape"])
    meta["sampler"] = str(meta["sampler"])
    offsets, n_frames = meta["offsets"], int(meta["n_valid"].sum()) * int(
        np.prod(meta["clip_shape"][1:-3], dtype=np.int64))
    mismatch = FrameStoreError(f"{path}: its image offsets do not match its {n_frames} "
                               "frames and image bytes (truncated or corrupt); delete it so "
                               "that the media stage writes it anew")
    if location is None:  # the images stored compressed: no shard this module wrote
        raise mismatch
    shape, _, _, data_offset = location
    if (len(offsets) != n_frames + 1 or offsets[0] != 0 or np.any(np.diff(offsets) <= 0)
            or shape != (offsets[-1],) or data_offset + offsets[-1] > size):
        raise mismatch
    meta["data_offset"] = data_offset
    return meta
