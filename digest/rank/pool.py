"""An edition's candidates indexed once, for every subscriber's ranking.

The pool holds what does not depend on the reader: the text index and phrase table
(`text_index`, `relevance`), the TF-IDF cosines used for diversity, the topical
similarities that likes and dislikes spread by and how close each paper is to the
others in general, the signals of each paper (`signals`) weighted into one base score,
which papers carry which category and author, and every identity key of every paper (a
vote may name a paper by its arXiv id, DOI or title key).
Candidates are kept in id order; document i of every array is candidate i.

Given the sentence encoder (`encoder`, `semantic`), the topical similarities come from
the papers' embeddings instead of latent semantic analysis of the pool, and interest
phrases are embedded too. `vectors` may hold papers' embeddings already made (the
database keeps them, `digest.state.vectors`): only the others are encoded.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from digest.identity import identity_keys
from digest.models import Candidate
from digest.rank.encoder import TextEncoder
from digest.rank.relevance import PhraseTable, quantize
from digest.rank.semantic import Embedding, embedded_similarities, paper_text, pool_vectors
from digest.rank.signals import signals
from digest.rank.text_index import (
    Similarities,
    build_index,
    similarities,
    topical_blend,
    vectorize,
)

# The signals' weights in every score (see `digest.rank.ranker`): together at most 0.35.
TRENDING_WEIGHT = 0.2
FRESHNESS_WEIGHT = 0.1
CODE_WEIGHT = 0.05


@dataclass(frozen=True, slots=True)
class Labels:
    """Which documents carry which label (a category, an author): labels x documents."""

    columns: dict[str, int]
    matrix: sparse.csr_matrix

    def hits(self, wanted: Sequence[Iterable[str]], size: int) -> NDArray[np.bool_]:
        """Profiles x documents: whether the document carries one of the profile's labels."""
        rows, cols = [], []
        for row, labels in enumerate(wanted):
            for label in labels:
                column = self.columns.get(label)
                if column is not None:
                    rows.append(row)
                    cols.append(column)
        if not rows:
            return np.zeros((len(wanted), size), dtype=bool)
        query = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(wanted), len(self.columns))
        )
        hits: NDArray[np.bool_] = (query @ self.matrix).toarray() > 0
        return hits


@dataclass(frozen=True, slots=True)
class Typical:
    """How close each document is to the pool's other documents in general: the mean
    and standard deviation of its topical similarities to them. A paper on a broad
    subject is close to many ("a hub"); likes and dislikes are measured against this,
    so that a hub does not come first for whatever a reader liked (`taste`)."""

    mean: NDArray[np.float64]
    spread: NDArray[np.float64]


def typical_closeness(topical: NDArray[np.float32]) -> Typical:
    """Each document's mean and spread of topical similarity to the others (itself left
    out); a pool of one has no others: mean 0, spread 0."""
    size = len(topical)
    others = max(size - 1, 1)
    values = topical.astype(np.float64)
    own = np.diag(values)
    mean = (values.sum(axis=0) - own) / others
    squares = (np.square(values).sum(axis=0) - np.square(own)) / others
    spread = np.sqrt(np.maximum(squares - np.square(mean), 0.0))
    return Typical(mean, spread)


@dataclass(frozen=True, slots=True, eq=False)
class Pool:
    """An edition's candidates, indexed once for every subscriber.

    `candidates` are in id order, and document i of every array is candidates[i].
    Frozen but for `phrases`, a memo of the interest phrases seen so far.
    """

    candidates: tuple[Candidate, ...]
    today: date
    phrases: PhraseTable
    cosine: NDArray[np.float32]
    base: NDArray[np.float64]
    signal_reasons: tuple[tuple[str, ...], ...]
    categories: Labels
    uncategorized: NDArray[np.bool_]
    authors: Labels
    position: dict[str, int]
    similar: Similarities
    keys: dict[str, int]
    typical: Typical
    embedding: Embedding | None = None

    @property
    def size(self) -> int:
        return len(self.candidates)

    def topical_to(self, papers: Sequence[tuple[str, str]]) -> NDArray[np.float64]:
        """(title, abstract) pairs outside the pool x documents: their topical similarity
        to the pool's documents, as `similar.topical` measures it inside."""
        index = self.phrases.index
        cosines = np.asarray((vectorize(index, papers) @ index.vectors.T).toarray())
        if self.embedding is None:
            return self.similar.topical_to(cosines.astype(np.float64))
        meaning = self.embedding.cosines_of([paper_text(*pair) for pair in papers])
        return topical_blend(cosines, meaning)


