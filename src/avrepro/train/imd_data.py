"""IMD's clips (Alfasly et al., CVPR 2022, §3.2-3.6, §4.1): what one training sample or
one test clip gives the network, read from the stored frames, flow fields and AST outputs.

A training sample (§4.1; the sampling and augmentation of TimeSformer's training, whose
configs IMD's numbers are, facebookresearch/TimeSformer, slowfast/datasets):
- `frames` frames `stride` stored frames apart from a random start (decoder.py,
  get_start_end_idx with clip_idx -1), past the clip's last real frame the last one
  repeating (a short clip);
- one crop for all of them (utils.spatial_sampling): the frame's short side rescaled to a
  random size in `jitter` (TRAIN_JITTER_SCALES [256, 320]), a random `input_size` square
  (TRAIN_CROP_SIZE 224) cut from it, mirrored with probability 1/2. We cut the same
  square from the stored frame and resize only it: the same picture for less work;
- flow: the field that leaves each sampled frame (the flow store pairs field t with frame
  t), cropped and mirrored with its frame, a mirrored field's x component negated;
- the clip's AST embedding and relevance target (`relevance_target`); with intra-class
  cross-modality augmentation (IMD*, §3.6) those of a random training clip of the same
  class that has audio.
A test clip gives `views`: `test_clips` temporal clips (TimeSformer's 4, starts spread
over the clip) x `test_crops` spatial crops (3: the ends and the centre of the longer
side, uniform_crop) of its frames, its short side rescaled to `test_scale`.

Values: RGB as 0-1 minus 0.5 over 0.5 (RGB_MEAN, RGB_STD, below); flow in units of the
store's bound (dequantised pixels over the bound: 2 v / 255 - 1 whatever the bound), so
within [-1, 1], as TSN-style networks read flow images.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from avrepro.features.store import open_array
from avrepro.media.flow import dequantize_flow
from avrepro.media.frame_store import FrameStore

# The ImageNet-21k ViT-B/16 that IMD starts from (google-research/vision_transformer,
# whose input pipeline maps pixels to [-1, 1]; timm's vit_base_patch16_224_in21k lists
# mean = std = 0.5) saw its pixels so, and the network's first layer is those weights.
# (TimeSformer's Kinetics configs keep SlowFast's 0.45 / 0.225, a leftover of CNNs trained
# from scratch; the paper is silent.)
RGB_MEAN = (0.5, 0.5, 0.5)
RGB_STD = (0.5, 0.5, 0.5)
OVERLAPS = ("iou", "dice")


@dataclass(frozen=True)
class Sampling:
    """What a clip gives the network (module docstring)."""

    frames: int = 8
    stride: int = 1  # stored frames from one sampled frame to the next
    input_size: int = 224  # the network's square input (TimeSformer's crop size)
    jitter: tuple[int, int] = (256, 320)  # the short side's range before the training crop
    # The short side before the test crops. TimeSformer rescales it to the crop size, so its
    # three crops span all of a 224 short side; of a square frame they would be one crop.
    # The jitter's low end instead: the scale training saw most at its smallest, and three
    # distinct crops of a square (left, centre, right).
    test_scale: int = 256
    test_clips: int = 4
    test_crops: int = 3


# ---------------------------------------------------------------------------------------
# The relevance target (§3.4, §4.2.3).


def set_overlap(a: set, b: set, overlap: str) -> float:
    """IoU |A n B| / |A u B| or Dice 2 |A n B| / (|A| + |B|) (Table 4's two losses)."""
    if not a or not b:
        return 0.0
    common = len(a & b)
    if overlap == "iou":
        return common / len(a | b)
    if overlap == "dice":
        return 2 * common / (len(a) + len(b))
    raise ValueError(f"overlap {overlap!r} is not one of {OVERLAPS}")


def normalise_targets(overlaps: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """Overlaps scaled to [0, 1] by the least and greatest of those in `fit` (bool (N,):
    the training clips with audio), clipped outside them.

    §4.2.3: "The overlap is then normalized between 0 and 1 to match the sigmoidal
    prediction of RN". IoU and Dice already lie in [0, 1], so the normalisation must
    stretch what they reach, which is little: a clip's Y_a = 20 AST labels and its class's
    K = 10 dictionary labels share a few at most (IoU <= 0.5 even when ten are shared), and
    divided by that bound the overlaps would still sit below Table 4's thresholds (0.25 -
    0.75), dropping nearly every clip's audio. We take the min-max scaling over the
    training clips, the usual reading of "normalized between 0 and 1"; then alpha = 0.5
    splits the overlaps seen in training in the middle."""
    lo, hi = (overlaps[fit].min(), overlaps[fit].max()) if fit.any() else (0.0, 0.0)
    if hi <= lo:  # every training clip overlaps alike: nothing to tell them apart by
        return np.zeros_like(overlaps)
    return np.clip((overlaps - lo) / (hi - lo), 0, 1).astype(np.float32)


def relevance_target(probs: np.ndarray, class_labels: Sequence[str],
                     dictionary: Mapping[str, Sequence[str]], k: int, y_a: int, overlap: str,
                     *, audio_labels: Sequence[str]) -> np.ndarray:
    """Each clip's overlap (N,) float32 (`set_overlap`, before `normalise_targets`) of A,
    AST's top-y_a AudioSet labels (by probs (N, 527), whose columns are audio_labels), with
    B, the dictionary's first k audio labels of the clip's video label (class_labels (N,)).
    Clips without audio have no target to compute: their 0 is the caller's (open_audio)."""
    names = np.asarray(audio_labels, dtype=object)
    if probs.shape[1] != len(names):
        raise ValueError(f"probs have {probs.shape[1]} columns, audio_labels {len(names)}")
    missing = set(class_labels) - set(dictionary)
    if missing:
        raise ValueError(f"the dictionary has no row for video labels {sorted(missing)[:5]}")
    top = np.argsort(-np.asarray(probs), axis=1, kind="stable")[:, :y_a]  # (N, y_a)
    wanted = {label: set(dictionary[label][:k]) for label in set(class_labels)}
    return np.array([set_overlap(set(names[row]), wanted[label], overlap)
                     for row, label in zip(top, class_labels, strict=True)], dtype=np.float32)


# ---------------------------------------------------------------------------------------
# Stores: rows of shards, memory-mapped in each process that reads them.


def index_shards(paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """clip_id (N,), shard (N,) and row (N,) of every clip the shards hold."""
    ids, shard, row = [], [], []
    for i, path in enumerate(paths):
        with np.load(path) as data:
            ids.append(data["clip_id"].astype(str))
        shard.append(np.full(len(ids[-1]), i))
        row.append(np.arange(len(ids[-1])))
    return np.concatenate(ids), np.concatenate(shard), np.concatenate(row)


def read_column(paths: Sequence[Path], key: str) -> np.ndarray:
    """One small array (n_valid, has_audio) of every shard, concatenated."""
    parts = []
    for path in paths:
        with np.load(path) as data:
            parts.append(data[key])
    return np.concatenate(parts)


class Shards:
    """Array `key` of clips left in their shards: self[i] is clip i's (memory-mapped) row.

    The arrays open on first use in each process, so that a DataLoader worker maps the
    files itself rather than receiving (pickled, copied) arrays."""

    def __init__(self, paths: Sequence[Path], key: str, shard: np.ndarray, row: np.ndarray):
        self.paths, self.key, self.shard, self.row = [Path(p) for p in paths], key, shard, row
        self._arrays: dict[int, np.ndarray] = {}

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_arrays": {}}

    def __getitem__(self, i: int) -> np.ndarray:
        s = int(self.shard[i])
        if s not in self._arrays:
            self._arrays[s] = open_array(self.paths[s], self.key)
        return self._arrays[s][self.row[i]]

    @property
    def width(self) -> int:
        """The size of a row's last axis (an embedding's dimension)."""
        return open_array(self.paths[0], self.key).shape[-1]


def select(paths: Sequence[Path], key: str, clip_ids: Sequence[str]) -> tuple[Shards, np.ndarray]:
    """The Shards of `clip_ids`, in their order, and for each its position in the shards'
    concatenated rows (for their small columns). KeyError names a clip they lack."""
    ids, shard, row = index_shards(paths)
    position = dict(zip(ids, range(len(ids)), strict=True))
    try:
        where = np.array([position[c] for c in clip_ids], dtype=np.int64)
    except KeyError as error:
        raise KeyError(f"clip {error} is not in the {key} shards {paths[:1]}...") from None
    return Shards(paths, key, shard[where], row[where]), where


# ---------------------------------------------------------------------------------------
# Sampling and cropping.


def frame_indices(n_valid: int, sampling: Sampling, start: int) -> np.ndarray:
    """The stored frames (T,) of the clip that starts at `start`; past the last real frame
    the last one repeats."""
    return np.minimum(start + sampling.stride * np.arange(sampling.frames), max(n_valid - 1, 0))


def _free(n_valid: int, sampling: Sampling) -> int:
    return max(n_valid - ((sampling.frames - 1) * sampling.stride + 1), 0)


def train_start(n_valid: int, sampling: Sampling, rng: np.random.Generator) -> int:
    return int(rng.integers(_free(n_valid, sampling) + 1))


def test_starts(n_valid: int, sampling: Sampling, clips: int) -> list[int]:
    """SlowFast's test clips (decoder.get_start_end_idx): start i at free * i / clips;
    a single clip (validation) from the middle."""
    free = _free(n_valid, sampling)
    if clips == 1:
        return [free // 2]
    return [int(free * i / clips) for i in range(clips)]


def train_box(height: int, width: int, sampling: Sampling,
              rng: np.random.Generator) -> tuple[int, int, int]:
    """(top, left, side) of the training square in stored pixels: the crop of a frame
    whose short side was rescaled to a size drawn from `jitter`
    (random_short_side_scale_jitter, then random_crop)."""
    size = int(round(rng.uniform(*sampling.jitter)))
    side = min(round(sampling.input_size * min(height, width) / size), height, width)
    return int(rng.integers(height - side + 1)), int(rng.integers(width - side + 1)), side


def test_boxes(height: int, width: int, sampling: Sampling,
               crops: int) -> list[tuple[int, int, int]]:
    """(top, left, side) of the test squares: spread from one end of the longer side to
    the other (the width of a square frame), centred across it (uniform_crop)."""
    side = min(round(sampling.input_size * min(height, width) / sampling.test_scale), height,
               width)
    along_width = width >= height
    free_along, free_across = (width - side, height - side) if along_width else (
        height - side, width - side)
    offsets = [free_along // 2] if crops == 1 else [
        int(round(x)) for x in np.linspace(0, free_along, crops)]
    return [(free_across // 2, o, side) if along_width else (o, free_across // 2, side)
            for o in offsets]


def render(items: np.ndarray, box: tuple[int, int, int], size: int) -> torch.Tensor:
    """Stored items (T, H, W, C) uint8 -> the box's square (T, C, size, size) float, resized
    bilinearly (as SlowFast's scale) when its side is not `size`."""
    top, left, side = box
    x = torch.from_numpy(np.ascontiguousarray(items[:, top : top + side, left : left + side]))
    x = x.permute(0, 3, 1, 2).float()
    if side != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


def normalise_rgb(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(RGB_MEAN).view(3, 1, 1)
    std = torch.tensor(RGB_STD).view(3, 1, 1)
    return (x / 255 - mean) / std


def flip(x: torch.Tensor, modality: str) -> torch.Tensor:
    """Mirror (..., C, H, W); a mirrored flow field moves the other way in x."""
    x = x.flip(-1)
    if modality == "flow":
        x[..., 0, :, :] = -x[..., 0, :, :]
    return x


# ---------------------------------------------------------------------------------------
# The dataset.


@dataclass
class Audio:
    """The AST store's side of the run's clips: embeddings (Shards of (D,) rows), whether
    each clip has audio (N,) and its relevance target (N,)."""

    embedding: Shards
    has_audio: np.ndarray
    target: np.ndarray


def open_audio(paths: Sequence[Path], clip_ids: Sequence[str], class_labels: Sequence[str],
               dictionary: Mapping[str, Sequence[str]] | None, relevance: dict | None,
               audio_labels: Sequence[str] | None) -> Audio:
    """The AST store's rows of clip_ids. With a dictionary and `relevance` ({k, y_a,
    overlap}) each clip's relevance target, else zeros (fusion baselines train no RN).
    Targets are made shard by shard: Kinetics' 527 probabilities of 260k clips would
    hold half a gigabyte."""
    embedding, where = select(paths, "embedding", clip_ids)
    has_audio = read_column(paths, "has_audio").astype(bool)[where]
    target = np.zeros(len(clip_ids), np.float32)
    if dictionary is not None and relevance is not None:
        labels = np.asarray(class_labels, dtype=object)
        for s, path in enumerate(paths):
            mine = np.flatnonzero((embedding.shard == s) & has_audio)
            if len(mine):
                probs = open_array(path, "probs")[np.sort(embedding.row[mine])]
                order = np.argsort(embedding.row[mine])
                target[mine[order]] = relevance_target(
                    probs, labels[mine[order]], dictionary, relevance["k"], relevance["y_a"],
                    relevance["overlap"], audio_labels=audio_labels)
    return Audio(embedding, has_audio, target)


class IMDClips(Dataset):
    """The run's clips. Training: dataset[(i, seed)] is a sample of clip i whose every
    random choice comes from `seed` (so that the same sample comes out in any worker and
    any process). Test: `views(i)`.

    A sample is a dict: rgb (T, 3, S, S), flow (T, 2, S, S), audio (D,) float32 for the
    modalities the run uses, and target () float32, label () int64, index () int64.
    """

    def __init__(self, labels: np.ndarray, sampling: Sampling, n_frames: np.ndarray,
                 frames: FrameStore | None = None, flow: Shards | None = None,
                 n_fields: np.ndarray | None = None, audio: Audio | None = None,
                 partners: dict[int, np.ndarray] | None = None) -> None:
        self.labels, self.sampling, self.n_frames = labels, sampling, n_frames
        self.frames, self.flow, self.n_fields, self.audio = frames, flow, n_fields, audio
        self.partners = partners  # IMD*: per class, the training clips with audio

    def __len__(self) -> int:
        return len(self.labels)

    def _sound(self, i: int) -> dict:
        emb = np.array(self.audio.embedding[i], dtype=np.float32)  # a copy, not the map
        if not self.audio.has_audio[i]:
            emb = np.zeros_like(emb)  # no sound: zeros (the store's, made sure of)
        return {"audio": torch.from_numpy(emb), "target": torch.tensor(self.audio.target[i])}

    def _visual(self, i: int, starts: list[int], boxes: list[tuple],
                mirrored: bool) -> dict[str, torch.Tensor]:
        """The clips from `starts` x the `boxes`: (V, T, C, S, S) per visual modality."""
        out, s = {}, self.sampling.input_size
        index = [frame_indices(int(self.n_frames[i]), self.sampling, t) for t in starts]
        if self.frames is not None:  # only the frames the clips take are decoded
            stored = [self.frames.read(i, ix) for ix in index]
            out["rgb"] = torch.stack([normalise_rgb(render(frames, box, s))
                                      for frames in stored for box in boxes])
        if self.flow is not None:
            n = int(self.n_fields[i])
            if n == 0:  # a single frame: no motion
                v = len(index) * len(boxes)
                out["flow"] = torch.zeros(v, self.sampling.frames, 2, s, s)
            else:
                stored = self.flow[i]
                # Bound 1: the fields in units of the store's bound.
                out["flow"] = torch.stack([render(dequantize_flow(stored[np.minimum(ix, n - 1)],
                                                                  1.0), box, s)
                                           for ix in index for box in boxes])
        if mirrored:
            out = {m: flip(x, m) for m, x in out.items()}
        return out

    def _shape(self, i: int) -> tuple[int, int]:
        return self.frames.frame_shape[:2] if self.frames is not None else self.flow[i].shape[1:3]

    def __getitem__(self, item: tuple[int, int]) -> dict[str, torch.Tensor]:
        i, seed = item
        rng = np.random.default_rng(seed)
        sample = {"label": torch.tensor(int(self.labels[i])), "index": torch.tensor(i)}
        if self.frames is not None or self.flow is not None:
            start = train_start(int(self.n_frames[i]), self.sampling, rng)
            box = train_box(*self._shape(i), self.sampling, rng)
            mirrored = bool(rng.random() < 0.5)
            sample |= {m: x[0] for m, x in self._visual(i, [start], [box], mirrored).items()}
        if self.audio is not None:
            pool = self.partners.get(int(self.labels[i])) if self.partners else None
            sample |= self._sound(int(rng.choice(pool)) if pool is not None and len(pool) else i)
        return sample

    def views(self, i: int, clips: int | None = None, crops: int | None = None) -> dict:
        """Test views of clip i: (clips x crops, T, C, S, S) per visual modality (clip-major;
        by default Sampling's test_clips x test_crops), with the clip's own audio."""
        clips = clips or self.sampling.test_clips
        crops = crops or self.sampling.test_crops
        sample = {"label": torch.tensor(int(self.labels[i])), "index": torch.tensor(i)}
        if self.frames is not None or self.flow is not None:
            starts = test_starts(int(self.n_frames[i]), self.sampling, clips)
            boxes = test_boxes(*self._shape(i), self.sampling, crops)
            sample |= self._visual(i, starts, boxes, mirrored=False)
        if self.audio is not None:
            sample |= self._sound(i)
        return sample


class Views(Dataset):
    """Dataset of the test views of some clips (`IMDClips.views`)."""

    def __init__(self, clips: IMDClips, index: np.ndarray, n_clips: int | None = None,
                 n_crops: int | None = None) -> None:
        self.clips, self.index, self.n_clips, self.n_crops = clips, index, n_clips, n_crops

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, j: int) -> dict:
        return self.clips.views(int(self.index[j]), self.n_clips, self.n_crops)


def partners(labels: np.ndarray, train: np.ndarray, has_audio: np.ndarray) -> dict[int, np.ndarray]:
    """IMD*'s pool (§3.6): per class, the training clips that have audio. "Each audio
    modality sample [may] be paired with any visual modality sample among the same class"
    (§1), so a clip's own audio is among the draws; a class with no sounding training
    clip keeps every clip's own (silent) audio."""
    pool = train & has_audio
    return {int(c): np.flatnonzero(pool & (labels == c)) for c in np.unique(labels[train])}


def sample_seed(seed: int, epoch: int, clip: int) -> int:
    """The seed of clip `clip`'s sample in epoch `epoch` (each clip is drawn once an
    epoch): the same in every process, worker and resumed run, whatever the GPU count."""
    return int(np.random.SeedSequence([seed, epoch, clip]).generate_state(1)[0])
