"""Read a raw dataset's layout, keep the configured classes, probe every clip, and write
the dataset's manifest and its coverage per split; with `all_splits` in the dataset's
config, also each clip's role in those splits (output `splits`)."""

from avrepro.data.manifest import build_manifest, coverage, write_manifest
from avrepro.data.readers import read_listed, split_table
from avrepro.jobs import redirect_to_log

name, cfg, root = snakemake.wildcards.dataset, snakemake.params.cfg, snakemake.params.root
outputs = snakemake.output

with redirect_to_log(snakemake.log[0]):
    if ("all_splits" in cfg) != ("splits" in outputs.keys()):
        raise ValueError(
            f"datasets.{name}: a splits table is written when, and only when, the config "
            "asks for all_splits and the rule declares the output 'splits'"
        )
    listed = read_listed(name, cfg, root)
    manifest = build_manifest(listed, cfg["classes"], probe_workers=snakemake.threads)
    write_manifest(manifest, outputs.manifest)
    if "all_splits" in cfg:
        split_table(name, cfg, root, manifest["clip_id"]).to_csv(outputs.splits, index=False)
    table = coverage(manifest)
    table.to_csv(outputs.coverage, index=False)
    print(table.to_string(index=False))
