"""Acquire one raw dataset into resources/{raw}/: download it (full tier), link a copy
already on disk (`acquire: local`), or write the synthetic stand-in in the same layout
(smoke tier). `.complete` is written last."""

from pathlib import Path

from avrepro.data import acquire, local, synthetic, youtube
from avrepro.jobs import job

raw, cfg = snakemake.wildcards.raw, snakemake.params.cfg
root = Path(snakemake.output[0]).parent

SYNTHESIZERS = {
    "ucf101": synthetic.write_ucf101,
    "kinetics400": synthetic.write_kinetics,
    "ave": synthetic.write_ave,
    "dcase2021": synthetic.write_dcase,
    "moments_mini": synthetic.write_mit,
    "audioset": synthetic.write_audioset,  # the smoke tier's stand-in AudioSet (IMD's AST)
}
DOWNLOADERS = {
    "ucf101": acquire.acquire_ucf101,
    "ave": acquire.acquire_ave,
    "dcase2021": acquire.acquire_dcase,
    "moments_mini": acquire.acquire_mit,
}

with job(snakemake.log[0]):
    if cfg["acquire"] == "synthetic":
        if raw not in SYNTHESIZERS:
            raise ValueError(
                f"raw.{raw}.acquire: no synthetic stand-in; use one of {sorted(SYNTHESIZERS)}"
            )
        SYNTHESIZERS[raw](root, cfg["synthetic"], workers=snakemake.threads)
    elif cfg["acquire"] == "local":
        print(f"linked from {cfg['path']}: {local.link_local(raw, cfg['path'], root)}")
        for line in local.check_clips(raw, snakemake.config["datasets"], root):
            print(line)
    elif raw == "kinetics400":
        annotations = acquire.acquire_kinetics_annotations(cfg, root)
        throttle = youtube.throttle_options(cfg)  # bad keys fail here, before any download
        for split in snakemake.params.splits:
            acquire.acquire_kinetics_videos(
                annotations, root, snakemake.params.classes, split, cfg["download_workers"],
                throttle=throttle,
            )
    else:
        DOWNLOADERS[raw](cfg, root)
    Path(snakemake.output[0]).touch()
