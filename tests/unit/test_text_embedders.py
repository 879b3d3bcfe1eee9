"""Text embedders for SAVLD: the packaged MiniLM, BERT from a checked folder (a tiny BERT
built here, downloaded from 127.0.0.1), and the GloVe / word2vec readers on small files."""

import hashlib
import json
import os
import shutil
import struct
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from httpserver import serve
from safetensors.torch import load_file, save_file

from avrepro.data.download import ChecksumError
from avrepro.features import text_embedders as te
from avrepro.features.text_embedders import EmbedderError, HubFile

WORDS = ["a", "b", "c", "dog", "puppy", "guitar"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tiny_bert(folder: Path, layers: int = 2) -> Path:
    """A seeded 2-layer BERT saved as bert-base-uncased is published: BertForPreTraining
    weights (bert.* and the cls.* heads), LayerNorm as gamma/beta, config.json, vocab.txt."""
    from transformers import BertConfig, BertForPreTraining

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=8,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=32,
    )
    BertForPreTraining(config).save_pretrained(folder)
    weights = load_file(folder / "model.safetensors")
    renamed = {
        k.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        ): v
        for k, v in weights.items()
    }
    save_file(renamed, folder / "model.safetensors", metadata={"format": "pt"})
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return folder


def hub_files(folder: Path, base_url: str) -> dict[str, HubFile]:
    return {
        name: HubFile(f"{base_url}/{name}", sha256(folder / name))
        for name in ("config.json", "vocab.txt", "model.safetensors")
    }


@pytest.fixture(scope="module")
def bert_source(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("bert-source"))


def test_bert_registry_pins_one_revision():
    assert set(te.BERT_FILES) == {"config.json", "vocab.txt", "model.safetensors"}
    for file in te.BERT_FILES.values():
        assert te.BERT_REVISION in file.url and len(file.sha256) == 64


def test_bert_download_check_and_embedding(bert_source, tmp_path):
    with serve(bert_source) as base_url:
        files = hub_files(bert_source, base_url)
        folder = te.fetch_model_folder(tmp_path / "bert", files)
    for name in files:
        assert (folder / name).read_bytes() == (bert_source / name).read_bytes()

    embed = te.bert_embedder(folder, files)
    vectors = embed(["dog", "a b c"])
    assert vectors.shape == (2, 8) and vectors.dtype == np.float32

    # By hand: the mean over [CLS] dog [SEP] of the second-to-last layer's states.
    from transformers import BertModel

    model = BertModel.from_pretrained(folder, local_files_only=True).eval()
    ids = torch.tensor([[VOCAB.index(t) for t in ("[CLS]", "dog", "[SEP]")]])
    with torch.no_grad():
        states = model(input_ids=ids, output_hidden_states=True).hidden_states[-2]
    np.testing.assert_allclose(vectors[0], states[0].mean(0).numpy(), atol=1e-5)
    # Padding in a batch leaves a label's vector as it is alone; upper case is lowered.
    np.testing.assert_allclose(embed(["DOG"])[0], vectors[0], atol=1e-5)
    last = te.bert_embedder(folder, files, layer=-1)(["dog"])
    assert not np.allclose(last[0], vectors[0])


def test_bert_download_refuses_a_wrong_checksum(bert_source, tmp_path):
    with serve(bert_source) as base_url:
        files = hub_files(bert_source, base_url)
        files["vocab.txt"] = HubFile(files["vocab.txt"].url, "0" * 64)
        with pytest.raises(ChecksumError):
            te.fetch_model_folder(tmp_path / "bert", files)
    assert not (tmp_path / "bert" / "vocab.txt").exists()


def test_bert_folder_is_checked_before_loading(bert_source, tmp_path):
    files = hub_files(bert_source, "http://127.0.0.1:9")
    with pytest.raises(EmbedderError, match="missing: compute jobs do not download"):
        te.bert_embedder(tmp_path, files)
    altered = {**files, "config.json": HubFile(files["config.json"].url, "f" * 64)}
    with pytest.raises(EmbedderError, match="config.json has sha256"):
        te.bert_embedder(bert_source, altered)


