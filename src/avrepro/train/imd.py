"""Train and test one IMD run (Alfasly et al., CVPR 2022, §3.5, §3.6, §4.1) on every GPU of
a node: `run_imd` in each process, started by torchrun (`distributed.launch`,
`python -m avrepro.train.imd spec.json`), or in this process alone.

Recipe (§4.1, the numbers of TimeSformer's Kinetics-400 config, configs/Kinetics/
TimeSformer_divST_8x32_224.yaml, which also gives what the paper leaves out):
- SGD, lr 0.005, weight decay 1e-4 on every parameter, momentum 0.9, Nesterov (SlowFast's
  default, which TimeSformer keeps), lr x 0.1 from epoch 11 and x 0.01 from epoch 14 (STEPS
  [0, 11, 14], LRS [1, 0.1, 0.01]), 15 epochs, a global batch of 64 clips split over the
  processes; a process that cannot hold its share at once accumulates gradients over
  `micro_batch`-clip passes (the same step, in more passes);
- loss (§3.5): cross-entropy + `bce_weight` x BCE(rev, relevance target) where the
  network has a relevance network (the weight is not printed, see BCE_WEIGHT);
- model selection: none by default, as the paper, which reports the model its fixed
  schedule ends with (and TimeSformer tests its last checkpoint); a `val_fraction` > 0
  holds out that stratified fraction of the training clips (avrepro.train.clips.holdout)
  and keeps the epoch with the best accuracy on it, scored on one view (the middle clip's
  centre crop), as the project's other runs select;
- test (§4.1): 4 temporal clips x 3 spatial crops of each test clip (imd_data), the
  softmax of each view averaged.

Every process reads its share of each global batch (distributed.epoch_order) and each
sample's random choices come from (seed, epoch, clip), so that a run on N GPUs takes the
steps a run on one GPU takes, and a resumed run the steps an uninterrupted one takes.
"""

import json
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from avrepro.data.audioset import read_audioset_labels
from avrepro.data.manifest import read_manifest
from avrepro.media.frame_store import FrameStore
from avrepro.models.ast import ASTConfig
from avrepro.models.flops import video_gmacs
from avrepro.models.imd import IMDConfig, IMDNet
from avrepro.models.vit_weights import load_vit_file
from avrepro.savld import read_dictionary
from avrepro.train import distributed as D
from avrepro.train.clips import class_names, holdout, with_frames
from avrepro.train.imd_data import (
    IMDClips,
    Sampling,
    Views,
    normalise_targets,
    open_audio,
    partners,
    read_column,
    sample_seed,
    select,
)
from avrepro.train.metrics import classification_metrics
from avrepro.train.run_folder import fingerprint, predictions, write_run
from avrepro.variants.imd import Variant, parse

PAPER = "imd"
RELEVANCE_FILE = "relevance.parquet"
# λ of "CE + λ·BCE" (§3.5: the category cross-entropy "is weighted with the RN loss"; no
# weight printed). 1: the plain sum of the two losses, the default of multi-task training
# without a reported weight; at the start BCE is about ln 2 against ln(400) ~ 6 for the
# classes, so the relevance network cannot swamp the classifier. hparams bce_weight
# overrides it.
BCE_WEIGHT = 1.0


@dataclass(frozen=True)
class Schedule:
    """IMD's optimisation (module docstring)."""

    epochs: int
    batch_size: int  # global: clips per optimiser step, over all processes
    lr: float
    lr_steps: list[int]  # epochs from which the lr is divided by 10 once more
    momentum: float
    weight_decay: float
    nesterov: bool = True
    micro_batch: int | None = None  # clips per forward pass in a process (None: its share)
    # Max l2 norm of all gradients together (None: no clipping, as TimeSformer's recipe). A
    # knob for networks trained from scratch (the smoke tier), whose SGD can spike.
    clip_grad: float | None = None

    def lr_factor(self, epoch: int) -> float:
        return 0.1 ** sum(epoch >= step for step in self.lr_steps)

    def passes(self, world_size: int) -> tuple[int, int]:
        """(clips per process per step, forward passes per step)."""
        if self.batch_size % world_size:
            raise ValueError(f"batch {self.batch_size} does not split over {world_size} "
                             "processes")
        share = self.batch_size // world_size
        micro = min(self.micro_batch or share, share)
        if share % micro:
            raise ValueError(f"micro_batch {micro} does not divide a process's {share} clips")
        return share, share // micro


