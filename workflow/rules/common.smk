# Input functions and names shared by every stage.
from avrepro.features.weights import KNOWN_WEIGHTS, file_name_from_url
from avrepro.naming import VARIANT_PATTERN, run_dir
from avrepro.papers import load_metafile

MAIVAR = config["maivar"]
REPS = MAIVAR["representations"]


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    raw="|".join(config["raw"]),
    shard=r"\d{3}",
    seed=r"\d+",
    rate=r"\d+",
    rep="|".join(REPS),
    spec="|".join(config["frames"]),
    backbone=r"[a-z0-9_]+",
    variant=VARIANT_PATTERN,
    paper=r"[a-z0-9]+",
    table=r"table\d+",


def metafile(paper):
    return REPO / "workflow" / "papers" / f"{paper}.yaml"


def manifest(dataset):
    return f"results/manifests/{dataset}.csv"


def shard_ids(dataset):
    return [f"{i:03d}" for i in range(config["datasets"][dataset]["n_shards"])]


def feature_shards(dataset, extractor):
    return expand(
        "results/features/{dataset}/{extractor}/shard-{shard}.npz",
        dataset=dataset,
        extractor=extractor,
        shard=shard_ids(dataset),
    )


def weights_file(backbone):
    url = KNOWN_WEIGHTS[backbone].url
    return f"{config['backbones']['weights_dir']}/{file_name_from_url(url)}"


def weights_input(backbone):
    """The local weights file a job loads; none in the smoke tier (seeded random weights)."""
    return weights_file(backbone) if config["backbones"]["pretrained"] else []


def device():
    return config["device"]
