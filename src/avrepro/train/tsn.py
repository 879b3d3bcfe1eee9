"""Fine-tune one TSN stream on Moments in Time and extract its per-frame features: Lee et
al.'s `tsn_mod-{rgb,flow}` runs (avrepro.variants.audiogen; models.tsn for the network).

§3.2: "We fine-tune a pre-trained Temporal Segment Network (TSN) on MIT Dataset sampled at
6 FPS. The detailed settings are identical to TSN. After fine-tuning the network, we
utilize TSN as feature extractor to extract image and optical flow feature." So a run
trains as TSN trains (Wang et al., ECCV 2016; code: yjxiong/tsn-pytorch, whose README says
it keeps the Caffe release's settings, and yjxiong/temporal-segment-networks):
- each clip gives `segments` snippets, one drawn at random from each equal segment of
  the clip (dataset.py, _sample_indices); a flow snippet is `new_length` consecutive
  flow fields;
- augmentation (TSN §3.2, transforms.py GroupMultiScaleCrop and GroupRandomHorizontalFlip):
  one crop per clip, its sides drawn from `scales` times the frame's shorter side (the
  two sides at most one scale apart), at one of 13 fixed positions (corners, centre,
  edge centres, quarter points), resized to `input_size`; half the clips are mirrored,
  a mirrored x-flow field is inverted (255 - v);
- SGD with momentum, weight decay, TSN's per-group multipliers (TSN.optim_policies),
  gradient-norm clipping and a step schedule (lr / 10 at each of `lr_steps`);
- input normalisation of the Caffe BN-Inception: BGR, 0-255 minus (104, 117, 128) for
  RGB (tsn-pytorch models.py input_mean), flow values minus 128 (std 1 for both).

The data are the media stage's stored frames, already the 224 centre crop of a 256
short side (TSN crops from 340 x 256 frames), and the flow stage's fields between them: so
the multi-scale crops are taken from the stored 224 x 224 and resized back to 224.

Validation, model selection and test follow TSN as far as the stored data allow, see
`StoredClipsTSN` and `frame_outputs`. Every clip with frames is used, with sound or
without (clips.with_frames); a stratified holdout of the training clips selects the epoch.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from avrepro.data.manifest import read_manifest
from avrepro.features.backbones import TSN_CAFFE_NORMALIZATION
from avrepro.features.bninception import FEATURE_DIM
from avrepro.features.store import open_array, write_shard
from avrepro.features.weights import read_state_dict
from avrepro.media.frame_store import FrameStore
from avrepro.models.tsn import CHANNELS, TSN
from avrepro.train.clips import class_names, holdout, with_frames
from avrepro.train.loop import Schedule, Split, fit
from avrepro.train.metrics import classification_metrics
from avrepro.train.run_folder import fingerprint, predictions, write_run
from avrepro.variants.audiogen import STREAMS, parse

PAPER = "audiogen"
FEATURES_FILE = "frame_features.npz"
ZERO_MOTION = 128  # a quantised flow value of 0 (TV-L1 fields, bound 20, 128 ~ no motion)
RGB_MEAN_BGR = TSN_CAFFE_NORMALIZATION.mean


@dataclass(frozen=True)
class SGDSchedule:
    """TSN's optimisation (TSN §4.1; the Caffe solvers, tsn-pytorch main.py / opts.py)."""

    epochs: int
    batch_size: int  # clips (each gives `segments` snippets)
    lr: float
    lr_steps: list[int]  # epochs from which the lr is divided by 10 once more
    momentum: float
    weight_decay: float
    clip_grad: float | None = None  # max l2 norm of all gradients together

    def lr_factor(self, epoch: int) -> float:
        """tsn-pytorch main.py, adjust_learning_rate: 0.1 ** (steps passed)."""
        return 0.1 ** sum(epoch >= step for step in self.lr_steps)


@dataclass(frozen=True)
class Recipe:
    """What TSN's network sees of a clip."""

    modality: str  # rgb | flow
    segments: int
    new_length: int  # items a snippet stacks: 1 frame (rgb), new_length flow fields (flow)
    dropout: float
    scales: list[float]  # crop sides, as fractions of the frame's shorter side
    input_size: int
    partial_bn: bool = True


