"""IMD's audio features of one audio shard (§3.3): the frozen AST's embedding (the mean of
its final CLS and DIST tokens) and its 527 AudioSet scores per clip, with has_audio."""

from pathlib import Path

from avrepro.features.ast_features import build_ast, extract_shard
from avrepro.jobs import job, resolve_device
from avrepro.models.ast import ASTConfig

params = snakemake.params

with job(snakemake.log[0]):
    weights = Path(snakemake.input.weights) if snakemake.input.weights else None
    model = build_ast(ASTConfig(**params.model), weights)
    counts = extract_shard(
        audio_dir=Path(snakemake.input.audio),
        model=model,
        out_path=Path(snakemake.output[0]),
        batch_size=params.batch_size,
        device=resolve_device(params.device),
    )
    print(f"clips by audio: {counts}")
