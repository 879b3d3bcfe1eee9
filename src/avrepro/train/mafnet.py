"""Train one MAFnet-paper run (MAFnet, an ablation of it, Attention Cluster or DMRN) on
frozen window features and write its run folder.

Variants (avrepro.naming grammar):
  mafnet_fusion-{f}_att-{a}_film-{l}_drop-{p}   MAFnet; every key always present, in this
      order, so that one configuration has one name:
        f  visual | audio | add | concat | mcb | dmr       (Table 2)
        a  none | temp | mod | both                        (Table 3)
        l  none | res | both | audio | visual              (Table 4; none: no residual block)
        p  rate at which a batch's update of the visual path is dropped, written as
           Python's `{p:g}` writes it: 0, 0.1, 0.25 (Figure 6)
      e.g. the full model: mafnet_fusion-concat_att-both_film-audio_drop-0.1
  attcluster                                    Attention Cluster (Long et al.)
  dmrn                                          DMRN (Tian et al.)

Dropping the visual update (§3.6, "we randomly drop the upgrade of the visual path, to
train more the audio path"): for a dropped batch the visual path's parameters are set not
to require gradients while the forward pass runs, so the autograd graph does not reach
them, their .grad stays None after backward (the loop zeroes gradients to None), and
torch.optim.Adam skips every parameter whose grad is None: no step, no moment update, no
weight decay. Everything else (the audio path, the FiLM generator that conditions it,
attention, classifier) is updated as usual. This is the authors' code (train.py) in one
optimiser: it alternates Adam optimisers over all variables and over all but the visual
path's ("image") variables. The visual path's batch-norm statistics still follow the
batch, as they do in the authors' graph.
"""

import hashlib
import json
import os
from collections.abc import Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from avrepro.data.manifest import read_manifest
from avrepro.features.store import WindowStore, open_windows
from avrepro.models.attention_cluster import AttentionCluster
from avrepro.models.dmrn import DMRN
from avrepro.models.mafnet import MAFnet, check_config
from avrepro.naming import format_variant, parse_variant
from avrepro.train.clips import assemble, decodable, holdout
from avrepro.train.loop import Schedule, Split, TrainStep, cross_entropy_step, evaluate, fit
from avrepro.train.run_folder import predictions, write_run

BASELINES = {"attcluster": AttentionCluster, "dmrn": DMRN}
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Variant:
    """A parsed variant name: the model and, for MAFnet, its switches and drop rate."""

    model: str
    fusion: str | None = None
    attention: str | None = None
    film: str | None = None
    drop: float = 0.0

    @property
    def name(self) -> str:
        if self.model != "mafnet":
            return self.model
        return format_variant("mafnet", fusion=self.fusion, att=self.attention, film=self.film,
                              drop=f"{self.drop:g}")


def parse(name: str) -> Variant:
    """The Variant a name stands for; ValueError for unknown or non-canonical names."""
    model, options = parse_variant(name)
    if model in BASELINES:
        if options:
            raise ValueError(f"variant {name!r}: {model} takes no options, got {sorted(options)}")
        return Variant(model)
    if model != "mafnet":
        raise ValueError(f"variant {name!r}: unknown model {model!r}; known: mafnet, "
                         f"{', '.join(BASELINES)}")
    keys = ["fusion", "att", "film", "drop"]
    if list(options) != keys:
        raise ValueError(f"variant {name!r}: a MAFnet variant has the keys {keys}, in this "
                         f"order, got {list(options)}")
    try:
        drop = float(options["drop"])
    except ValueError:
        raise ValueError(f"variant {name!r}: drop {options['drop']!r} is not a number") from None
    if not 0.0 <= drop <= 1.0:
        raise ValueError(f"variant {name!r}: drop rate {drop} is not in [0, 1]")
    if options["fusion"] in ("visual", "audio") and drop:
        raise ValueError(f"variant {name!r}: dropping the visual update needs both paths; "
                         "use drop-0 with a one-path fusion")
    check_config(options["fusion"], options["att"], options["film"])
    variant = Variant("mafnet", options["fusion"], options["att"], options["film"], drop)
    if variant.name != name:
        raise ValueError(f"variant {name!r}: write it {variant.name!r}")
    return variant


