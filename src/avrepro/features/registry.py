"""What the workflow can extract features with, and where each network's published weights
live: plain data, importable without torch, so that Snakemake plans (a localrule per
weights file, the input functions) without loading a deep-learning stack.

`backbones.py` builds the image networks named here; `weights.py` fetches and loads the
files named here.
"""

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse


class WeightsError(Exception):
    """A weights file is unknown, absent, unreadable or does not fit its model."""


@dataclass(frozen=True)
class Backbone:
    feature_dim: int
    input_size: int  # side of the square input the weights were trained at
    timm_name: str | None = None  # None: our BNInception
    # timm weights tag whose preprocessing matches the file registered in weights.py.
    timm_weights: str | None = None


BACKBONES: dict[str, Backbone] = {
    # 299x299 audio images as in §3.3 (Fig. 2's caption says 224, but IRV2 is trained at 299).
    "irv2": Backbone(1536, 299, "inception_resnet_v2", "inception_resnet_v2.tf_in1k"),
    # Fig. 6 compares these audio-image extractors with IRV2.
    "resnet18": Backbone(512, 224, "resnet18", "resnet18.tv_in1k"),
    "resnet101": Backbone(2048, 224, "resnet101", "resnet101.tv_in1k"),
    # The paper says only "EfficientNet"; B0 is the family's base member, the one
    # "EfficientNet" means without a suffix, and the cheapest.
    "efficientnet_b0": Backbone(1280, 224, "efficientnet_b0", "efficientnet_b0.ra_in1k"),
    "tsn_bninception": Backbone(1024, 224),
}



def audio_image_size(name: str, fusion: str, fusion_size: int) -> int:
    """The side of the audio images backbone `name` embeds for MAiVAR: its own training size,
    scaled as the tier scales the fusion backbone's (`fusion_size`, maivar.image_size). In
    the full tier (IRV2 at 299) that is every backbone's own size: Figure 6's ResNets and
    EfficientNet see 224-px images, as they were trained, not IRV2's 299."""
    return round(fusion_size * BACKBONES[name].input_size / BACKBONES[fusion].input_size)

@dataclass(frozen=True)
class KnownWeights:
    url: str
    # Full sha256, or the prefix the publisher put in the file name: torchvision, Cadene
    # and timm name files `{model}-{first 8 hex digits of the sha256}.pth`, and torch.hub's
    # `check_hash` verifies exactly that prefix. `download_file` accepts either. None: the
    # publisher gives no checksum (AENet's ETH files) and the download goes unverified.
    sha256: str | None
    # Classifier keys of the published file: our extractors have no classifier.
    head_prefixes: tuple[str, ...]
    description: str
    # (regex, replacement) pairs turning the file's remaining keys into our model's names.
    renames: tuple[tuple[str, str], ...] = ()
    # The cache's file name where the URL's own is not unique (the Hugging Face hub serves
    # every timm model as `model.safetensors`); None: the URL's last path segment.
    file: str | None = None

    @property
    def file_name(self) -> str:
        return self.file or file_name_from_url(self.url)


