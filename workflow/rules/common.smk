# Input functions and names shared by every stage.
from avrepro.code_digest import code_digest
from avrepro.methods import PAPER_MODELS, models_pattern
from avrepro.methods import registry as methods_registry
from avrepro.features.registry import BACKBONES, KNOWN_WEIGHTS, audio_image_size
from avrepro.media.frame_store import FORMAT as FRAME_STORE_FORMAT
from avrepro.media.frame_store import JPEG_QUALITY
from avrepro.naming import VARIANT_PATTERN, format_variant, parse_variant, run_dir
from avrepro.papers import SAVLD, SOUND_COUNTS, load_metafile, run_reference
from avrepro.variants import audiogen as audiogen_variants
from avrepro.variants import imd as imd_variants
from avrepro.variants import twophase as twophase_variants
from avrepro.variants.maivar import backbone_code, variant_inputs

ENV = "../../envs/avrepro.yaml"  # every rule's conda environment (--sdm conda)
MAIVAR = config["maivar"]
REPS = MAIVAR["representations"]
MAIVAR_VIDEO = f"{MAIVAR['video_backbone']}-{MAIVAR['frames']}"  # the video feature store
FUSION_CODE = backbone_code(MAIVAR["fusion_backbone"])
# Figure 6: audio MLPs on these representations through the other backbones too.
COMPARE_REPS = MAIVAR["compare_representations"]
COMPARED_BACKBONES = [b for b in MAIVAR["compare_backbones"] if b != MAIVAR["fusion_backbone"]]
MAIVAR_FUSION_CH = f"dhf_rep-ch_bb-{FUSION_CODE}"  # MAiVAR-CH, the paper's headline run
MAFNET = config["mafnet"]
MAFNET_WINDOWS = config["frames"][MAFNET["frames"]]["clips"]  # T, for both modalities
MAFNET_AUDIO_RATE = 16000  # VGGish's rate
MAFNET_VISUAL = f"densenet201-{MAFNET['frames']}"  # the window-map stores
MAFNET_AUDIO = f"vggish-t{MAFNET_WINDOWS}"
# The full model (Table 1; Table 4's "FiLM layer in audio path") at each rate of Figure 6.
MAFNET_SWEEP = [
    format_variant("mafnet", fusion="concat", att="both", film="audio", drop=f"{rate:g}")
    for rate in MAFNET["drop_rates"]
]
MAFNET_FULL = format_variant("mafnet", fusion="concat", att="both", film="audio", drop="0.1")
TWOPHASE = config["twophase"]
# Two-phase's audio: at the spectrograms' rate, both channels kept (§II-A).
TWOPHASE_AUDIO = f"audio-{TWOPHASE['spectrogram']['sample_rate']}-ch2"
AUDIOGEN = config["audiogen"]
# Lee et al. §3.2: "wav file format with 16kHz sampling rate, 16bit, mono channel", for
# AENet and VGGish alike; whether this decodes is what "has sound" means (Table 1).
AUDIOGEN_AUDIO = "audio-16000"
AUDIOGEN_SOUND = {"aenet": "aenet", "vggish": f"vggish-e{AUDIOGEN['vggish_examples']}"}
IMD = config["imd"]
IMD_AUDIO = f"audio-{IMD['ast']['sample_rate']}"  # AST's input: 16-kHz mono WAVs
# AST's outputs per clip: from the released AudioSet checkpoint (full tier), or from the
# small AST the smoke tier trains on its synthetic AudioSet (imd.ast.train).
IMD_AST = "ast-smoke" if "train" in IMD["ast"] else "ast-audioset"
# AudioSet's ontology labels (raw.audioset_labels): SAVLD's audio side, AST's outputs.
AUDIOSET_LABELS = "resources/audioset_labels/class_labels_indices.csv"
RAW_LABELS = config["raw"].get("audioset_labels", {})  # a tier without IMD may lack it
# bert-base-uncased's folder of files (avrepro.features.text_embedders.BERT_FILES).
BERT_DIR = f"{config['backbones']['weights_dir']}/bert-base-uncased"
# Each optical-flow store's settings, by frame spec: the paper that reads it sets them.
FLOW = {AUDIOGEN["frames"]: AUDIOGEN["flow"], IMD["frames"]: IMD["flow"]}


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    raw="|".join(config["raw"]),
    shard=r"\d{3}",
    seed=r"\d+",
    rate=r"\d+",
    rep="|".join(REPS),
    spec="|".join(config["frames"]),
    backbone="|".join(BACKBONES),
    variant=VARIANT_PATTERN,
    paper=r"[a-z0-9]+",
    table=r"table\d+",
    windows=r"\d+",
    channels=r"\d+",
    kind="|".join(twophase_variants.SPECTROGRAMS),
    embedder="|".join(imd_variants.EMBEDDERS),
    distance="|".join(imd_variants.DISTANCES),


