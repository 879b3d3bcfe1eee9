"""Build IMD's label dictionaries SAVLD (avrepro.savld): the k nearest AudioSet labels of
every class of a video dataset under one text embedder, one file per distance (paper §3.1,
Table 2); the labels are embedded once."""

from pathlib import Path

from avrepro import savld
from avrepro.data.audioset import read_audioset_labels, read_manifest_labels
from avrepro.features.text_embedders import make_embedder, minilm_embedder, standin_embedder
from avrepro.jobs import job

inputs, output, params, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards

with job(snakemake.log[0]):
    video_labels = savld.video_vocabulary(params.vocabulary, read_manifest_labels(inputs.manifest))
    audio_labels = read_audioset_labels(inputs.audio_labels)
    # MiniLM comes inside its pip package, extracted once into the weights folder. The
    # others read their published files (bert: its folder; glove, word2vec: the vector
    # file), or, where the tier has no pretrained weights, run as seeded stand-ins.
    cache = Path(snakemake.config["backbones"]["weights_dir"])
    if w.embedder == "minilm":
        embedder = minilm_embedder(cache)
    elif params.pretrained:
        embedder = make_embedder(w.embedder, inputs.weights)
    else:
        embedder = standin_embedder(w.embedder, cache)
    embeddings = savld.embed_labels(video_labels, audio_labels, embedder)
    for distance, path in zip(params.distances, output, strict=True):
        dictionary = savld.build_dictionary(
            video_labels, audio_labels, embeddings, distance=distance, k=params.k
        )
        savld.write_dictionary(dictionary, path)
    print(f"{len(video_labels)} video labels x {len(audio_labels)} audio labels, k={params.k}")