def stream_hparams(hparams: dict, stream: str) -> dict:
    """The hparams of one stream: the shared keys, overridden by those of the stream's own
    block (`rgb:` or `flow:`), since TSN's schedule, dropout and scales differ by stream."""
    shared = {k: v for k, v in hparams.items() if k not in STREAMS}
    return shared | hparams.get(stream, {})


def recipe_of(hparams: dict, stream: str) -> Recipe:
    return Recipe(modality=stream, segments=hparams["segments"],
                  new_length=hparams["new_length"] if stream == "flow" else 1,
                  dropout=hparams["dropout"], scales=list(hparams["scales"]),
                  input_size=hparams["input_size"],
                  partial_bn=hparams.get("partial_bn", True))


# ---------------------------------------------------------------------------------------
# Clips on disk.


class FlowShards:
    """Flow shards' fields (open_array: the flow stage compresses its 8-bit x/y fields,
    about 9x, so they are read whole): clip_ids, n_valid, clip_shape (T - 1, H, W, 2) and
    read(i, items), as a media.frame_store.FrameStore gives frames."""

    def __init__(self, paths: list[Path]) -> None:
        ids, n_valid, shards, rows, self.arrays = [], [], [], [], []
        for i, path in enumerate(paths):
            array = open_array(path, "flow")
            if array.ndim != 5 or array.shape[-1] != CHANNELS["flow"]:
                raise ValueError(f"{path}: flow has shape {array.shape}, expected "
                                 f"(N, T, H, W, {CHANNELS['flow']})")
            with np.load(path) as data:
                ids.append(data["clip_id"])
                n_valid.append(data["n_valid"])
            self.arrays.append(array)
            shards.append(np.full(len(array), i))
            rows.append(np.arange(len(array)))
        self.clip_ids, self.n_valid = np.concatenate(ids), np.concatenate(n_valid)
        self.shards, self.rows = np.concatenate(shards), np.concatenate(rows)
        self.clip_shape = self.arrays[0].shape[1:]

    def read(self, i: int, items: np.ndarray) -> np.ndarray:
        return self.arrays[self.shards[i]][self.rows[i]][items]


@dataclass(frozen=True)
class ClipStore:
    """The frames (rgb) or flow fields (flow) of a run's clips, left in their shards.

    Clip i is clip clips[i] of `source` (rgb: a FrameStore, decoding the frames a batch
    asks for; flow: FlowShards), whose layout is (T, H, W, C) uint8 and whose first
    n_items[i] items are real. Flow field t lies between frames t and t + 1; the flow
    snippet of frame t stacks the fields from t on, so a flow clip of n fields has n + 1
    frames, the RGB clip's count (the stores align frame by frame, Eq. 2).
    """

    modality: str
    source: FrameStore | FlowShards
    clips: np.ndarray  # (N,)
    n_items: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def n_frames(self) -> np.ndarray:
        return self.n_items + (self.modality == "flow")  # (N,)

    @property
    def length(self) -> int:
        """Frames of the longest clip the shards can hold (T, or T + 1 for flow)."""
        return self.source.clip_shape[0] + (self.modality == "flow")

    @property
    def frame_size(self) -> tuple[int, int]:
        return tuple(self.source.clip_shape[1:3])

    def subset(self, index: np.ndarray) -> "ClipStore":
        return ClipStore(self.modality, self.source, self.clips[index], self.n_items[index])

    def snippets(self, clips: np.ndarray, starts: np.ndarray, new_length: int) -> torch.Tensor:
        """uint8 (B, K, new_length * C, H, W): for each clip, the K snippets beginning at
        items starts (B, K), each new_length consecutive items, channels item by item
        (x1, y1, x2, y2, ... for flow, tsn-pytorch dataset.py). Past a clip's last real
        item the last one repeats, as TSN reads (dataset.py TSNDataSet.get; Caffe
        tools/eval_net.py clamps a flow stack to the video's end). A clip with no flow
        field (a single frame) has no motion: its snippets are zero motion."""
        n = self.n_items[clips]
        last = np.maximum(n - 1, 0)[:, None, None]
        index = np.minimum(starts[..., None] + np.arange(new_length), last)  # (B, K, L)
        b, (k, length) = len(clips), index.shape[1:]
        height, width = self.frame_size
        channels = self.source.clip_shape[-1]
        out = np.empty((b, k, length, height, width, channels), dtype=np.uint8)
        for i, clip in enumerate(clips):
            if n[i]:  # only the items the snippets take are read (decoded, for rgb)
                items = self.source.read(self.clips[clip], index[i].ravel())
                out[i] = items.reshape(k, length, height, width, channels)
            else:
                out[i] = ZERO_MOTION
        x = torch.from_numpy(out).permute(0, 1, 2, 5, 3, 4)  # (B, K, L, C, H, W)
        return x.reshape(b, k, length * channels, height, width)


