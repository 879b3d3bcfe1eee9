"""SAVLD, IMD's semantic audio-video label dictionary (paper §3.1, Tables 1-2).

Every video class label and every audio (AudioSet) label is embedded as a sentence by a
language model (avrepro.features.text_embedders); each video label then keeps its k nearest
audio labels. The dictionary is a results file, one row per (video label, neighbour):

    video_label,rank,audio_label,distance      ranks 1..k, nearest first

Labels are kept in the datasets' own spellings; `normalise_label` gives the text that is
embedded and compared with the paper's Table 1, which prints labels that way ("Frying (food)"
appears as "frying food").
"""

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from avrepro.data.audioset import split_camel_case

Embedder = Callable[[list[str]], np.ndarray]  # labels -> (N, D) float32

DISTANCES = ("euclidean", "manhattan", "cosine")  # Table 2's matching methods
COLUMNS = ["video_label", "rank", "audio_label", "distance"]
# Fixed-point with enough digits to order every neighbour list as the float64 distances do,
# and no more, so that the file is the same bytes from one run to the next.
FLOAT_FORMAT = "%.6f"


class DictionaryError(ValueError):
    """A dictionary file or request that does not fit the SAVLD layout."""


def normalise_label(label: str) -> str:
    """The label as Table 1 prints it: words split, lower case, no parentheses.

    "Frying (food)" -> "frying food"; UCF101's "ApplyEyeMakeup" -> "apply eye makeup".
    """
    text = re.sub(r"[()]", " ", split_camel_case(label)).lower()
    return " ".join(text.split())


def kinetics400_labels() -> list[str]:
    """Kinetics-400's 400 classes, as torchvision's Kinetics-400 weights list them (the
    dataset's own class list, in its order), whichever classes a tier has downloaded."""
    from torchvision.models.video import R3D_18_Weights

    return list(R3D_18_Weights.KINETICS400_V1.meta["categories"])


def video_vocabulary(vocabulary: str, manifest_labels: Sequence[str]) -> list[str]:
    """The video labels a dictionary maps: "kinetics400", all 400 (the paper's Table 1 has
    labels any subset may lack); "manifest", the dataset's own classes (UCF-101's 101).
    Every manifest class must be among them."""
    if vocabulary == "manifest":
        return list(manifest_labels)
    if vocabulary != "kinetics400":
        raise DictionaryError(f"vocabulary {vocabulary!r} is neither 'kinetics400' nor 'manifest'")
    labels = kinetics400_labels()
    unknown = sorted(set(manifest_labels) - set(labels))
    if unknown:
        raise DictionaryError(f"classes {unknown[:5]} of the manifest are not Kinetics-400's")
    return labels


def pairwise_distances(video_emb: np.ndarray, audio_emb: np.ndarray, distance: str) -> np.ndarray:
    """(V, D) and (A, D) embeddings -> (V, A) float64 distances.

    Computed in float64, one video label at a time with element-wise operations (no BLAS
    matrix product, whose summation order depends on the machine and thread count), so that
    the same embeddings give the same distances, and the same neighbour order, every run.
    cosine is the cosine distance 1 - cos(v, a).
    """
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}; known: {', '.join(DISTANCES)}")
    video = np.asarray(video_emb, dtype=np.float64)  # (V, D)
    audio = np.asarray(audio_emb, dtype=np.float64)  # (A, D)
    if video.ndim != 2 or audio.ndim != 2 or video.shape[1] != audio.shape[1]:
        raise ValueError(f"embeddings of shapes {video.shape} and {audio.shape} do not match")
    if distance == "cosine":
        video, audio = _unit_rows(video, "video"), _unit_rows(audio, "audio")
    rows = []
    for vector in video:
        difference = audio - vector  # (A, D)
        if distance == "euclidean":
            rows.append(np.sqrt(np.einsum("ad,ad->a", difference, difference)))
        elif distance == "manhattan":
            rows.append(np.abs(difference).sum(axis=1))
        else:
            rows.append(1.0 - np.einsum("ad,d->a", audio, vector))
    return np.stack(rows)  # (V, A)


def _unit_rows(embeddings: np.ndarray, kind: str) -> np.ndarray:
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)  # (N, 1)
    if not norms.all():
        raise ValueError(f"a {kind} embedding is all zeros: its cosine distance is undefined")
    return embeddings / norms