def datasets_of(raw):
    return [d for d in config["datasets"].values() if d["raw"] == raw]


def raw_classes(raw):
    """The classes to fetch of a raw dataset fetched class by class (Kinetics): those its
    datasets configure; None (all) when one of them takes every class."""
    lists = [d["classes"] for d in datasets_of(raw)]
    if "all" in lists:
        return None
    return sorted({c for classes in lists for c in classes})


def metafile(paper):
    """A paper's metafile, relative to the working directory: inputs given by absolute path
    would make every table stale in a moved or re-cloned checkout."""
    return os.path.relpath(REPO / "workflow" / "papers" / f"{paper}.yaml")


def manifest(dataset):
    return f"results/manifests/{dataset}.csv"


def clips_source(dataset):
    """The dataset whose media and features `dataset` uses (itself, or its clips_from)."""
    return config["datasets"][dataset].get("clips_from", dataset)


def shard_ids(dataset):
    return [f"{i:03d}" for i in range(config["datasets"][dataset]["n_shards"])]


def feature_shards(dataset, extractor):
    return expand(
        "results/features/{dataset}/{extractor}/shard-{shard}.npz",
        dataset=dataset,
        extractor=extractor,
        shard=shard_ids(dataset),
    )


def media_shards(dataset, stream, suffix):
    return [
        f"results/media/{dataset}/{stream}/shard-{shard}{suffix}" for shard in shard_ids(dataset)
    ]


def weights_file(backbone):
    return f"{config['backbones']['weights_dir']}/{KNOWN_WEIGHTS[backbone].file_name}"


def weights_input(backbone):
    """The local weights file a job loads; none in the smoke tier (seeded random weights)."""
    return weights_file(backbone) if config["backbones"]["pretrained"] else []


def device():
    return config["device"]


# --- training jobs and their seeds ---
# A training job trains one seed of a (paper, dataset, variant) (`seeds_per_job: one`, the
# full tier: seeds run side by side on a cluster's GPUs), or every seed of it in turn
# (`all`, the smoke tier: one interpreter, one import of torch and one read of the data
# for all seeds). Either way each seed has its own run folder, and Snakemake decides what
# reruns: seeds of one variant share its code, parameters and inputs, so whatever changes
# one of them changes all. Only a change to `seeds` itself reruns the seeds kept, under
# `all`.
JOB_SEEDS = ["{seed}"] if config["seeds_per_job"] == "one" else config["seeds"]
JOB_NAME = "seed{seed}" if config["seeds_per_job"] == "one" else "seeds"  # logs, benchmarks


def job_seeds(w):
    """The seeds a training job trains."""
    return [int(w.seed)] if config["seeds_per_job"] == "one" else config["seeds"]


def run_outputs(paper, files):
    """A training job's outputs: {name: that file of each seed's run folder}."""
    folder = f"results/{paper}/{{dataset}}/{{variant}}/seed{{seed}}"
    return {
        name: expand(f"{folder}/{file}", seed=JOB_SEEDS, allow_missing=True)
        for name, file in files.items()
    }


RUN_FILES = {
    "metrics": "metrics.json",
    "history": "history.csv",
    "predictions": "predictions.parquet",
    "model": "model.pt",
}