def open_store(paths: list[Path], modality: str) -> tuple[np.ndarray, ClipStore]:
    """clip_id (N,) and the store of the clips of frames shards (rgb: the "fps"
    sampler's (T, H, W, 3) clips) or flow shards (flow: `flow` (n, T - 1, H, W, 2)),
    with n_valid."""
    if modality == "rgb":
        source = FrameStore(paths)
        if len(source.clip_shape) != 4:
            raise ValueError(f"{paths[0]}: clips of shape {source.clip_shape}, expected "
                             "(T, H, W, 3)")
    else:
        source = FlowShards(paths)
    return source.clip_ids, ClipStore(modality, source, np.arange(len(source.clip_ids)),
                                      source.n_valid)


# ---------------------------------------------------------------------------------------
# Sampling, augmentation, normalisation.


def train_starts(n_items: np.ndarray, segments: int, new_length: int,
                 generator: torch.Generator) -> np.ndarray:
    """Snippet starts (B, segments) for training (tsn-pytorch dataset.py, _sample_indices):
    the n - new_length + 1 possible starts split into `segments` equal parts, a random
    start in each; with fewer starts than segments, sorted random starts (or 0 for a
    clip shorter than that)."""
    span = np.maximum(n_items - new_length + 1, 1)  # (B,)
    per = span // segments
    u = torch.rand((len(n_items), segments), generator=generator, dtype=torch.float64).numpy()
    evenly = np.arange(segments) * per[:, None] + np.floor(u * per[:, None]).astype(np.int64)
    anywhere = np.sort(np.floor(u * span[:, None]).astype(np.int64), axis=1)
    return np.where((per > 0)[:, None], evenly,
                    np.where((n_items > segments)[:, None], anywhere, 0))


def val_starts(n_items: np.ndarray, segments: int, new_length: int) -> np.ndarray:
    """Snippet starts (B, segments) for validation (dataset.py, _get_val_indices): the
    middle of each segment; 0 for a clip with fewer starts than segments."""
    tick = (n_items - new_length + 1) / segments  # (B,)
    middle = (tick[:, None] / 2 + tick[:, None] * np.arange(segments)).astype(np.int64)
    return np.where((n_items > segments + new_length - 1)[:, None], middle, 0)


# fill_fix_offset's positions in quarters of the free margin: corners, centre, edge
# centres, then the four quarter points.
CROP_GRID = ((0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0),
             (1, 1), (3, 1), (1, 3), (3, 3))


def crop_candidates(height: int, width: int, scales: list[float],
                    input_size: int) -> tuple[list[tuple[int, int]], list[list[tuple]]]:
    """GroupMultiScaleCrop's choices (transforms.py, max_distort 1, fix_crop and
    more_fix_crop): crop sides (w, h), and for each the 13 fixed (x, y) offsets."""
    base = min(height, width)
    sides = [int(base * s) for s in scales]
    sides = [input_size if abs(s - input_size) < 3 else s for s in sides]
    pairs = [(w, h) for i, h in enumerate(sides) for j, w in enumerate(sides) if abs(i - j) <= 1]
    offsets = []
    for w, h in pairs:
        dx, dy = (width - w) // 4, (height - h) // 4
        offsets.append([(i * dx, j * dy) for i, j in CROP_GRID])
    return pairs, offsets


