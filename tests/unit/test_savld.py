"""SAVLD: label normalisation, k nearest neighbours, the dictionary file and Table 1's
comparison, with hand-made embeddings (the text embedders have their own tests)."""

import numpy as np
import pandas as pd
import pytest

from avrepro import savld
from avrepro.savld import DictionaryError


@pytest.mark.parametrize(
    "label, normalised",
    [
        ("Frying (food)", "frying food"),
        ("Fill (with liquid)", "fill with liquid"),
        ("skiing (not slalom or crosscountry)", "skiing not slalom or crosscountry"),
        ("Male speech, man speaking", "male speech, man speaking"),
        ("ApplyEyeMakeup", "apply eye makeup"),
        ("  clean and   jerk ", "clean and jerk"),
    ],
)
def test_normalise_label(label, normalised):
    assert savld.normalise_label(label) == normalised


VIDEO = np.array([[0.0, 0.0], [3.0, 4.0]])  # (V=2, D=2)
AUDIO = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0], [3.0, 3.0]])  # (A=4, D=2)


def test_distances_by_hand():
    euclidean = savld.pairwise_distances(VIDEO, AUDIO, "euclidean")
    np.testing.assert_allclose(euclidean[0], [1, 2, 1, np.sqrt(18)])
    np.testing.assert_allclose(euclidean[1], [np.sqrt(20), np.sqrt(13), np.sqrt(32), 1])
    manhattan = savld.pairwise_distances(VIDEO, AUDIO, "manhattan")
    np.testing.assert_allclose(manhattan[1], [6, 5, 8, 1])
    cosine = savld.pairwise_distances(VIDEO[1:], AUDIO, "cosine")
    np.testing.assert_allclose(cosine[0], [1 - 0.6, 1 - 0.8, 1.6, 1 - 7 / (5 * np.sqrt(2))])
    assert euclidean.dtype == np.float64


def test_cosine_refuses_a_zero_vector():
    with pytest.raises(ValueError, match="all zeros"):
        savld.pairwise_distances(VIDEO, AUDIO, "cosine")  # VIDEO[0] is the origin


def test_unknown_distance_and_shape_mismatch():
    with pytest.raises(ValueError, match="unknown distance 'hamming'"):
        savld.pairwise_distances(VIDEO, AUDIO, "hamming")
    with pytest.raises(ValueError, match="do not match"):
        savld.pairwise_distances(VIDEO, AUDIO[:, :1], "euclidean")


def test_nearest_breaks_ties_by_audio_index():
    # Audio 0 and 2 are both at distance 1 from the origin: the lower index comes first.
    order, dist = savld.nearest(VIDEO, AUDIO, k=3, distance="euclidean")
    assert order[0].tolist() == [0, 2, 1]
    assert order[1].tolist() == [3, 1, 0]
    np.testing.assert_allclose(dist[0], [1, 1, 2])
    reversed_audio = AUDIO[[2, 1, 0, 3]]
    assert savld.nearest(VIDEO, reversed_audio, k=2)[0][0].tolist() == [0, 2]


def test_nearest_refuses_k_outside_the_audio_labels():
    with pytest.raises(ValueError, match="k=5 is outside 1..4"):
        savld.nearest(VIDEO, AUDIO, k=5)


def table_embedder(vectors: dict[str, list[float]]):
    """An embedder that looks normalised labels up in `vectors`, recording what it saw."""
    seen = []

    def embed(labels: list[str]) -> np.ndarray:
        seen.extend(labels)
        return np.array([vectors[label] for label in labels], dtype=np.float32)

    embed.seen = seen
    return embed


VECTORS = {
    "frying food": [0.0, 0.0],
    "bee, wasp, etc.": [1.0, 0.0],
    "speech": [0.0, 2.0],
    "music": [-1.0, 0.0],
    "cooking": [0.1, 0.0],
    "talking": [0.0, 1.9],
}
AUDIO_LABELS = ["Frying (food)", "Bee, wasp, etc.", "Speech", "Music"]
VIDEO_LABELS = ["cooking", "talking"]


