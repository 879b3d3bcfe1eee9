"""Read a raw dataset's layout, keep the configured classes, probe every clip, and write
the dataset's manifest and its coverage per split."""

from avrepro.data.kinetics import read_kinetics
from avrepro.data.manifest import build_manifest, coverage, write_manifest
from avrepro.data.ucf101 import read_ucf101
from avrepro.jobs import redirect_to_log

cfg, root = snakemake.params.cfg, snakemake.params.root

with redirect_to_log(snakemake.log[0]):
    if cfg["raw"] == "ucf101":
        listed = read_ucf101(root, cfg["split"])
    else:
        listed = read_kinetics(root, cfg["splits"])
    manifest = build_manifest(listed, cfg["classes"], probe_workers=snakemake.threads)
    write_manifest(manifest, snakemake.output.manifest)
    table = coverage(manifest)
    table.to_csv(snakemake.output.coverage, index=False)
    print(table.to_string(index=False))