def augment(x: torch.Tensor, recipe: Recipe, generator: torch.Generator) -> torch.Tensor:
    """Training augmentation of float snippets (B, K, C, H, W), raw 0-255 values: per
    clip (all its snippets alike) a multi-scale corner crop resized to input_size and a
    mirror with probability 1/2, which inverts x-flow channels -> (B, K, C, S, S)."""
    pairs, offsets = crop_candidates(x.shape[-2], x.shape[-1], recipe.scales, recipe.input_size)
    size = (recipe.input_size, recipe.input_size)
    out = []
    for clip in x:  # (K, C, H, W)
        pair = int(torch.randint(len(pairs), (1,), generator=generator))
        (w, h), (left, top) = pairs[pair], offsets[pair][
            int(torch.randint(len(offsets[pair]), (1,), generator=generator))]
        crop = nn.functional.interpolate(clip[:, :, top : top + h, left : left + w], size=size,
                                         mode="bilinear", align_corners=False)
        if float(torch.rand((), generator=generator)) < 0.5:
            crop = crop.flip(-1)
            if recipe.modality == "flow":  # x motion changes sign (transforms.py)
                crop[:, 0::2] = 255 - crop[:, 0::2]
        out.append(crop)
    return torch.stack(out)


def fit_size(x: torch.Tensor, input_size: int) -> torch.Tensor:
    """Test-time input: the whole stored frame (TSN's centre crop, already taken by the
    media stage), resized to input_size if stored at another size. (B, K, C, H, W)."""
    if x.shape[-2:] == (input_size, input_size):
        return x
    b, k = x.shape[:2]
    resized = nn.functional.interpolate(x.flatten(0, 1), size=(input_size, input_size),
                                        mode="bilinear", align_corners=False)
    return resized.view(b, k, *resized.shape[1:])


def normalise(x: torch.Tensor, modality: str) -> torch.Tensor:
    """Raw 0-255 snippets (B, K, C, H, W) -> the Caffe BN-Inception's input: RGB frames
    in BGR order minus the channel means, flow minus 128 (tsn-pytorch models.py
    input_mean / input_std, transforms.py Stack(roll=True); Caffe mean_value 128)."""
    if modality == "flow":
        return x - float(ZERO_MOTION)
    frames = x.unflatten(2, (-1, 3)).flip(3)  # (B, K, L, 3, H, W), BGR
    mean = torch.tensor(RGB_MEAN_BGR, device=x.device).view(3, 1, 1)
    return (frames - mean).flatten(2, 3)


# ---------------------------------------------------------------------------------------
# The network on stored clips.