def build_model(variant: str, n_classes: int, audio_dim: int, visual_dim: int,
                **model_kwargs) -> nn.Module:
    """The network of `variant` for features of these widths; `model_kwargs` go to its
    constructor (MAFnet: hidden, mcb_dim, bn_momentum; attcluster: units, dropout; dmrn:
    lstm_hidden, attention_hidden)."""
    v = parse(variant)
    dims = {"n_classes": n_classes, "audio_dim": audio_dim, "visual_dim": visual_dim}
    if v.model == "mafnet":
        return MAFnet(fusion=v.fusion, attention=v.attention, film=v.film, **dims, **model_kwargs)
    return BASELINES[v.model](**dims, **model_kwargs)


@contextmanager
def frozen(module: nn.Module):
    """Parameters of `module` do not require gradients inside the block."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def drop_visual_step(rate: float) -> TrainStep:
    """A loop.fit train_step: cross-entropy, with the visual path's update dropped for a
    share `rate` of the batches (drawn from the loop's per-epoch generator, so a resumed
    run drops the same batches)."""

    def step(model, inputs, labels, generator):
        dropped = torch.rand((), generator=generator).item() < rate
        with frozen(model.visual) if dropped else nullcontext():
            logits = model(*inputs)
        return nn.functional.cross_entropy(logits, labels), logits

    return step


# Clips whose windows are scanned at once where a whole split is read (the padding check,
# pooling maps a model does not need): about 180 MB of DenseNet-201 maps at the full
# tier, whatever the dataset's size.
CHUNK = 64


@dataclass
class Clips:
    """The videos of one split: T one-second windows each, zeros past a video's length.

    `audio` and `visual` are a features.store.WindowStore (load_clips: the maps stay in
    their shards and are read a batch at a time, so a run's memory does not grow with the
    dataset) or arrays of the same shape (tests, small data)."""

    clip_ids: np.ndarray  # (N,) str
    audio: WindowStore | np.ndarray  # (N, T, 512, 12, 8) VGGish conv4_2 maps (any (N, T, C, H, W))
    visual: WindowStore | np.ndarray  # (N, T, 1920, 7, 7) DenseNet-201 maps (any (N, T, C, H, W))
    lengths: np.ndarray  # (N,) windows that hold the video (MAFnet zero-pads the rest)
    labels: np.ndarray  # (N,) class index

    def check(self, split: str) -> None:
        """ValueError naming the split and array when the arrays do not fit together."""
        n = len(self.clip_ids)
        for key in ("audio", "visual", "lengths", "labels"):
            if len(getattr(self, key)) != n:
                raise ValueError(f"{split}: {key} has {len(getattr(self, key))} rows for "
                                 f"{n} clip ids")
        for key in ("audio", "visual"):
            if getattr(self, key).ndim != 5:
                raise ValueError(f"{split}: {key} must be (N, T, C, H, W), got "
                                 f"{getattr(self, key).shape}")
        t = self.audio.shape[1]
        if self.visual.shape[1] != t:
            raise ValueError(f"{split}: audio has {t} windows, visual {self.visual.shape[1]}")
        if n and (self.lengths.min() < 1 or self.lengths.max() > t):
            raise ValueError(f"{split}: lengths must lie in [1, {t}]")
        for key in ("audio", "visual"):
            for start in range(0, n, CHUNK):
                chunk = slice(start, start + CHUNK)
                padding = np.arange(t)[None, :] >= self.lengths[chunk, None]  # (B, T)
                if np.any(getattr(self, key)[chunk][padding]):
                    raise ValueError(f"{split}: {key} windows past a video's length must be "
                                     "zeros (MAFnet zero-pads shorter videos)")

    def split(self, needs_maps: dict[str, bool]) -> Split:
        """Inputs (audio, visual) for the loop: maps a model needs are read a batch at a
        time (Windows); maps it does not need are pooled now, a chunk at a time, which is
        what the model's first operation would do, to read them once rather than every
        epoch ((N, T, C) float32: 2.1 GB for Kinetics-Sounds' 21,945 clips, both
        modalities pooled; the maps would take 63 GB in float16)."""
        inputs = tuple(
            Windows(getattr(self, key)) if needs_maps[key] else pooled(getattr(self, key))
            for key in ("audio", "visual")
        )
        return Split(inputs=inputs, labels=torch.from_numpy(self.labels).long())


class Windows:
    """A split's maps as a loop input (train.loop.Split): indexing it with a batch's clip
    indices reads those clips' maps, as indexing a tensor of them all would."""

    def __init__(self, maps: WindowStore | np.ndarray):
        self.maps = maps

    def __len__(self) -> int:
        return len(self.maps)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.maps.shape)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        # Stores keep maps in float16 (AVE's visual maps are 7.8 GB so); models take float32.
        return torch.from_numpy(self.maps[np.asarray(index)].astype(np.float32))


