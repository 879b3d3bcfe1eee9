"""Download bert-base-uncased's files (config, vocabulary, weights) for IMD's SAVLD, each
checked against its pinned sha256 (avrepro.features.text_embedders.BERT_FILES)."""

from avrepro.features.text_embedders import fetch_model_folder
from avrepro.jobs import job

with job(snakemake.log[0]):
    print(f"{fetch_model_folder(snakemake.output[0])}: bert-base-uncased")
