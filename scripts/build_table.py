"""Write a paper table: reported numbers from the metafile beside ours, from metrics files."""

from avrepro.jobs import job
from avrepro.papers import load_metafile
from avrepro.tables import build_table, load_metrics

w = snakemake.wildcards

with job(snakemake.log[0]):
    meta = load_metafile(snakemake.input.metafile)
    table = meta.tables[w.table]
    paper_clips = {name: spec.get("clips") for name, spec in meta.datasets.items()}
    frame = build_table(table, load_metrics(snakemake.input.metrics), paper_clips)
    frame.to_csv(snakemake.output[0], index=False)
    print(frame.to_string(index=False))
