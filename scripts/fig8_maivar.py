"""Figure 8: t-SNE of video, audio and fused embeddings on Kinetics-Sounds."""

from pathlib import Path

import numpy as np

from avrepro.data.manifest import read_manifest
from avrepro.features.store import read_store
from avrepro.figures.common import save, tsne_2d, tsne_panels
from avrepro.figures.maivar import fused_embedding
from avrepro.jobs import job
from avrepro.train.clips import assemble
from avrepro.train.maivar import load_model, standardize

inputs, params = snakemake.input, snakemake.params

with job(snakemake.log[0]):
    stores = {"audio": read_store(inputs.audio), "video": read_store(inputs.video)}
    rows, feats = assemble(read_manifest(inputs.manifest), stores)
    test = np.flatnonzero(rows.split == "test")[: params.tsne["max_points"]]
    model, stats = load_model(Path(inputs.model), len(params.classes), params.hidden)
    audio, video = feats["audio"][test], feats["video"][test]
    if stats:
        audio, video = standardize(audio, stats["audio"]), standardize(video, stats["video"])
    seed, perplexity = params.tsne["seed"], params.tsne["perplexity"]
    points = {
        "video (TSN features)": tsne_2d(video, perplexity, seed),
        "audio (IRV2, chromagram)": tsne_2d(audio, perplexity, seed),
        "fused (fusion hidden layer)": tsne_2d(fused_embedding(model, audio, video),
                                               perplexity, seed),
    }
    labels = rows.label_index.to_numpy()[test]
    title = "t-SNE of Kinetics-Sounds test embeddings"
    save(tsne_panels(points, labels, params.classes, title), snakemake.output)