# --- training, tables and figures ---
# Methods added as rows (avrepro.methods): one rule each, train.smk.
METHODS = methods_registry()
# A run folder's files every method writes (model.pt only if it trains a model).
METHOD_RUN_FILES = {k: v for k, v in RUN_FILES.items() if k != "model"}


def method_inputs(method, w):
    """A declared method's inputs: the manifest, the metrics.json of every run it reads
    (per seed, in its Reads order; the finished runs' folders), the shards of every store."""
    reads = method.reads(method.options(w.variant), config)
    source = clips_source(w.dataset)
    return {
        "manifest": manifest(w.dataset),
        "runs": [
            f"{run_dir(method.paper, w.dataset, run, seed)}/metrics.json"
            for seed in job_seeds(w)
            for run in reads.runs
        ],
        "stores": [shard for store in reads.stores for shard in feature_shards(source, store)],
    }



def maivar_train_inputs(w):
    needs = variant_inputs(w.variant, MAIVAR_VIDEO)
    inputs = {
        "manifest": manifest(w.dataset),
        # Every run uses the clips whose audio and frames both decoded (see assemble).
        "audio_media": media_shards(w.dataset, f"audio-{MAIVAR['audio_rate']}", ""),
        "frames_media": media_shards(w.dataset, f"frames-{MAIVAR['frames']}", ".csv"),
    }
    if needs.audio:
        inputs["audio"] = feature_shards(w.dataset, needs.audio)
    if needs.video:
        inputs["video"] = feature_shards(w.dataset, needs.video)
    if parse_variant(w.variant)[0] == "dhf":
        # Algorithm 1: the fusion network starts from the trained video MLP of the same seed.
        inputs["video_mlp"] = [
            f"{run_dir('maivar', w.dataset, 'vmlp', seed)}/model.pt" for seed in job_seeds(w)
        ]
    return inputs


def maivar_hparams(variant):
    """What a run's training depends on: shared settings and its own model's schedule only,
    so that changing one model's schedule reruns that model's runs and no others."""
    model = parse_variant(variant)[0]
    shared = {k: MAIVAR[k] for k in ("val_fraction", "standardize", "hidden", "audio_flips",
                                     "video_snippets")}
    return {**shared, "schedule": MAIVAR[model]}


def mafnet_inputs(dataset):
    """What a MAFnet run on `dataset` reads (training, and Figure 7's embeddings)."""
    source = clips_source(dataset)
    return {
        "manifest": manifest(dataset),  # its own splits, over the source's clips
        "audio": feature_shards(source, MAFNET_AUDIO),
        "visual": feature_shards(source, MAFNET_VISUAL),
        # Every run uses the clips whose audio and frames both decoded (see load_clips).
        "audio_media": media_shards(source, f"audio-{MAFNET_AUDIO_RATE}", ""),
        "frames_media": media_shards(source, f"frames-{MAFNET['frames']}", ".csv"),
    }


def mafnet_train_inputs(w):
    return mafnet_inputs(w.dataset)


def mafnet_hparams(variant):
    """The schedule and the variant's own model's settings only."""
    return {"schedule": MAFNET["schedule"], "model": MAFNET["models"][parse_variant(variant)[0]]}


def twophase_media(dataset):
    """The media stage's indexes: every two-phase run uses the clips whose audio and
    frames both decoded."""
    return {
        "audio_media": media_shards(dataset, TWOPHASE_AUDIO, ""),
        "frames_media": media_shards(dataset, f"frames-{TWOPHASE['frames']}", ".csv"),
    }


def twophase_branch_inputs(w):
    v = twophase_variants.parse(w.variant)
    inputs = {"manifest": manifest(w.dataset), **twophase_media(w.dataset)}
    if v.model == "aud":
        inputs["data"] = feature_shards(w.dataset, f"spec-{v.spectrogram}")
    else:  # a visual branch fine-tunes its CNN on the sampled frames themselves
        inputs["data"] = media_shards(w.dataset, f"frames-{TWOPHASE['frames']}", ".npz")
        inputs["weights"] = weights_input(v.backbone)
    return inputs