def test_bert_weights_that_leave_layers_unset_are_refused(bert_source, tmp_path):
    folder = tiny_bert(tmp_path / "bert")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    with pytest.raises(EmbedderError, match="weights missing for"):
        te.bert_embedder(folder, hub_files(folder, "http://127.0.0.1:9"))


# -- MiniLM -----------------------------------------------------------------------------


def fake_minilm_zip(tmp_path: Path, weights: bytes = b"weights") -> tuple[Path, str]:
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.safetensors", weights)
        archive.writestr("1_Pooling/config.json", "{}")
    return path, hashlib.sha256(weights).hexdigest()


def test_extract_minilm_once(tmp_path):
    zip_path, digest = fake_minilm_zip(tmp_path)
    folder = te.extract_minilm(tmp_path / "cache", zip_path, digest)
    assert folder == tmp_path / "cache" / te.MINILM_DIR
    assert (folder / "1_Pooling" / "config.json").is_file()
    zip_path.unlink()  # a second call uses the folder, not the zip
    assert te.extract_minilm(tmp_path / "cache", zip_path, digest) == folder
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [te.MINILM_DIR]


def test_extract_minilm_refuses_other_weights(tmp_path):
    zip_path, _ = fake_minilm_zip(tmp_path)
    with pytest.raises(EmbedderError, match="has sha256"):
        te.extract_minilm(tmp_path / "cache", zip_path, "0" * 64)
    assert list((tmp_path / "cache").iterdir()) == []  # no folder, no staging left


def test_extract_minilm_loser_of_a_race_uses_the_winners_folder(tmp_path, monkeypatch):
    zip_path, digest = fake_minilm_zip(tmp_path)
    rename = os.rename

    def another_job_wins(source, target):
        shutil.copytree(source, target)  # the other job's folder lands just before ours
        rename(source, target)  # fails: a non-empty folder is not replaced

    monkeypatch.setattr(os, "rename", another_job_wins)
    folder = te.extract_minilm(tmp_path / "cache", zip_path, digest)
    assert (folder / "model.safetensors").read_bytes() == b"weights"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [te.MINILM_DIR]


def test_extract_minilm_concurrent_jobs(tmp_path):
    zip_path, digest = fake_minilm_zip(tmp_path, b"x" * 100_000)
    with ThreadPoolExecutor(8) as pool:
        folders = list(
            pool.map(lambda _: te.extract_minilm(tmp_path / "c", zip_path, digest), range(8))
        )
    assert set(folders) == {tmp_path / "c" / te.MINILM_DIR}
    assert [p.name for p in (tmp_path / "c").iterdir()] == [te.MINILM_DIR]


def test_minilm_zip_is_found_without_importing_the_package():
    imported = "all_minilm_l6_v2" in sys.modules
    assert te.minilm_zip().name == "model.zip"
    assert ("all_minilm_l6_v2" in sys.modules) == imported


def test_minilm_embeddings(tmp_path):
    labels = ["dog", "puppy", "electric guitar"]
    embed = te.minilm_embedder(tmp_path)
    vectors = embed(labels)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.linalg.norm(vectors[0] - vectors[1]) < np.linalg.norm(vectors[0] - vectors[2])
    np.testing.assert_array_equal(embed(labels), vectors)
    # The same vectors as sentence-transformers assembling the model from modules.json.
    sentence_transformers = pytest.importorskip("sentence_transformers")
    reference = sentence_transformers.SentenceTransformer(
        str(tmp_path / te.MINILM_DIR), device="cpu", local_files_only=True
    ).encode(labels)
    np.testing.assert_allclose(vectors, reference, atol=1e-5)


# -- GloVe and word2vec -----------------------------------------------------------------

VECTORS = {
    "dog": [1.0, 0.0, 0.5],
    "puppy": [0.0, 1.0, 0.5],
    "guitar": [0.25, -2.0, 4.0],
    "electric": [2.0, 2.0, 2.0],
}