class StoredClipsTSN(nn.Module):
    """A TSN fed from a ClipStore: forward(clip indexes (B,)) -> class scores (B, classes).

    forward is TSN's validation (tsn-pytorch main.py, val_loader): the middle snippet of
    each segment, the whole stored frame, segment consensus; loop.fit validates with it.
    Its state is the TSN's, under `tsn.`.
    """

    def __init__(self, tsn: TSN, store: ClipStore, recipe: Recipe) -> None:
        super().__init__()
        self.tsn = tsn
        self.store = store
        self.recipe = recipe

    def inputs(self, clips: np.ndarray, starts: np.ndarray,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Normalised snippets (B, K, C, S, S) on the network's device; augmented when a
        generator is given (training)."""
        device = self.tsn.new_fc.weight.device
        x = self.store.snippets(clips, starts, self.recipe.new_length).to(device).float()
        x = augment(x, self.recipe, generator) if generator is not None else fit_size(
            x, self.recipe.input_size)
        return normalise(x, self.recipe.modality)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        clips = clips.cpu().numpy()
        starts = val_starts(self.store.n_items[clips], self.recipe.segments,
                            self.recipe.new_length)
        return self.tsn(self.inputs(clips, starts))


def tsn_step(model: StoredClipsTSN, inputs, labels, generator):
    """A loop.fit train_step: TSN's sampled, augmented snippets of the batch's clips,
    their segment consensus and cross-entropy. All draws come from the epoch's generator;
    dropout draws from torch's own, which the step seeds from it, so that a resumed run
    replays the same masks."""
    (clips,) = inputs
    clips = clips.cpu().numpy()
    r = model.recipe
    starts = train_starts(model.store.n_items[clips], r.segments, r.new_length, generator)
    x = model.inputs(clips, starts, generator)
    torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
    scores = model.tsn(x)  # (B, classes)
    return nn.functional.cross_entropy(scores, labels), scores


def sgd(tsn: TSN, schedule: SGDSchedule) -> torch.optim.SGD:
    """SGD on TSN's parameter groups, each at its multiple of the lr and weight decay."""
    groups = [{"params": g["params"], "name": g["name"], "lr": schedule.lr * g["lr_mult"],
               "weight_decay": schedule.weight_decay * g["decay_mult"]}
              for g in tsn.optim_policies() if g["params"]]
    return torch.optim.SGD(groups, lr=schedule.lr, momentum=schedule.momentum)


@torch.no_grad()
def frame_outputs(model: StoredClipsTSN, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every clip's per-frame features, float16 (N, T, 1024), zero past its n_frames, and
    its class scores (N, classes), the mean of its frames' scores.

    The features are the trunk's pooled output, v_{r,t} or v_{f,t} of Lee et al.'s Eq. 1:
    for RGB frame t itself, for flow the stack of new_length fields from t on (clamped at
    the clip's end, see ClipStore.snippets). The scores follow TSN's test protocol
    (tsn-pytorch test_models.py, Caffe tools/eval_net.py: 25 frames or stacks spread over
    the video, 10 crops each, their class scores averaged before any softmax) scaled to
    what is stored: a 3 s clip has fewer than 25 frames, so every frame (stack) is
    scored, and only the stored centre crop exists.
    """
    model.eval()
    store, tsn = model.store, model.tsn
    length = store.length
    features = np.zeros((len(store), length, FEATURE_DIM), dtype=np.float16)
    scores = np.zeros((len(store), tsn.new_fc.out_features), dtype=np.float32)
    # As many snippets per forward pass as a training batch has: batch_size clips.
    step = max(1, batch_size * model.recipe.segments // length)
    for start in tqdm(range(0, len(store), step), desc="frame features", unit="batch",
                      mininterval=5):
        clips = np.arange(start, min(start + step, len(store)))
        x = model.inputs(clips, np.broadcast_to(np.arange(length), (len(clips), length)))
        f = tsn.features(x.flatten(0, 1)).view(len(clips), length, -1)  # (B, T, 1024)
        n = torch.from_numpy(store.n_frames[clips]).to(f.device)
        real = (torch.arange(length, device=f.device) < n[:, None])[..., None]  # (B, T, 1)
        f = f * real
        features[clips] = f.cpu().numpy().astype(np.float16)
        scores[clips] = ((tsn.new_fc(f) * real).sum(1) / n[:, None]).cpu().numpy()
    return features, scores


# ---------------------------------------------------------------------------------------
# The run.


def run_tsn(
    variant: str,
    manifest_path: Path,
    inputs: list[Path],
    frames_indexes: list[Path],
    hparams: dict,
    seed: int,
    out_dir: Path,
    weights: Path | None = None,
    device: str = "cpu",
    checkpoint_interval_s: float = 300.0,
) -> dict:
    """Fine-tune a TSN stream and write its run folder: metrics.json (last), history.csv,
    predictions.parquet (test clips, every class's probability), model.pt, config.yaml
    (+ checkpoint.pt) and frame_features.npz, a window store of every clip it used
    (train, val and test): features float16 (N, T, 1024), n_valid = the clip's frames.

    inputs: frames shards (tsn_mod-rgb: `frames` (N, T, H, W, 3)) or flow shards
    (tsn_mod-flow: `flow` (N, T - 1, H, W, 2)), with n_valid. frames_indexes: the
    media stage's frames shard indexes (the clips whose frames decoded). weights: TSN's
    Kinetics-400 BN-Inception (registry "tsn_bninception"), for both streams: Lee et al.
    fine-tune "a pre-trained TSN" and this is the pre-trained TSN the suite has (None:
    random, smoke tier). hparams: val_fraction, segments, new_length, dropout, scales,
    input_size, partial_bn (optional) and `schedule` (SGDSchedule), each shared or in
    the stream's own `rgb:` / `flow:` block (stream_hparams).

    The best validation epoch is kept (fit's selection, as tsn-pytorch main.py keeps
    model_best by validation accuracy), although TSN's schedule is fixed: on MiT the
    holdout costs little and guards against the last epoch overfitting.
    """
    v = parse(variant)
    if v.model != "tsn":
        raise ValueError(f"{variant!r} is not a TSN stream (tsn_mod-rgb or tsn_mod-flow)")
    h = stream_hparams(hparams, v.stream)
    schedule = SGDSchedule(**h["schedule"])
    recipe = recipe_of(h, v.stream)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(manifest_path)
    classes = class_names(manifest)
    ids, store = open_store(inputs, v.stream)
    rows = with_frames(manifest, frames_indexes)
    rows = rows[rows.clip_id.isin(ids)].reset_index(drop=True)
    position = dict(zip(ids, range(len(ids)), strict=True))
    store = store.subset(np.array([position[c] for c in rows.clip_id], dtype=np.int64))
    labels = rows.label_index.to_numpy()
    val = holdout(rows, h["val_fraction"])
    split = rows.split.to_numpy()
    masks = {"train": (split == "train") & ~val, "val": val, "test": split == "test"}
    splits = [Split((torch.from_numpy(np.flatnonzero(masks[s])),),
                    torch.from_numpy(labels[masks[s]]).long()) for s in ("train", "val", "test")]

    torch.manual_seed(seed)
    tsn = TSN(len(classes), v.stream, recipe.new_length, recipe.dropout, recipe.partial_bn)
    if weights is not None:
        tsn.load_pretrained(read_state_dict(weights), source=f"weights file {weights}")
    model = StoredClipsTSN(tsn, store, recipe)
    run_config = {
        "variant": variant, "seed": seed, "classes": classes, "schedule": asdict(schedule),
        "recipe": asdict(recipe), "val_fraction": h["val_fraction"],
        "inputs": [str(p) for p in inputs], "weights": str(weights) if weights else None,
    }
    result = fit(model, *splits,
                 schedule=Schedule(schedule.epochs, schedule.batch_size, schedule.lr,
                                   weight_decay=schedule.weight_decay),
                 seed=seed, checkpoint=out_dir / "checkpoint.pt",
                 checkpoint_interval_s=checkpoint_interval_s, device=torch.device(device),
                 fingerprint=fingerprint(run_config, [*inputs, *([weights] if weights else [])]),
                 train_step=tsn_step, optimizer=lambda m: sgd(m.tsn, schedule),
                 lr_factor=schedule.lr_factor, max_grad_norm=schedule.clip_grad)
    model.load_state_dict(result.best_state)
    features, scores = frame_outputs(model, schedule.batch_size)
    write_shard(out_dir / FEATURES_FILE, rows.clip_id.tolist(), features, store.n_frames)

    test = masks["test"]
    probs = torch.softmax(torch.from_numpy(scores[test]), dim=1).numpy()
    tested = predictions(rows.clip_id.to_numpy()[test], labels[test], probs)
    metrics = {
        "paper": PAPER, "variant": variant, "seed": seed,
        **classification_metrics(labels[test], probs, classes),
        "best_epoch": result.best_epoch,
        "val_accuracy": 100 * result.history[result.best_epoch]["val_acc"],
        "clips": {"train": int(masks["train"].sum()), "val": int(val.sum()),
                  "test": int(test.sum()), "listed": len(manifest),
                  "unusable": len(manifest) - len(rows)},
    }
    record = {"variant": variant, "n_classes": len(classes), "recipe": asdict(recipe),
              "state": {k.removeprefix("tsn."): v for k, v in result.best_state.items()},
              "best_epoch": result.best_epoch}
    return write_run(out_dir, record, tested, result.history, run_config, metrics)