def test_build_dictionary_rows_keep_the_datasets_spellings():
    embed = table_embedder(VECTORS)
    embeddings = savld.embed_labels(VIDEO_LABELS, AUDIO_LABELS, embed)
    table = savld.build_dictionary(VIDEO_LABELS, AUDIO_LABELS, embeddings, "euclidean", k=2)
    assert list(table.columns) == savld.COLUMNS
    assert table["video_label"].tolist() == ["cooking", "cooking", "talking", "talking"]
    assert table["rank"].tolist() == [1, 2, 1, 2]
    assert table["audio_label"].tolist() == [
        "Frying (food)",
        "Bee, wasp, etc.",
        "Speech",
        "Frying (food)",
    ]
    np.testing.assert_allclose(table["distance"], [0.1, 0.9, 0.1, 1.9], rtol=1e-6)
    assert "frying food" in embed.seen  # the embedder sees normalised labels


def test_build_dictionary_checks_the_embedder_output():
    with pytest.raises(ValueError, match="shape"):
        savld.embed_labels(["a"], ["b"], lambda labels: np.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        savld.embed_labels(["a"], ["b"], lambda labels: np.full((1, 2), np.nan))


def test_dictionary_file_is_byte_identical_and_reads_back(tmp_path):
    paths = []
    for run in range(2):
        embeddings = savld.embed_labels(VIDEO_LABELS, AUDIO_LABELS, table_embedder(VECTORS))
        table = savld.build_dictionary(VIDEO_LABELS, AUDIO_LABELS, embeddings, "euclidean", k=3)
        paths.append(tmp_path / f"run{run}" / "dict.csv")
        savld.write_dictionary(table, paths[-1])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    text = paths[0].read_text()
    assert text.splitlines()[:3] == [
        "video_label,rank,audio_label,distance",
        "cooking,1,Frying (food),0.100000",
        'cooking,2,"Bee, wasp, etc.",0.900000',
    ]
    assert "\r" not in text
    assert savld.read_dictionary(paths[0], k=2) == {
        "cooking": ["Frying (food)", "Bee, wasp, etc."],
        "talking": ["Speech", "Frying (food)"],
    }


def test_read_dictionary_keeps_labels_that_look_missing(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("video_label,rank,audio_label,distance\nNA,1,None,0.5\n")
    assert savld.read_dictionary(path, k=1) == {"NA": ["None"]}


@pytest.mark.parametrize(
    "text, k, message",
    [
        ("video_label,rank,audio_label\na,1,b\n", 1, "expected the columns"),
        ("video_label,rank,audio_label,distance\n", 1, "no row"),
        ("video_label,rank,audio_label,distance\na,2,b,0.1\n", 1, r"ranks of 'a' are \[2\]"),
        ("video_label,rank,audio_label,distance\na,1,b,0.1\n", 2, "1 neighbours, k=2"),
    ],
)
def test_read_dictionary_refuses_other_files(tmp_path, text, k, message):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DictionaryError, match=message):
        savld.read_dictionary(path, k)


def test_write_dictionary_checks_columns(tmp_path):
    with pytest.raises(DictionaryError, match="columns"):
        savld.write_dictionary(pd.DataFrame({"a": [1]}), tmp_path / "d.csv")


def test_overlap_at_k_compares_normalised_labels():
    ours = ["Frying (food)", "Speech", "Music", "Bird", "Insect", "Chime"]
    paper = ["frying food", "speech", "chime", "applause", "rustle"]
    assert savld.overlap_at_k(ours, paper, k=5) == 2  # chime is our 6th
    assert savld.overlap_at_k(ours, paper, k=1) == 1


def test_compare_table1():
    video = ["Cooking (food)", "talking"]
    embed = table_embedder({**VECTORS, "cooking food": [0.1, 0.0]})
    embeddings = savld.embed_labels(video, AUDIO_LABELS, embed)
    table = savld.build_dictionary(video, AUDIO_LABELS, embeddings, "euclidean", k=2)
    paper = {"cooking food": ["frying food", "wind"], "talking": ["speech", "music"]}
    compared = savld.compare_table1(table, paper, k=2)
    assert compared.columns.tolist() == ["label", "ours", "paper", "overlap_at_2"]
    assert compared.to_dict("records") == [
        {
            "label": "cooking food",
            "ours": "frying food;bee, wasp, etc.",
            "paper": "frying food;wind",
            "overlap_at_2": 1,
        },
        {
            "label": "talking",
            "ours": "speech;frying food",
            "paper": "speech;music",
            "overlap_at_2": 1,
        },
    ]
    with pytest.raises(DictionaryError, match="no video label 'yawning'"):
        savld.compare_table1(table, {"yawning": ["snoring"]}, k=2)
    with pytest.raises(DictionaryError, match="k=5"):
        savld.compare_table1(table, paper, k=5)
