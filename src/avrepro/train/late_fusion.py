"""Late fusion: a run that adds the test probabilities of other runs (same dataset and
seed) and trains nothing, so it imports no deep-learning stack (`fuse_runs`); Lee et
al.'s (§3.2, Table 4) are `run_late`.

  late_vis-V_snd-S      TSN stream(s) V (rgb, flow, both) plus sound run S, or none
                        (avrepro.variants.audiogen)
"""

from pathlib import Path

import pandas as pd

from avrepro.data.manifest import read_manifest
from avrepro.train.clips import class_names
from avrepro.train.metrics import classification_metrics
from avrepro.train.run_folder import predictions, read_probs, write_run
from avrepro.variants.audiogen import parse, svm_run, tsn_run

PAPER = "audiogen"
# TSN's two-stream fusion weights, RGB : flow = 1 : 1.5 (Wang et al. §4; the authors'
# yjxiong/temporal-segment-networks README and tools/eval_scores.py --score_weights 1 1.5).
TSN_WEIGHTS = {"rgb": 1.0, "flow": 1.5}


def late_weights(variant: str, tsn_weights: dict[str, float]) -> dict[str, float]:
    """Each run's weight in a late fusion: TSN's streams share weight 1 in their stream
    weights' ratio (a weighted mean of probabilities, a probability again; one stream
    alone has weight 1), the sound run weight 1: "we directly add the probabilities of
    TSN and sound feature" (§3.2), TSN being its two-stream fusion where both are used."""
    v = parse(variant)
    total = sum(tsn_weights[s] for s in v.visual)
    weights = {tsn_run(s): tsn_weights[s] / total for s in v.visual}
    if v.feature:
        weights[svm_run(v.feature, v.generator)] = 1.0
    return weights


def _read_predictions(run_dirs: dict[str, Path], runs: list[str]) -> dict[str, pd.DataFrame]:
    """Each run's predictions, sorted by clip; the runs must predict the same clips with the
    same labels."""
    tables = {run: pd.read_parquet(Path(run_dirs[run]) / "predictions.parquet")
              .sort_values("clip_id").reset_index(drop=True) for run in runs}
    first, reference = runs[0], tables[runs[0]]
    for run in runs[1:]:
        table = tables[run]
        if set(table.clip_id) != set(reference.clip_id):
            only = sorted(set(table.clip_id) ^ set(reference.clip_id))
            raise ValueError(f"late fusion: runs {first} and {run} predict different test clips "
                             f"({len(only)} in one only, e.g. {only[:3]})")
        if not (table.label_index.to_numpy() == reference.label_index.to_numpy()).all():
            raise ValueError(f"late fusion: runs {first} and {run} disagree on clips' labels")
    return tables


def fuse_runs(paper: str, variant: str, manifest_path: Path, run_dirs: dict[str, Path],
              weights: dict[str, float], seed: int, out_dir: Path) -> dict:
    """A run that adds other runs' test probabilities, each times its weight (run_dirs:
    variant -> run folder; weights: variant -> weight), and trains nothing: writes
    predictions.parquet, config.yaml (the weights and the runs read), history.csv (no rows;
    no model.pt) and metrics.json, as every run folder has them."""
    runs = list(weights)
    missing = [run for run in runs if run not in run_dirs]
    if missing:
        raise ValueError(f"{variant}: no run folder for {missing}")
    out_dir.mkdir(parents=True, exist_ok=True)
    classes = class_names(read_manifest(manifest_path))
    tables = _read_predictions(run_dirs, runs)
    probs = {run: read_probs(tables[run]) for run in runs}  # (N, n_classes) each
    for run, p in probs.items():
        if p.shape[1] != len(classes):
            raise ValueError(f"late fusion: {run} has {p.shape[1]} class probabilities, "
                             f"the manifest {len(classes)} classes")
    fused = sum(weights[run] * probs[run] for run in runs)
    reference = tables[runs[0]]
    labels = reference.label_index.to_numpy()
    sources = {run: str(run_dirs[run]) for run in runs}
    run_config = {"variant": variant, "seed": seed, "classes": classes, "weights": weights,
                  "runs": sources}
    metrics = {"paper": paper, "variant": variant, "seed": seed,
               **classification_metrics(labels, fused, classes),
               "clips": {"test": len(reference)}, "weights": weights}
    return write_run(out_dir, None, predictions(reference.clip_id.to_numpy(), labels, fused),
                     pd.DataFrame(columns=["epoch"]), run_config, metrics)


def run_late(
    variant: str,
    manifest_path: Path,
    run_dirs: dict[str, Path],
    tsn_weights: dict[str, float],
    seed: int,
    out_dir: Path,
) -> dict:
    """A late fusion of Lee et al. (late_vis-V_snd-S, Table 4): adds the test probabilities
    of the runs of `runs_read(variant)` (run_dirs: variant -> run folder, same seed) with
    `late_weights` (`fuse_runs`). A sound baseline's soundless clips have probabilities 0:
    TSN alone decides them."""
    if parse(variant).model != "late":
        raise ValueError(f"{variant!r} is not a late fusion (late_vis-V_snd-S)")
    return fuse_runs(PAPER, variant, manifest_path, run_dirs, late_weights(variant, tsn_weights),
                     seed, out_dir)
