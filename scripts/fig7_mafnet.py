"""Figure 7: t-SNE of the audio residual block's embedding before and after FiLM, on the
test windows of a trained MAFnet."""

from pathlib import Path

from avrepro.figures.common import save, tsne_2d, tsne_panels
from avrepro.figures.mafnet import sample_windows
from avrepro.jobs import job
from avrepro.train.mafnet import film_embeddings, load_clips, load_model

inputs, params = snakemake.input, snakemake.params

with job(snakemake.log[0]):
    clips = load_clips(
        Path(inputs.manifest), inputs.audio, inputs.visual,
        {"audio": [Path(p) / "index.csv" for p in inputs.audio_media],
         "frames": list(inputs.frames_media)},
        params.val_fraction,
    )["test"]
    before, after, labels = film_embeddings(load_model(Path(inputs.model)), clips)
    tsne = params.tsne
    keep = sample_windows(labels, tsne["max_points"], tsne["seed"])
    points = {
        "before FiLM": tsne_2d(before[keep], tsne["perplexity"], tsne["seed"]),
        "after FiLM": tsne_2d(after[keep], tsne["perplexity"], tsne["seed"]),
    }
    title = f"Audio residual block on {params.dataset} test windows (t-SNE)"
    save(tsne_panels(points, labels[keep], params.classes, title), snakemake.output)
