"""Optical flow between the sampled frames of one frames shard, quantised as TSN stores it."""

from pathlib import Path

from avrepro.jobs import job
from avrepro.media.flow import flow_shard

weights = getattr(snakemake.input, "weights", None)  # RAFT's file; none for TV-L1 or smoke

with job(snakemake.log[0]):
    index = flow_shard(
        frames_npz=Path(snakemake.input.frames),
        out_path=Path(snakemake.output.flow),
        params=snakemake.params.flow,
        weights=Path(weights) if weights else None,
        device=snakemake.params.device,
        threads=snakemake.threads,
    )
    print(f"{len(index)} clips, {index.n_flows.sum()} flow frames ({snakemake.params.flow})")