KNOWN_WEIGHTS: dict[str, KnownWeights] = {
    # The paper (§3.5) uses ImageNet IRV2 "available with PyTorch": Cadene's
    # pretrainedmodels port of Google's TensorFlow weights, the same weights timm ships
    # as inception_resnet_v2.tf_in1k (Cadene's 1001-way `last_linear` becomes timm's
    # `classif`; every other key is identical).
    "irv2": KnownWeights(
        url="http://data.lip6.fr/cadene/pretrainedmodels/inceptionresnetv2-520b38e4.pth",
        sha256="520b38e4",
        head_prefixes=("last_linear.", "classif."),
        description="Inception-ResNet-v2, ImageNet (Cadene port of the TF weights)",
    ),
    # torchvision's ResNet keys are timm's ResNet keys (timm kept them on purpose).
    "resnet18": KnownWeights(
        url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
        sha256="f37072fd",
        head_prefixes=("fc.",),
        description="ResNet-18, ImageNet (torchvision v1 weights = timm resnet18.tv_in1k)",
    ),
    "resnet101": KnownWeights(
        url="https://download.pytorch.org/models/resnet101-63fe2227.pth",
        sha256="63fe2227",
        head_prefixes=("fc.",),
        description="ResNet-101, ImageNet (torchvision v1 weights = timm resnet101.tv_in1k)",
    ),
    # timm's own file for efficientnet_b0.ra_in1k (its pretrained_cfg url); timm keys.
    "efficientnet_b0": KnownWeights(
        url=(
            "https://github.com/rwightman/pytorch-image-models/releases/download/"
            "v0.1-weights/efficientnet_b0_ra-3dd342df.pth"
        ),
        sha256="3dd342df",
        head_prefixes=("classifier.",),
        description="EfficientNet-B0, ImageNet (timm efficientnet_b0.ra_in1k)",
    ),
    # The paper (§3.4) uses TSN's BN-Inception pretrained on Kinetics-400. Neither the
    # mmaction2 nor the timm model zoo publishes one (mmaction2's TSN models are ResNets),
    # so this is the PyTorch conversion of TSN's Kinetics-400 BN-Inception that TSM and
    # its descendants load (Cadene key names, a 400-way `fc`). The hash in its name
    # follows the convention above but is not confirmed by its publisher; override it
    # with `sha256=` if it disagrees with a file you trust. The prefixes also cover
    # mmaction (`cls_head`, `data_preprocessor`) and tsn-pytorch (`new_fc`) checkpoints.
    "tsn_bninception": KnownWeights(
        url="https://www.dropbox.com/s/gx4u7itoyygix0c/BNInceptionKinetics-47f0695e.pth?dl=1",
        sha256="47f0695e",
        head_prefixes=("fc.", "new_fc.", "last_linear.", "cls_head.", "data_preprocessor."),
        description="BN-Inception, Kinetics-400 (TSN weights as converted for TSM)",
    ),
    # MAFnet (§4.2) uses ImageNet DenseNet-201: torchvision's IMAGENET1K_V1 file. It keeps
    # the dense layers' old submodule names (`denselayer1.norm.1.weight`), which today's
    # torchvision (and our DenseNetMaps) spell `denselayer1.norm1.weight`; torchvision's
    # own loader renames them with the same pattern. Every other key is unchanged.
    "densenet201": KnownWeights(
        url="https://download.pytorch.org/models/densenet201-c1103571.pth",
        sha256="c1103571",
        head_prefixes=("classifier.",),
        description="DenseNet-201, ImageNet (torchvision IMAGENET1K_V1)",
        renames=((r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.", r"\1\2."),),
    ),
    # MAFnet's VGGish pretrained on AudioSet, in PyTorch: torchvggish's (harritaylor) port
    # of Google's TF checkpoint. Its VGG keeps the conv stack as an nn.Sequential
    # `features` (conv + ReLU pairs and max pools, so the convs sit at indexes 0, 3, 6, 8,
    # 11, 13) and the fully connected layers as `embeddings`, which our maps-only VGGish
    # has no use for. The indexes become the TF layer names our VGGish uses.
    "vggish": KnownWeights(
        url="https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
        sha256="10086976",
        head_prefixes=("embeddings.",),
        description="VGGish, AudioSet (torchvggish port of the TensorFlow weights)",
        renames=tuple(
            (rf"^features\.{index}\.", f"{layer}.")
            for index, layer in ((0, "conv1"), (3, "conv2"), (6, "conv3_1"), (8, "conv3_2"),
                                 (11, "conv4_1"), (13, "conv4_2"))
        ),
    ),
    # Lee et al.'s VGGish embeddings go through Google's post-processor, whose PCA
    # parameters (vggish_pca_params.npz) torchvggish republishes: `pca_eigen_vectors`
    # (128, 128) and `pca_means`, pickled NumPy arrays by all signs (torchvggish's loader
    # converts them with torch.as_tensor), which read_state_dict refuses: vggish.load_pca
    # reads arrays or tensors. The embedder's layers come from "vggish" above (one file, one
    # download rule), mapped by vggish.embedder_state_dict.
    "vggish_pca": KnownWeights(
        url=(
            "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
            "vggish_pca_params-970ea276.pth"
        ),
        sha256="970ea276",
        head_prefixes=(),
        description="VGGish PCA post-processing parameters (torchvggish copy of Google's)",
    ),
    # Lee et al.'s AENet (Takahashi et al., TMM 2018), as its authors' extractor downloads it
    # (github.com/znaoya/aenet, bin/download.sh): a Python 2 pickle of the Lasagne
    # parameters, and the mean and deviation of its input frames as .npy files, which
    # aenet.read_released_weights finds beside model.pkl. No checksum is published.
    "aenet": KnownWeights(
        url="https://data.vision.ee.ethz.ch/cvl/aenet_feat_data/model.pkl",
        sha256=None,
        head_prefixes=("prob.",),
        description="AENet, audio events (the authors' Lasagne weights)",
    ),
    "aenet_mean": KnownWeights(
        url="https://data.vision.ee.ethz.ch/cvl/aenet_feat_data/gmean.npy",
        sha256=None,
        head_prefixes=(),
        description="AENet's input mean (150 filterbank, delta and acceleration values)",
    ),
    "aenet_std": KnownWeights(
        url="https://data.vision.ee.ethz.ch/cvl/aenet_feat_data/gstd.npy",
        sha256=None,
        head_prefixes=(),
        description="AENet's input standard deviation (150 values)",
    ),
    # Two-phase's visual branches (models/twophase.py) fine-tune Keras' ImageNet
    # InceptionV3 and ConvNeXtTiny; these are torchvision's files of the same networks,
    # whose keys are our torchvision models' keys. InceptionV3: Google's weights, ported;
    # the auxiliary classifier (`AuxLogits`) and `fc` are ImageNet heads we do not build.
    "inception_v3": KnownWeights(
        url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
        sha256="0cc3c7bd",
        head_prefixes=("fc.", "AuxLogits."),
        description="Inception-v3, ImageNet (torchvision IMAGENET1K_V1, ported from TF)",
    ),
    # ConvNeXt-T: `classifier.0` is the LayerNorm after pooling, which we keep (Keras'
    # include_top=False model ends in it too); `classifier.2` is the ImageNet Linear.
    "convnext_tiny": KnownWeights(
        url="https://download.pytorch.org/models/convnext_tiny-983f1562.pth",
        sha256="983f1562",
        head_prefixes=("classifier.2.",),
        description="ConvNeXt-Tiny, ImageNet (torchvision IMAGENET1K_V1)",
    ),
    # RAFT, the GPU alternative to TV-L1 for TSN's flow (media/flow.py): torchvision's
    # files, whose keys are torchvision's RAFT keys (no renames, no classifier). Large:
    # torchvision's default, C_T_SKHT_V2 (Chairs + Things, then Sintel's fine-tuning mix);
    # small: its only current weights, C_T_V2 (Chairs + Things).
    "raft_large": KnownWeights(
        url="https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth",
        sha256="ff5fadd5",
        head_prefixes=(),
        description="RAFT (large) optical flow (torchvision Raft_Large_Weights.C_T_SKHT_V2)",
    ),
    "raft_small": KnownWeights(
        url="https://download.pytorch.org/models/raft_small_C_T_V2-01064c6d.pth",
        sha256="01064c6d",
        head_prefixes=(),
        description="RAFT (small) optical flow (torchvision Raft_Small_Weights.C_T_V2)",
    ),
    # IMD's visual streams start from ImageNet-21k ViTs (§3.2, Table 6's "IN-21K"): timm's
    # files of Google's AugReg in21k checkpoints (timm key names, which both streams keep;
    # models.vit_weights maps them). The paper names no file; these are the ViT-B/16 and
    # ViT-L/16 in21k weights timm loads by default. No checksum is published beside them.
    "vit_b16_in21k": KnownWeights(
        url=("https://huggingface.co/timm/vit_base_patch16_224.augreg_in21k/resolve/main/"
             "model.safetensors"),
        sha256=None,
        head_prefixes=("head.",),
        description="ViT-B/16, ImageNet-21k (timm vit_base_patch16_224.augreg_in21k)",
        file="vit_base_patch16_224.augreg_in21k.safetensors",
    ),
    "vit_l16_in21k": KnownWeights(
        url=("https://huggingface.co/timm/vit_large_patch16_224.augreg_in21k/resolve/main/"
             "model.safetensors"),
        sha256=None,
        head_prefixes=("head.",),
        description="ViT-L/16, ImageNet-21k (timm vit_large_patch16_224.augreg_in21k)",
        file="vit_large_patch16_224.augreg_in21k.safetensors",
    ),
    # IMD's frozen AST (§3.3): Gong et al.'s full-AudioSet model (fstride = tstride = 10,
    # weight-averaged, 0.4593 mAP), the link of their README. Its keys are `module.v.*`
    # (a timm DeiT) and `module.mlp_head.*`, which models.ast.released_to_ours maps and
    # checks key by key. The authors publish no checksum.
    "ast_audioset": KnownWeights(
        url="https://www.dropbox.com/s/ca0b1v2nlxzyeb4/audioset_10_10_0.4593.pth?dl=1",
        sha256=None,
        head_prefixes=(),
        description="AST, full AudioSet, 10-10 strides, weight-averaged (Gong et al. 2021)",
    ),
}


def known_weights(name: str) -> KnownWeights:
    try:
        return KNOWN_WEIGHTS[name]
    except KeyError:
        known = ", ".join(sorted(KNOWN_WEIGHTS))
        raise WeightsError(f"no known weights for backbone {name!r}; known: {known}") from None


def file_name_from_url(url: str) -> str:
    """The file name a URL downloads to: its last path segment, without the query."""
    name = Path(urlparse(url).path).name
    if not name:
        raise WeightsError(f"cannot derive a file name from the URL {url!r}")
    return name