def pooled(maps: WindowStore | np.ndarray) -> torch.Tensor:
    """(N, T, C, H, W) maps averaged over space, (N, T, C) float32, read CHUNK clips at a
    time."""
    out = np.empty(maps.shape[:3], np.float32)
    for start in range(0, len(maps), CHUNK):
        chunk = slice(start, start + CHUNK)
        out[chunk] = maps[chunk].mean(axis=(-2, -1), dtype=np.float32)
    return torch.from_numpy(out)


def load_clips(
    manifest_path: Path,
    audio_shards: Sequence[Path],
    visual_shards: Sequence[Path],
    media_indexes: dict[str, Sequence[Path]],
    val_fraction: float,
) -> dict[str, Clips]:
    """The train, val and test Clips of a dataset from its manifest and window stores,
    whose maps stay in their shards (features.store.open_windows).

    The clips are those with usable audio and video (train.clips.assemble), so that every
    variant, one-path or fused, is compared on the same clips. A clip's length is its
    longer modality's count of windows (the other is zero-padded, as MAFnet pads short
    videos). AVE has its own validation split; for datasets without one (UCF101,
    Kinetics) a stratified `val_fraction` of train is held out (train.clips.holdout).
    """
    manifest = read_manifest(manifest_path)
    decoded = decodable(media_indexes["audio"], media_indexes["frames"])
    stores = {"audio": open_windows(audio_shards), "visual": open_windows(visual_shards)}
    # Aligned on the stores' row positions rather than their maps, which are not read here.
    rows, aligned = assemble(
        manifest,
        {key: (store.clip_ids, np.arange(len(store))) for key, store in stores.items()},
        decoded,
    )
    split = rows.split.to_numpy()
    if not (split == "val").any():
        split = np.where(holdout(rows, val_fraction), "val", split)
    lengths = np.maximum(stores["audio"].n_valid[aligned["audio"]],
                         stores["visual"].n_valid[aligned["visual"]])
    return {
        name: Clips(
            clip_ids=rows.clip_id.to_numpy()[split == name],
            audio=stores["audio"].select(aligned["audio"][split == name]),
            visual=stores["visual"].select(aligned["visual"][split == name]),
            lengths=lengths[split == name],
            labels=rows.label_index.to_numpy()[split == name],
        )
        for name in SPLITS
    }


def _fingerprint(run_config: dict, splits: dict[str, Clips], sources: Sequence[Path]) -> str:
    """Digest of the run's definition, its clips and labels, and its input files' identity."""
    digest = hashlib.sha256(json.dumps(run_config, sort_keys=True, default=str).encode())
    for name in SPLITS:
        clips = splits[name]
        for array in (clips.clip_ids.astype(str), clips.lengths, clips.labels):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(str((clips.audio.shape, clips.visual.shape)).encode())
    for path in sorted(str(p) for p in sources):
        digest.update(f"{path}:{os.stat(path).st_size}:{os.stat(path).st_mtime_ns}".encode())
    return digest.hexdigest()


