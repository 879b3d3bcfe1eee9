"""Read a raw dataset's layout, keep the configured classes, probe every clip, and write
the dataset's manifest and its coverage per split (listed, downloaded, usable, with
audio; for Kinetics also the clips yt-dlp could not fetch)."""

from avrepro.data import ucf101
from avrepro.data.coverage import coverage_report, read_download_status
from avrepro.data.manifest import ALL_CLASSES, build_manifest, write_manifest
from avrepro.data.readers import read_listed
from avrepro.jobs import job

name, cfg, root = snakemake.wildcards.dataset, snakemake.params.cfg, snakemake.params.root

with job(snakemake.log[0]):
    listed = read_listed(name, cfg, root)
    classes = cfg["classes"]
    if classes == ALL_CLASSES and cfg["raw"] == "ucf101":
        classes = ucf101.class_names(root)  # UCF-101's own label indexes, not sorted names
    manifest = build_manifest(listed, classes, probe_workers=snakemake.threads)
    write_manifest(manifest, snakemake.output.manifest)
    table = coverage_report(manifest, read_download_status(root))
    table.to_csv(snakemake.output.coverage, index=False)
    print(table.to_string(index=False))