def twophase_fusion_inputs(w):
    """Phase II reads the embeddings of its frozen branches' runs (same seed), seed by seed."""
    name = twophase_variants.embedding_file(w.variant)
    return {
        "manifest": manifest(w.dataset),
        "branches": [
            f"{run_dir('twophase', w.dataset, branch, seed)}/{name}"
            for seed in job_seeds(w)
            for branch in twophase_variants.fusion_branches(w.variant)
        ],
    }


def twophase_hparams(w):
    model = twophase_variants.parse(w.variant).model
    schedule = {"aud": "audio", "vis": "visual", "fusion": "fusion"}[model]
    shared = {k: TWOPHASE[k] for k in ("val_fraction", "mixup_alpha", "audio_widths")}
    return {**shared, "schedule": TWOPHASE[schedule]}


def audiogen_clips(dataset):
    """Every audio-generation run's clips: those whose frames decoded (sound or none)."""
    return {
        "manifest": manifest(dataset),
        "frames_index": media_shards(dataset, f"frames-{AUDIOGEN['frames']}", ".csv"),
    }


def tsn_inputs(w):
    stream = audiogen_variants.parse(w.variant).stream
    store = "frames" if stream == "rgb" else "flow"
    return {
        **audiogen_clips(w.dataset),
        "data": media_shards(w.dataset, f"{store}-{AUDIOGEN['frames']}", ".npz"),
        "weights": weights_input("tsn_bninception"),
    }


def sound_inputs(w):
    v = audiogen_variants.parse(w.variant)
    inputs = {
        **audiogen_clips(w.dataset),
        "audio_media": media_shards(w.dataset, AUDIOGEN_AUDIO, ""),
        "sound": feature_shards(w.dataset, AUDIOGEN_SOUND[v.feature]),
    }
    if v.generator:  # per seed: the RGB stream's frame features, then the flow stream's
        inputs["visual"] = [
            f"{run_dir('audiogen', w.dataset, run, seed)}/frame_features.npz"
            for seed in job_seeds(w)
            for run in audiogen_variants.runs_read(w.variant)
        ]
    return inputs


def late_inputs(w):
    """Per seed, the predictions of the runs a late fusion adds (runs_read's order)."""
    return {
        "manifest": manifest(w.dataset),
        "runs": [
            f"{run_dir('audiogen', w.dataset, run, seed)}/predictions.parquet"
            for seed in job_seeds(w)
            for run in audiogen_variants.runs_read(w.variant)
        ],
    }


def table_inputs(w):
    """The metafile, and what the table is built from: its runs' metrics, or (a count
    table) the manifest and the audio index."""
    table = load_metafile(metafile(w.paper)).tables[w.table]
    inputs = {"metafile": metafile(w.paper)}
    if table.kind == SAVLD:
        inputs["dictionary"] = savld_dictionary(table.dataset, imd_variants.Relevance())
        return inputs
    if table.kind == SOUND_COUNTS:
        inputs["manifest"] = manifest(table.dataset)
        inputs["audio_media"] = media_shards(table.dataset, AUDIOGEN_AUDIO, "")
        return inputs
    inputs["metrics"] = [
        f"{run_dir(paper, dataset, variant, seed)}/metrics.json"
        for dataset, run in table.runs()
        for paper, variant in [run_reference(run, w.paper)]
        for seed in config["seeds"]
    ]
    return inputs


def embedder_weights(embedder):
    """The published files an embedder reads: BERT's folder (downloaded by a localrule),
    the GloVe or word2vec vector file (placed by hand: imd.savld); none for MiniLM (inside
    its pip package) or in a tier without pretrained weights (seeded stand-ins)."""
    if embedder == "minilm" or not config["backbones"]["pretrained"]:
        return []
    if embedder == "bert":
        return BERT_DIR
    return IMD["savld"][embedder]