def normalize_name(name: str) -> str:
    """An author name as compared: accents, case, punctuation and spacing folded."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join("".join(c if c.isalnum() else " " for c in plain.casefold()).split())


def author_names(authors: Iterable[str]) -> list[str]:
    return [name for name in map(normalize_name, authors) if name]


def _category_labels(category: str) -> tuple[str, ...]:
    """A paper category and its archive: "cs.LG" -> ("cs.lg", "cs")."""
    label = category.strip().casefold()
    archive = label.split(".", 1)[0]
    return (label, archive) if archive != label else (label,)


def _labels(per_document: Sequence[Iterable[str]]) -> Labels:
    sets = [sorted(set(labels)) for labels in per_document]
    columns = {label: i for i, label in enumerate(sorted({x for s in sets for x in s}))}
    rows = [columns[label] for labels in sets for label in labels]
    docs = [doc for doc, labels in enumerate(sets) for _ in labels]
    matrix = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, docs)), shape=(len(columns), len(per_document))
    )
    return Labels(columns, matrix)


def build_pool(
    candidates: Sequence[Candidate],
    *,
    today: date,
    encoder: TextEncoder | None = None,
    vectors: Mapping[str, NDArray[np.float32]] | None = None,
) -> Pool:
    """Index the candidates of an edition once. Of two candidates with one id, the first
    is kept. With `encoder`, papers are compared by meaning too (`vectors`: embeddings
    already made, by candidate id)."""
    unique: dict[str, Candidate] = {}
    for candidate in candidates:
        unique.setdefault(candidate.id, candidate)
    ordered = tuple(unique[key] for key in sorted(unique))
    texts = [(c.paper.title, c.paper.abstract) for c in ordered]
    index = build_index(texts)
    embedding = None
    if encoder is None or not ordered:
        similar = similarities(index)
    else:
        papers = [(c.id, c.paper.title, c.paper.abstract) for c in ordered]
        embedded = pool_vectors(encoder.encode, papers, vectors or {})
        embedding = Embedding(encoder, embedded, texts)
        similar = embedded_similarities(index, embedded)
    found = [signals(candidate, today) for candidate in ordered]
    base = np.array(
        [
            TRENDING_WEIGHT * s.trending + FRESHNESS_WEIGHT * s.freshness + CODE_WEIGHT * s.code
            for s in found
        ],
        dtype=np.float64,
    )
    return Pool(
        candidates=ordered,
        today=today,
        phrases=PhraseTable(index, similar.topical, embedding),
        cosine=similar.cosine,
        base=quantize(base),
        signal_reasons=tuple(s.reasons for s in found),
        categories=_labels(
            [[x for cat in c.paper.categories for x in _category_labels(cat)] for c in ordered]
        ),
        uncategorized=np.array([not c.paper.categories for c in ordered], dtype=bool),
        authors=_labels([author_names(c.paper.authors) for c in ordered]),
        position={c.id: i for i, c in enumerate(ordered)},
        similar=similar,
        keys=_identity_positions(ordered),
        typical=typical_closeness(similar.topical),
        embedding=embedding,
    )


def _identity_positions(ordered: Sequence[Candidate]) -> dict[str, int]:
    """Every key a candidate is known by -> its position; its canonical id wins a clash."""
    keys = {key: i for i, c in enumerate(ordered) for key in identity_keys(c.paper)}
    keys.update((c.id, i) for i, c in enumerate(ordered))
    return keys