# ---------------------------------------------------------------------------------------
# The network.


def model_config(v: Variant, hparams: dict, num_classes: int, audio_dim: int) -> IMDConfig:
    """IMD-B or IMD-L (IMDConfig.preset) for the variant's modalities, fusion and relevance
    settings; hparams["sizes"][size] overrides fields of the preset (the smoke tier's tiny
    sizes, dropout, drop_path); frames and image size are the clip's (hparams["clip"])."""
    clip = hparams["clip"]
    fields = {"modalities": v.modalities, "fusion": v.fusion or "imd",
              "frames": clip.get("frames", 8), "image_size": clip.get("input_size", 224),
              "audio_dim": audio_dim, **hparams.get("sizes", {}).get(v.size, {})}
    if v.relevance is not None:
        fields |= {"alpha": v.relevance.alpha, "scheme": v.relevance.scheme}
    return IMDConfig.preset(v.size.upper(), num_classes, **fields)


def initialise(net: IMDNet, v: Variant, weights: Path | None) -> str:
    """Load the visual streams' starting weights; returns where they came from.

    init-in21k: an ImageNet-21k ViT state dict (timm layout) into every visual stream.
    init-kinetics400: the pretraining run's model.pt (Table 7's "Kinetics" row): its
    streams and visual fusion; the classifier, fusion and audio bottleneck start afresh,
    since the classes are UCF101's."""
    if weights is None:
        return "random"
    if v.init == "kinetics400":
        state = torch.load(weights, map_location="cpu", weights_only=False)["state"]
        visual = {k: t for k, t in state.items() if k.startswith(("streams.", "visual_fusion."))}
        missing, unexpected = net.load_state_dict(visual, strict=False)
        if unexpected or any(k.startswith("streams.") for k in missing):
            raise ValueError(f"{weights}: its streams do not fit this network "
                             f"(unexpected {unexpected[:3]}, missing {missing[:3]})")
        return f"kinetics400 run {weights}"
    load_vit_file(net, weights)
    return f"ViT weights {weights}"


def wrap(net: nn.Module, context: D.Context) -> nn.Module:
    """The network each process trains: itself alone, DDP over several processes."""
    if not context.distributed:
        return net
    ids = [context.local_rank] if context.device.type == "cuda" else None
    return DistributedDataParallel(net, device_ids=ids)


def autocast(context: D.Context, precision: str):
    """bf16 autocast on GPUs when asked (`precision: bf16`); fp32 otherwise."""
    if precision == "bf16" and context.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16, not {precision!r}")
    return nullcontext()


def inputs(batch: dict, device: torch.device, views: int | None = None) -> dict:
    """The network's keyword inputs of a batch: visual (B, T, C, S, S) (test batches, of
    `views` views a clip: (B, V, T, ...) flattened to B * V), audio (B, D) (repeated for
    each view)."""
    out = {m: batch[m].to(device, non_blocking=True) for m in ("rgb", "flow") if m in batch}
    if "audio" in batch:
        out["audio"] = batch["audio"].to(device, non_blocking=True)
    if views is not None:
        out = {m: x.flatten(0, 1) if m != "audio" else x.repeat_interleave(views, 0)
               for m, x in out.items()}
    return out


def loss_of(out, labels: torch.Tensor, target: torch.Tensor, weight: float) -> torch.Tensor:
    """CE + weight x BCE(rev, target) (§3.5), the BCE on the relevance logit (stable)."""
    loss = F.cross_entropy(out.logits.float(), labels)
    if out.relevance_logit is not None:
        loss = loss + weight * F.binary_cross_entropy_with_logits(
            out.relevance_logit.float(), target)
    return loss


# ---------------------------------------------------------------------------------------
# Epochs.


def loader(dataset, batches: list, workers: int, context: D.Context) -> DataLoader:
    return DataLoader(dataset, batch_sampler=batches, num_workers=workers,
                      pin_memory=context.device.type == "cuda",
                      persistent_workers=False)


