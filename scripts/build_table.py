"""Write a paper table: reported numbers from the metafile beside ours, from metrics files
(or, for Lee et al.'s Table 1, from the manifest and the audio index; for IMD's Table 1,
from the label dictionary)."""

from pathlib import Path

from avrepro.data.manifest import read_manifest
from avrepro.data.sound_counts import sound_counts
from avrepro.jobs import job
from avrepro.papers import IMPROVED_CLASSES, SAVLD, SOUND_COUNTS, load_metafile
from avrepro.savld import read_table
from avrepro.tables import (
    build_count_table,
    build_improvement_table,
    build_savld_table,
    build_table,
    load_metrics,
)

w, inputs = snakemake.wildcards, snakemake.input

with job(snakemake.log[0]):
    meta = load_metafile(inputs.metafile)
    table = meta.tables[w.table]
    if table.kind == SOUND_COUNTS:
        audio_indexes = [Path(p) / "index.csv" for p in inputs.audio_media]
        counts = sound_counts(read_manifest(inputs.manifest), audio_indexes)
        frame = build_count_table(table, counts)
    elif table.kind == SAVLD:
        frame = build_savld_table(table, read_table(inputs.dictionary))
    elif table.kind == IMPROVED_CLASSES:
        frame = build_improvement_table(table, load_metrics(inputs.metrics))
    else:
        paper_clips = {name: meta.clips(name) for name in meta.datasets}
        frame = build_table(table, load_metrics(inputs.metrics, meta.paper), paper_clips)
    frame.to_csv(snakemake.output[0], index=False)
    print(frame.to_string(index=False))