def nearest(
    video_emb: np.ndarray, audio_emb: np.ndarray, k: int, distance: str = "euclidean"
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest audio labels of each video label: (indexes (V, k) int, distances (V, k)
    float64), nearest first; equal distances are ordered by audio label index."""
    dist = pairwise_distances(video_emb, audio_emb, distance)  # (V, A)
    if not 1 <= k <= dist.shape[1]:
        raise ValueError(f"k={k} is outside 1..{dist.shape[1]} (the number of audio labels)")
    order = np.empty((dist.shape[0], k), dtype=np.int64)
    for row, values in enumerate(dist):
        # lexsort's last key is the primary one: distance, then audio label index.
        order[row] = np.lexsort((np.arange(values.size), values))[:k]
    return order, np.take_along_axis(dist, order, axis=1)


class Embeddings(NamedTuple):
    video: np.ndarray  # (V, D), one row per video label
    audio: np.ndarray  # (A, D), one row per audio label


def embed_labels(
    video_labels: Sequence[str], audio_labels: Sequence[str], embedder: Embedder
) -> Embeddings:
    """Both label lists through one embedder, which sees the normalised labels."""
    return Embeddings(
        _embed(embedder, video_labels, "video"), _embed(embedder, audio_labels, "audio")
    )


def build_dictionary(
    video_labels: Sequence[str],
    audio_labels: Sequence[str],
    embeddings: Embeddings,
    distance: str = "euclidean",
    k: int = 10,
) -> pd.DataFrame:
    """SAVLD: the k nearest audio labels of every video label, as rows of COLUMNS in video
    label order, ranks 1..k; the rows keep the datasets' spellings."""
    order, dist = nearest(embeddings.video, embeddings.audio, k, distance)  # (V, k) each
    return pd.DataFrame(
        {
            "video_label": np.repeat(np.asarray(video_labels, dtype=object), k),
            "rank": np.tile(np.arange(1, k + 1), len(video_labels)),
            "audio_label": np.asarray(audio_labels, dtype=object)[order.ravel()],
            "distance": dist.ravel(),
        }
    )


def _embed(embedder: Embedder, labels: Sequence[str], kind: str) -> np.ndarray:
    if not labels:
        raise ValueError(f"no {kind} labels to embed")
    embeddings = np.asarray(embedder([normalise_label(label) for label in labels]))
    if embeddings.ndim != 2 or embeddings.shape[0] != len(labels):
        raise ValueError(
            f"the embedder returned shape {embeddings.shape} for {len(labels)} {kind} labels"
        )
    if not np.isfinite(embeddings).all():
        raise ValueError(f"the embedder returned non-finite values for the {kind} labels")
    return embeddings


def write_dictionary(dictionary: pd.DataFrame, path: str | Path) -> None:
    """The dictionary as CSV: COLUMNS, distances in FLOAT_FORMAT, "\\n" line ends, labels
    quoted only where they hold a comma or a quote (AudioSet's "Bee, wasp, etc.")."""
    if list(dictionary.columns) != COLUMNS:
        raise DictionaryError(f"expected the columns {COLUMNS}, got {list(dictionary.columns)}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    dictionary.to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def read_dictionary(path: str | Path, k: int) -> dict[str, list[str]]:
    """{video label: its first k audio labels, nearest first}, in the file's label order.

    Raises DictionaryError when the file is not a SAVLD dictionary (columns, ranks that are
    not 1, 2, ... per label) or holds fewer than k neighbours for a label.
    """
    table = read_table(path)
    neighbours: dict[str, list[str]] = {}
    for label, rows in table.groupby("video_label", sort=False):
        ranks = rows["rank"].tolist()
        if ranks != list(range(1, len(ranks) + 1)):
            raise DictionaryError(f"{path}: ranks of {label!r} are {ranks}, not 1, 2, ...")
        if len(ranks) < k:
            raise DictionaryError(f"{path}: {label!r} has {len(ranks)} neighbours, k={k} asked")
        neighbours[label] = rows["audio_label"].tolist()[:k]
    return neighbours


def read_table(path: str | Path) -> pd.DataFrame:
    """A dictionary file as its rows (COLUMNS), checked; labels stay labels ("None")."""
    # keep_default_na=False: a label such as "None" or "NA" is a label, not a missing value.
    table = pd.read_csv(path, dtype={"video_label": str, "audio_label": str}, keep_default_na=False)
    if list(table.columns) != COLUMNS:
        raise DictionaryError(f"{path}: expected the columns {COLUMNS}, got {list(table.columns)}")
    if table.empty:
        raise DictionaryError(f"{path}: the dictionary holds no row")
    return table


def overlap_at_k(ours: Sequence[str], paper: Sequence[str], k: int = 5) -> int:
    """How many of the paper's first k audio labels are among our first k (normalised)."""
    mine = {normalise_label(label) for label in ours[:k]}
    return len(mine & {normalise_label(label) for label in paper[:k]})


def compare_table1(
    dictionary: pd.DataFrame, paper_rows: Mapping[str, Sequence[str]], k: int = 5
) -> pd.DataFrame:
    """Table 1 beside our dictionary: for each of the paper's video labels, our first k audio
    labels and the paper's (both normalised, ";"-joined, as the paper prints them) and
    overlap_at_{k}, the number they share. Labels are matched after normalisation."""
    ours_by_label = {
        normalise_label(label): rows.sort_values("rank")["audio_label"].tolist()
        for label, rows in dictionary.groupby("video_label", sort=False)
    }
    rows = []
    for label, paper in paper_rows.items():
        ours = ours_by_label.get(normalise_label(label))
        if ours is None:
            raise DictionaryError(f"the dictionary has no video label {label!r}")
        if len(ours) < k:
            raise DictionaryError(f"the dictionary has {len(ours)} neighbours of {label!r}, k={k}")
        rows.append(
            {
                "label": normalise_label(label),
                "ours": ";".join(normalise_label(a) for a in ours[:k]),
                "paper": ";".join(normalise_label(a) for a in paper[:k]),
                f"overlap_at_{k}": overlap_at_k(ours, paper, k),
            }
        )
    return pd.DataFrame(rows, columns=["label", "ours", "paper", f"overlap_at_{k}"])
