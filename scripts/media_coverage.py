"""Write the coverage per split of one dataset's media stream: the manifest's counts plus
`partial`, the usable clips the stream's shard indexes flag as decoded short. Inputs are
frames shard CSVs or audio shard folders (whose index is index.csv)."""

from pathlib import Path

from avrepro.data.coverage import coverage_report, read_partial
from avrepro.data.manifest import read_manifest
from avrepro.jobs import job

with job(snakemake.log[0]):
    paths = [Path(p) for p in snakemake.input.indexes]
    indexes = [p / "index.csv" if p.is_dir() else p for p in paths]
    table = coverage_report(read_manifest(snakemake.input.manifest), partial=read_partial(indexes))
    table.to_csv(snakemake.output[0], index=False)
    print(table.to_string(index=False))