def write_glove(path: Path) -> Path:
    lines = [f"{w} {' '.join(str(v) for v in vec)}" for w, vec in VECTORS.items()]
    lines.insert(1, "dog house 9 9 9")  # glove.840B has a few tokens holding spaces
    lines.append("dog 7 7 7")  # a repeat: the first one wins
    path.write_text("\n".join(lines) + "\n")
    return path


def write_word2vec(path: Path, newline: bool = True) -> Path:
    body = b"".join(
        w.encode() + b" " + struct.pack("<3f", *vec) + (b"\n" if newline else b"")
        for w, vec in VECTORS.items()
    )
    path.write_bytes(f"{len(VECTORS)} 3\n".encode() + body)
    return path


def test_glove_reader_keeps_only_asked_words(tmp_path):
    found = te.read_glove_vectors(write_glove(tmp_path / "g.txt"), {"dog", "guitar", "cat"})
    assert set(found) == {"dog", "guitar"}
    np.testing.assert_array_equal(found["dog"], VECTORS["dog"])


@pytest.mark.parametrize("newline", [True, False])
def test_word2vec_reader_across_block_boundaries(tmp_path, monkeypatch, newline):
    monkeypatch.setattr(te, "READ_BYTES", 5)  # every record spans several reads
    path = write_word2vec(tmp_path / "w.bin", newline)
    found = te.read_word2vec_vectors(path, {"puppy", "electric", "cat"})
    assert set(found) == {"puppy", "electric"}
    np.testing.assert_array_equal(found["electric"], VECTORS["electric"])


def test_word2vec_reader_refuses_bad_files(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"vectors\n")
    with pytest.raises(EmbedderError, match="header"):
        te.read_word2vec_vectors(path, {"dog"})
    path.write_bytes(write_word2vec(tmp_path / "ok.bin").read_bytes()[:-5])
    with pytest.raises(EmbedderError, match="ends inside a record"):
        te.read_word2vec_vectors(path, {"dog"})


@pytest.mark.parametrize("kind", ["glove", "word2vec"])
def test_word_vector_embedders_average_known_words(tmp_path, kind):
    path = write_glove(tmp_path / "g.txt") if kind == "glove" else write_word2vec(tmp_path / "w")
    embed = te.make_embedder(kind, path)
    vectors = embed(["electric guitar", "dog", "dog unicorn"])
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[0], [1.125, 0.0, 3.0])
    np.testing.assert_allclose(vectors[2], VECTORS["dog"])  # "unicorn" is unknown: skipped
    with pytest.raises(EmbedderError, match=r"labels \['unicorn cat'\]"):
        embed(["dog", "unicorn cat"])


def test_unknown_embedder():
    with pytest.raises(EmbedderError, match="unknown embedder 'elmo'"):
        te.make_embedder("elmo", "x")


# -- the smoke tier's stand-ins -------------------------------------------------------------


def test_word_vector_standin_is_seeded_per_word(tmp_path):
    embed = te.standin_embedder("glove", tmp_path)
    vectors = embed(["dog", "dog house", "house"])
    assert vectors.shape == (3, te.WORD_VECTOR_DIM)
    np.testing.assert_allclose(vectors[1], (vectors[0] + vectors[2]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(te.standin_embedder("word2vec", tmp_path)(["dog"]), vectors[:1])
    assert not np.allclose(te.standin_embedder("glove", tmp_path, seed=1)(["dog"]), vectors[:1])


def test_bert_standin_is_bert_base_with_seeded_weights(tmp_path):
    embed = te.standin_embedder("bert", tmp_path)
    vectors = embed(["dog", "electric guitar"])
    assert vectors.shape == (2, 768) and np.isfinite(vectors).all()
    # Seeded: the same weights again (padding beside a longer label moves the float sums).
    np.testing.assert_allclose(te.standin_embedder("bert", tmp_path)(["dog"]), vectors[:1],
                               atol=1e-4)
    with pytest.raises(EmbedderError, match="no stand-in for embedder 'minilm'"):
        te.standin_embedder("minilm", tmp_path)