def train_epoch(model: nn.Module, clips: IMDClips, train_idx: np.ndarray, optimizer,
                schedule: Schedule, epoch: int, seed: int, hparams: dict,
                context: D.Context) -> dict:
    """One epoch of this process's share; returns the epoch's train loss and accuracy over
    all processes."""
    model.train()
    share, passes = schedule.passes(context.world_size)
    order = D.epoch_order(len(train_idx), schedule.batch_size, seed, epoch, context.rank,
                          context.world_size)  # (steps, share)
    micro = share // passes
    batches = [[(int(train_idx[p]), sample_seed(seed, epoch, int(train_idx[p])))
                for p in row[j * micro : (j + 1) * micro]]
               for row in order for j in range(passes)]
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * schedule.lr_factor(epoch)
    weight = hparams.get("bce_weight", BCE_WEIGHT)
    loss_sum, correct, seen = 0.0, 0, 0
    data = loader(clips, batches, hparams.get("loader_workers", 0), context)
    for k, batch in enumerate(tqdm(data, desc=f"epoch {epoch}", unit="pass", mininterval=30,
                                   disable=not context.is_main)):
        last = k % passes == passes - 1
        labels = batch["label"].to(context.device)
        target = batch["target"].to(context.device) if "target" in batch else None
        sync = nullcontext() if last or not context.distributed else model.no_sync()
        with sync:
            with autocast(context, hparams.get("precision", "fp32")):
                out = model(**inputs(batch, context.device))
            loss = loss_of(out, labels, target, weight)
            (loss / passes).backward()
        if last:
            if schedule.clip_grad is not None:  # DDP has averaged them: every process agrees
                nn.utils.clip_grad_norm_(model.parameters(), schedule.clip_grad)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        loss_sum += loss.item() * len(labels)
        correct += (out.logits.argmax(1) == labels).sum().item()
        seen += len(labels)
    loss_sum, correct, seen = D.all_sum([loss_sum, correct, seen], context)
    return {"train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1)}


@torch.no_grad()
def score(net: IMDNet, clips: IMDClips, index: np.ndarray, batch: int, hparams: dict,
          context: D.Context, n_clips: int | None = None,
          n_crops: int | None = None) -> dict[str, np.ndarray]:
    """Class probabilities (N, C), the mean of the views' softmax, and relevance (N,) (the
    views' mean; nan without a relevance network) of clips `index`, in that order, `batch`
    clips (all their views) a pass; each process scores positions rank::world_size, every
    process gets the whole."""
    net.eval()
    views = (n_clips or clips.sampling.test_clips) * (n_crops or clips.sampling.test_crops)
    mine = D.epoch_order(len(index), 1, 0, 0, context.rank, context.world_size,
                         drop_last=False)[0]
    batches = [list(mine[i : i + batch]) for i in range(0, len(mine), batch)]
    dataset = Views(clips, index, n_clips, n_crops)
    probs, relevance = [], []
    for batch in loader(dataset, batches, hparams.get("loader_workers", 0), context):
        with autocast(context, hparams.get("precision", "fp32")):
            out = net(**inputs(batch, context.device, views))
        b = len(batch["label"])
        probs.append(torch.softmax(out.logits.float(), 1).view(b, views, -1).mean(1).cpu())
        relevance.append(out.relevance.float().view(b, views).mean(1).cpu()
                         if out.relevance is not None else torch.full((b,), math.nan))
    n_classes = net.cfg.num_classes
    part = {"probs": torch.cat(probs).numpy() if probs else np.zeros((0, n_classes), np.float32),
            "relevance": torch.cat(relevance).numpy() if relevance else np.zeros(0, np.float32)}
    whole = D.gather(part, context)
    order = np.argsort(D.interleaved(len(index), context.world_size), kind="stable")
    return {k: a[order] for k, a in whole.items()}


# ---------------------------------------------------------------------------------------
# Checkpoints (rank 0 writes, every process reads).


def save_checkpoint(path: Path, state: dict, context: D.Context) -> None:
    if context.is_main:
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        tmp.replace(path)
    D.barrier(context)


def resume(path: Path, run_fingerprint: str, net: IMDNet, optimizer) -> dict | None:
    """The unfinished run's state in `path` (loaded into net and optimizer), or None."""
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state["fingerprint"] != run_fingerprint or state.get("finished"):
        return None
    net.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    print(f"resuming from {path} after epoch {state['epoch']}")
    return state


# ---------------------------------------------------------------------------------------
# The run.


def read_clips(manifest: pd.DataFrame, frames_index: list[Path],
               stores: list[list[Path]]) -> pd.DataFrame:
    """The run's clips: every clip whose frames decoded (with sound or without, as the
    paper keeps Kinetics' silent videos; clips.with_frames), whatever modalities the run
    reads, so that Table 3's subsets score the same clips, and that every given store
    holds (a store missing a clip is a broken input: say so rather than train on less)."""
    rows = with_frames(manifest, frames_index)
    for paths in stores:
        held = set()
        for path in paths:
            with np.load(path) as data:
                held |= set(data["clip_id"].astype(str))
        if not set(rows.clip_id) <= held:
            lacking = sorted(set(rows.clip_id) - held)
            raise ValueError(f"{len(lacking)} clips with frames are not in {paths[0]} ...: "
                             f"{lacking[:3]}")
    return rows


def build_clips(rows: pd.DataFrame, v: Variant, sampling: Sampling, frames: list[Path],
                flow: list[Path], ast: list[Path], dictionary: dict | None,
                audio_labels: list[str] | None, train: np.ndarray, cross_modal: bool) -> IMDClips:
    ids = rows.clip_id.tolist()
    labels = rows.label_index.to_numpy()
    kwargs, n_frames = {}, np.zeros(len(ids), np.int64)  # audio alone: no frames
    if "flow" in v.modalities:
        kwargs["flow"], where = select(flow, "flow", ids)
        kwargs["n_fields"] = read_column(flow, "n_valid")[where]
        n_frames = kwargs["n_fields"] + 1
    if "rgb" in v.modalities:
        kwargs["frames"] = FrameStore(frames).select(ids)
        n_frames = kwargs["frames"].n_valid
    if v.has_audio:
        relevance = asdict(v.relevance) if v.relevance is not None else None
        audio = open_audio(ast, ids, rows.label.tolist(), dictionary, relevance, audio_labels)
        audio.target[:] = normalise_targets(audio.target, train & audio.has_audio)
        audio.target[~audio.has_audio] = 0  # no audio: nothing relevant to keep
        kwargs["audio"] = audio
        if cross_modal:
            kwargs["partners"] = partners(labels, train, audio.has_audio)
    return IMDClips(labels, sampling, n_frames, **kwargs)


def irrelevant_column(rows: pd.DataFrame, plan: Path) -> np.ndarray:
    """Whether each clip's sound was made irrelevant (bool (N,)), from a table with columns
    clip_id and irrelevant: the synthetic set's plan (avrepro.data.synthetic.PLAN_FILE). A
    clip it does not list is not."""
    table = pd.read_csv(plan, usecols=["clip_id", "irrelevant"], dtype={"clip_id": str})
    marked = table.irrelevant.astype(str).str.lower().isin(["true", "1"])
    return rows.clip_id.isin(set(table.clip_id[marked])).to_numpy()


def relevance_table(rows: pd.DataFrame, test: np.ndarray, clips: IMDClips,
                    relevance: np.ndarray, plan: Path | None) -> pd.DataFrame:
    """relevance.parquet: per test clip, the relevance network's score (views' mean; nan
    without a relevance network), its target and whether the clip has audio (nan and
    False for a run without audio), and `irrelevant`, where a plan says. Every run writes
    it, so that every run folder has the same files."""
    audio = clips.audio
    table = pd.DataFrame({"clip_id": rows.clip_id.to_numpy()[test],
                          "label": rows.label.to_numpy()[test],
                          "relevance": relevance,
                          "target": audio.target[test] if audio else np.nan,
                          "has_audio": audio.has_audio[test] if audio else False})
    if plan is not None:
        table["irrelevant"] = irrelevant_column(rows, plan)[test]
    return table


def run_imd(
    variant: str,
    manifest_path: Path,
    frames_index: list[Path],
    frames: list[Path],
    flow: list[Path],
    ast: list[Path],
    hparams: dict,
    seed: int,
    out_dir: Path,
    dictionary: Path | None = None,
    audio_labels: Path | None = None,
    weights: Path | None = None,
    plan: Path | None = None,
    device: str = "cpu",
    checkpoint_interval_s: float = 300.0,
) -> dict | None:
    """Train and test one IMD run; rank 0 writes its run folder (metrics.json,
    predictions.parquet, history.csv, model.pt, config.yaml, relevance.parquet where the
    network has a relevance network, checkpoint.pt) and returns its metrics (other ranks:
    None).

    frames_index: the media stage's frames index (which clips decoded: the run's clips);
    frames, flow, ast: the frames, flow and AST feature shards (clip_id, embedding, probs,
    has_audio) of the modalities the variant reads (others may be empty); dictionary: the
    SAVLD CSV and audio_labels: AudioSet's class-label file (both for fus-imd, whose
    relevance target they make). weights: see `initialise`.
    plan: a table of clip_id and irrelevant (the synthetic set's plan), copied into
    relevance.parquet so that a test can ask whether the scores separate the clips.
    hparams (config.yaml's imd section): clip (imd_data.Sampling's fields), schedule
    (Schedule's), sizes ({b, l}: IMDConfig fields over the preset), val_fraction (0:
    none), bce_weight, loader_workers (per process), precision (fp32 | bf16).
    """
    context = D.setup(device)
    try:
        return _run(context, variant, Path(manifest_path), [Path(p) for p in frames_index],
                    [Path(p) for p in frames],
                    [Path(p) for p in flow], [Path(p) for p in ast], hparams, seed,
                    Path(out_dir), dictionary and Path(dictionary),
                    audio_labels and Path(audio_labels), weights and Path(weights),
                    plan and Path(plan), checkpoint_interval_s)
    finally:
        D.teardown(context)


def _run(context, variant, manifest_path, frames_index, frames, flow, ast, hparams, seed, out_dir,
         dictionary, audio_labels, weights, plan, checkpoint_interval_s):
    v = parse(variant)
    sampling = Sampling(**{k: tuple(x) if isinstance(x, list) else x
                           for k, x in hparams["clip"].items()})
    schedule = Schedule(**hparams["schedule"])
    manifest = read_manifest(manifest_path)
    classes = class_names(manifest)
    rows = read_clips(manifest, frames_index, [p for p in (frames, flow, ast) if p])
    labels = rows.label_index.to_numpy()
    val_fraction = hparams.get("val_fraction", 0.0)
    val = holdout(rows, val_fraction) if val_fraction else np.zeros(len(rows), bool)
    split = rows.split.to_numpy()
    train, test = (split == "train") & ~val, split == "test"
    relevance = v.relevance
    words = read_dictionary(dictionary, relevance.k) if relevance is not None else None
    names = read_audioset_labels(audio_labels) if relevance is not None else None
    clips = build_clips(rows, v, sampling, frames, flow, ast, words, names, train, v.augment)
    audio_dim = clips.audio.embedding.width if v.has_audio else 1
    cfg = model_config(v, hparams, len(classes), audio_dim)

    torch.manual_seed(seed)
    net = IMDNet(cfg)
    source = initialise(net, v, weights)
    net.to(context.device)
    optimizer = torch.optim.SGD(net.parameters(), lr=schedule.lr, momentum=schedule.momentum,
                                weight_decay=schedule.weight_decay, nesterov=schedule.nesterov)
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    run_config = {"variant": variant, "seed": seed, "classes": classes, "model": asdict(cfg),
                  "sampling": asdict(sampling), "schedule": asdict(schedule),
                  "val_fraction": val_fraction, "cross_modal": v.augment,
                  "bce_weight": hparams.get("bce_weight", BCE_WEIGHT),
                  "precision": hparams.get("precision", "fp32"), "init": source,
                  "world_size": context.world_size}
    inputs_files = [*frames_index, *frames, *flow, *ast,
                    *(p for p in (dictionary, audio_labels, weights, plan) if p)]
    run_fp = fingerprint({k: x for k, x in run_config.items() if k != "world_size"},
                         inputs_files)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.pt"
    state = resume(checkpoint, run_fp, net, optimizer)
    history = state["history"] if state else []
    best = state["best"] if state else {"epoch": -1, "score": -math.inf, "state": None}
    model = wrap(net, context)
    train_idx, val_idx = np.flatnonzero(train), np.flatnonzero(val)
    share, passes = schedule.passes(context.world_size)
    micro = share // passes  # clips a forward pass; a test pass takes their views
    saved_at = time.monotonic()
    for epoch in range(state["epoch"] + 1 if state else 0, schedule.epochs):
        record = {"epoch": epoch, **train_epoch(model, clips, train_idx, optimizer, schedule,
                                                epoch, seed, hparams, context)}
        if len(val_idx):  # one view per clip: the middle clip's centre crop
            probs = score(net, clips, val_idx, micro, hparams, context, 1, 1)["probs"]
            record["val_acc"] = float((probs.argmax(1) == labels[val_idx]).mean())
            if record["val_acc"] > best["score"]:
                best = {"epoch": epoch, "score": record["val_acc"],
                        "state": {k: t.detach().cpu().clone()
                                  for k, t in net.state_dict().items()}}
        history.append(record)
        if context.is_main:
            print(json.dumps(record))
        last = epoch == schedule.epochs - 1
        if last or time.monotonic() - saved_at >= checkpoint_interval_s:
            save_checkpoint(checkpoint, {"fingerprint": run_fp, "epoch": epoch,
                                         "model": net.state_dict(),
                                         "optimizer": optimizer.state_dict(),
                                         "history": history, "best": best,
                                         "finished": last}, context)
            saved_at = time.monotonic()
    if best["state"] is not None:
        net.load_state_dict(best["state"])
    chosen = best["epoch"] if best["state"] is not None else schedule.epochs - 1

    test_idx = np.flatnonzero(test)
    scored = score(net, clips, test_idx, micro, hparams, context)
    if not context.is_main:
        return None
    relevance_table(rows, test, clips, scored["relevance"], plan).to_parquet(
        out_dir / RELEVANCE_FILE, index=False)
    metrics = {
        "paper": PAPER, "variant": variant, "seed": seed,
        **classification_metrics(labels[test], scored["probs"], classes),
        "epoch": chosen, "world_size": context.world_size,
        # Table 6's cost: our network over the 12 test views, plus AST once (GMACs, the
        # unit of the paper's "GFLOPs"); parameters of the trained network, AST aside.
        "gflops": round(video_gmacs(cfg, ASTConfig(**hparams.get("ast_model", {}))
                                    if v.has_audio else None), 1),
        "params_m": round(sum(t.numel() for t in net.parameters()) / 1e6, 2),
        "clips": {"train": int(train.sum()), "val": int(val.sum()), "test": int(test.sum()),
                  "listed": len(manifest), "unusable": len(manifest) - len(rows)},
    }
    if len(val_idx):
        metrics["val_accuracy"] = 100 * best["score"]
    if net.has_relevance:
        has = clips.audio.has_audio[test]
        metrics["audio_kept"] = 100 * float((scored["relevance"][has] >= cfg.alpha).mean()
                                            if has.any() else 0.0)
    saved = {"variant": variant, "config": asdict(cfg), "epoch": chosen,
             "state": {k: t.cpu() for k, t in net.state_dict().items()}}
    tested = predictions(rows.clip_id.to_numpy()[test], labels[test], scored["probs"])
    return write_run(out_dir, saved, tested, history, run_config, metrics)


def main(argv: list[str] | None = None) -> None:
    """`python -m avrepro.train.imd spec.json`: run_imd(**spec) in this process (torchrun
    starts one per GPU)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m avrepro.train.imd spec.json")
    spec = json.loads(Path(argv[0]).read_text())
    metrics = run_imd(**spec)
    if metrics is not None:
        print({k: x for k, x in metrics.items() if k not in ("confusion", "per_class")})


if __name__ == "__main__":
    main()