def load_model(path: Path) -> nn.Module:
    """A trained run's model (its best epoch), in eval mode."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(saved["variant"], saved["n_classes"], **saved["dims"],
                        **saved["model_kwargs"])
    model.load_state_dict(saved["state"])
    return model.eval()


def run(
    variant: str,
    dataset: str,
    splits: dict[str, Clips],
    n_classes: int,
    hparams: dict,
    seed: int,
    out_dir: Path,
    device: str = "cpu",
    checkpoint_interval_s: float = 300.0,
    sources: Sequence[Path] = (),
) -> dict:
    """Train `variant` on `splits` (train, val, test) and write metrics.json, history.csv,
    predictions.parquet, model.pt and config.yaml into `out_dir` (plus checkpoint.pt, the
    resumable training state). The epoch with the best validation accuracy is kept.

    hparams: `schedule` (train.loop.Schedule's fields; MAFnet §4.3: Adam at 1e-3,
    patience 50) and `model` (keyword arguments of the model, see build_model).
    `sources`: the input files, whose size and mtime enter the checkpoint fingerprint.
    """
    v = parse(variant)
    missing = [name for name in SPLITS if name not in splits]
    if missing:
        raise ValueError(f"run {variant}: splits {missing} missing")
    for name in SPLITS:
        splits[name].check(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    schedule = Schedule(**hparams["schedule"])
    model_kwargs = dict(hparams.get("model", {}))
    dims = {"audio_dim": splits["train"].audio.shape[2],
            "visual_dim": splits["train"].visual.shape[2]}

    torch.manual_seed(seed)
    model = build_model(variant, n_classes, **dims, **model_kwargs)
    train, val, test = (splits[name].split(model.needs_maps) for name in SPLITS)
    run_config = {"variant": variant, "dataset": dataset, "seed": seed, "n_classes": n_classes,
                  "dims": dims, "model": model_kwargs, "schedule": asdict(schedule),
                  "sources": [str(p) for p in sources]}
    result = fit(
        model, train, val, test, schedule=schedule, seed=seed,
        checkpoint=out_dir / "checkpoint.pt", checkpoint_interval_s=checkpoint_interval_s,
        device=torch.device(device),
        fingerprint=_fingerprint(run_config, splits, sources),
        train_step=drop_visual_step(v.drop) if v.drop else cross_entropy_step,
    )
    model.load_state_dict(result.best_state)
    _, test_acc, probs = evaluate(model, test, schedule.batch_size, torch.device(device))

    model_record = {"variant": variant, "n_classes": n_classes, "dims": dims,
                    "model_kwargs": model_kwargs, "state": result.best_state,
                    "best_epoch": result.best_epoch}
    metrics = {
        "paper": "mafnet",
        "dataset": dataset,
        "variant": variant,
        "seed": seed,
        "accuracy": 100 * test_acc,
        "best_epoch": result.best_epoch,
        "val_accuracy": 100 * result.history[result.best_epoch]["val_acc"],
        "clips": {name: len(splits[name].clip_ids) for name in SPLITS},
    }
    test_clips = splits["test"]
    return write_run(out_dir, model_record,
                     predictions(test_clips.clip_ids, test_clips.labels, probs),
                     result.history, run_config, metrics)


@torch.no_grad()
def film_embeddings(model: MAFnet, clips: Clips, batch_size: int = 64,
                    device: str = "cpu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Figure 7: the audio residual block's maps just before and after FiLM, average-pooled
    over space, for every valid window of `clips`.

    Returns (before (M, 512), after (M, 512), labels (M,)), M the number of valid windows,
    each labelled with its video's class. `model` is a trained MAFnet whose audio path is
    FiLM-conditioned (film audio or both), e.g. from load_model.
    """
    model = model.to(device).eval()
    split = clips.split({"audio": True, "visual": False})
    before, after = [], []
    for (audio, visual), _ in split.batches(batch_size):
        b, a = model.film_embeddings(audio.to(device), visual.to(device))  # (B, T, 512) each
        before.append(b.cpu())
        after.append(a.cpu())
    valid = np.arange(clips.audio.shape[1])[None, :] < clips.lengths[:, None]  # (N, T)
    labels = np.broadcast_to(clips.labels[:, None], valid.shape)[valid]
    return torch.cat(before).numpy()[valid], torch.cat(after).numpy()[valid], labels
