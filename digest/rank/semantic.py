"""The pool's papers in a sentence encoder's space, when the model is at hand.

With the encoder (`encoder`), a paper's topical similarity to another is half their
TF-IDF cosine (shared words, near duplicates) and half the cosine of their sentence
embeddings (shared meaning), in place of latent semantic analysis of the pool: the
model has read far more than one day's papers, and it needs no eigendecomposition of
the pool. An interest phrase gets its own embedding, and its cosine to each paper says
as much as the phrase's pseudo-relevant seeds do (`relevance`).

What is embedded of a paper is `paper_text`, the one place that decides it: the cache
of stored vectors (`digest.state.vectors`) is only valid for that text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from digest.rank.encoder import TextEncoder
from digest.rank.text_index import (
    STOP_WORDS,
    Similarities,
    TextIndex,
    stems,
    topical_blend,
    word_cosines,
    words_of,
)

# One paper's embedding.
Vector = NDArray[np.float32]
# Several texts' embeddings, one row each.
Vectors = NDArray[np.float32]
# Texts in, unit vectors out: `Encoder.encode`, or a cache in front of it.
Encode = Callable[[Sequence[str]], NDArray[np.float32]]


def to_bytes(vector: NDArray[np.float32]) -> bytes:
    """A vector as the database keeps it: float32, this machine's byte order."""
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blob: bytes) -> NDArray[np.float32]:
    return np.frombuffer(blob, dtype=np.float32)


def stacked(vectors: Sequence[Vector]) -> Vectors:
    """Vectors as the rows of one matrix, as `Encoder.encode` gives them."""
    return np.array(vectors, dtype=np.float32)


def paper_text(title: str, abstract: str) -> str:
    """What the encoder reads of a paper: its title, then its abstract."""
    return f"{title}. {abstract}" if abstract else title


@dataclass(eq=False)
class Embedding:
    """The pool's documents as unit vectors (`vectors[i]` is document i), and the
    encoder for what is not in the pool: interest phrases and papers outside it.

    A phrase is embedded by its key (its stems, `relevance.PhraseTable.key`), each stem
    written as the word the pool most often writes it with, so that two wordings with
    one key ("Graph Neural Networks", "graph neural network") score alike, whatever
    the order they are asked in. Memos only: not thread-safe.
    """

    encoder: TextEncoder
    vectors: NDArray[np.float32]
    texts: Sequence[tuple[str, str]]
    _words: dict[str, str] | None = None
    _phrases: dict[tuple[str, ...], NDArray[np.float64]] = field(default_factory=dict)
    _papers: dict[str, NDArray[np.float32]] = field(default_factory=dict)

    def phrase_cosines(self, key: tuple[str, ...]) -> NDArray[np.float64]:
        """The cosine of every document to the phrase with this key."""
        found = self._phrases.get(key)
        if found is None:
            self.prepare([key])
            found = self._phrases[key]
        return found

    def prepare(self, keys: Sequence[tuple[str, ...]]) -> None:
        """Embed the phrases of these keys not embedded yet, in one call: a batch of
        readers asks for hundreds, and one at a time cost 10 times as much."""
        missing = [key for key in dict.fromkeys(keys) if key not in self._phrases]
        if not missing:
            return
        words = self._surface()
        texts = [" ".join(words.get(stem, stem) for stem in key) for key in missing]
        cosines = (self.encoder.encode(texts) @ self.vectors.T).astype(np.float64)
        self._phrases.update(zip(missing, cosines, strict=True))

    def cosines_of(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Texts x documents: the cosine of texts outside the pool to its documents."""
        missing = [text for text in dict.fromkeys(texts) if text not in self._papers]
        if missing:
            self._papers.update(zip(missing, self.encoder.encode(missing), strict=True))
        vectors = np.array([self._papers[text] for text in texts], dtype=np.float32)
        cosines: NDArray[np.float64] = (vectors @ self.vectors.T).astype(np.float64)
        return cosines

    def _surface(self) -> dict[str, str]:
        """Each stem of the pool -> the word the pool writes it with most (ties: the
        first in alphabetical order). Made on the first phrase: only then needed."""
        if self._words is None:
            counts = Counter(
                word.casefold()
                for title, abstract in self.texts
                for word in words_of(f"{title} {abstract}")
            )
            # No stop word: `stems` would drop it, and no key holds one.
            distinct = sorted(word for word in counts if word not in STOP_WORDS)
            best: dict[str, tuple[int, str]] = {}
            for word, stem in zip(distinct, stems(distinct), strict=True):
                ranked = (-counts[word], word)
                if stem not in best or ranked < best[stem]:
                    best[stem] = ranked
            self._words = {stem: word for stem, (_, word) in best.items()}
        return self._words


def embedded_similarities(index: TextIndex, vectors: NDArray[np.float32]) -> Similarities:
    """The pool's similarities with embeddings in place of latent semantic analysis:
    `topical` is half TF-IDF cosine, half embedding cosine (see `Similarities`)."""
    gram = word_cosines(index)
    topical = topical_blend(gram, (vectors @ vectors.T).astype(np.float64))
    empty = np.zeros((0, 0))
    return Similarities(
        cosine=gram.astype(np.float32),
        topical=topical.astype(np.float32),
        to_latent=empty,
        latent=empty,
    )


def pool_vectors(
    encode: Encode,
    papers: Sequence[tuple[str, str, str]],
    known: Mapping[str, NDArray[np.float32]],
) -> NDArray[np.float32]:
    """Documents x dimensions for (id, title, abstract) triples: each paper's vector
    from `known` (by id), the others encoded in one call."""
    missing = [(title, abstract) for key, title, abstract in papers if key not in known]
    fresh = iter(encode([paper_text(*pair) for pair in missing]) if missing else ())
    rows = [known[key] if key in known else next(fresh) for key, _, _ in papers]
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.array(rows, dtype=np.float32)