def ast_weights():
    """The frozen AST's weights: the released AudioSet checkpoint, the smoke tier's AST
    trained on its synthetic AudioSet (imd.ast.train), or none (seeded random weights in a
    tier without pretrained weights)."""
    if "train" in IMD["ast"]:
        return "results/imd/ast-smoke/model.pt"
    return weights_input("ast_audioset")


def imd_plan(w):
    """A synthetic set's plan (which clips carry irrelevant sound: written with the raw
    dataset, which the manifest follows), copied into the runs' relevance.parquet; None
    for a real dataset."""
    raw = config["datasets"][w.dataset]["raw"]
    synthetic = config["raw"][raw].get("synthetic", {})
    return f"resources/{raw}/synthetic_plan.csv" if "irrelevant_fraction" in synthetic else None


def savld_dictionary(dataset, relevance):
    """The label dictionary a run reads: the one its variant names, else the configured
    one (imd.savld); one per set of classes (a dataset's splits share it)."""
    embedder = relevance.embedder or IMD["savld"]["embedder"]
    distance = relevance.distance or IMD["savld"]["distance"]
    return f"results/imd/savld/{clips_source(dataset)}/emb-{embedder}_dist-{distance}.csv"


def imd_inputs(w):
    """An IMD run's clips (every clip whose frames decoded; sound or none), the stores of
    its modalities, its label dictionary and, for Kinetics pre-training, the Kinetics runs
    whose models start it (seed for seed)."""
    v = imd_variants.parse(w.variant)
    source, frames = clips_source(w.dataset), IMD["frames"]
    inputs = {
        "manifest": manifest(w.dataset),
        "frames_index": media_shards(source, f"frames-{frames}", ".csv"),
    }
    if "rgb" in v.modalities:
        inputs["rgb"] = media_shards(source, f"frames-{frames}", ".npz")
    if "flow" in v.modalities:
        inputs["flow"] = media_shards(source, f"flow-{frames}", ".npz")
    if v.has_audio:
        inputs["audio"] = feature_shards(source, IMD_AST)
    if v.relevance is not None:
        inputs["dictionary"] = savld_dictionary(w.dataset, v.relevance)
        inputs["audio_labels"] = AUDIOSET_LABELS
    if v.init == "in21k" and v.visual:
        inputs["weights"] = weights_input(f"vit_{v.size}16_in21k")  # models.vit_weights
    if v.init == "kinetics400":
        inputs["init"] = [
            f"{run_dir('imd', 'kinetics400', imd_variants.pretraining_run(v), seed)}/model.pt"
            for seed in job_seeds(w)
        ]
    return inputs


def maivar_runs(dataset, variants, filename):
    return [
        f"{run_dir('maivar', dataset, v, s)}/{filename}" for v in variants for s in config["seeds"]
    ]


def figure_outputs(name):
    """The PNG goes into `snakemake --report` with its caption; the PDF is for papers."""
    png = report(f"results/{name}.png", caption=f"../report/{name}.rst", category="Figures")
    return [png, f"results/{name}.pdf"]


def mafnet_targets():
    tables = [f"results/table{n}_mafnet.csv" for n in (1, 2, 3, 4)]
    figures = [f"results/fig{n}_mafnet.{ext}" for n in (6, 7) for ext in ("png", "pdf")]
    return tables + figures


def twophase_targets():
    tables = [f"results/table{n}_twophase.csv" for n in (1, 2)]
    return tables + [f"results/fig4_twophase.{ext}" for ext in ("png", "pdf")]


def audiogen_targets():
    tables = [f"results/table{n}_audiogen.csv" for n in (1, 2, 3, 4, 5)]
    return tables + [f"results/fig3_audiogen.{ext}" for ext in ("png", "pdf")]


def imd_targets():
    return [f"results/table{n}_imd.csv" for n in range(1, 8)]


def maivar_targets():
    tables = [f"results/table{n}_maivar.csv" for n in (1, 2, 3)]
    figures = [f"results/fig{n}_maivar.{ext}" for n in (6, 7, 8, 9) for ext in ("png", "pdf")]
    return tables + figures
