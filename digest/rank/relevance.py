"""How relevant each document of a pool is to one interest phrase: a sparse row.

Two parts, each in [0, 1]:

- lexical: the phrase itself (stems, defined acronyms: see `text_index`) counted in the
  title and the abstract, a title occurrence worth `TITLE_WEIGHT` abstract ones, through
  BM25's saturation and length normalization: tf / (tf + k1 * (1 - b + b * len / avglen)).
  One title match in a paper of average length gives 0.71, one abstract match 0.45.
- semantic: pseudo-relevance feedback (Rocchio). The `SEEDS` documents matching the
  phrase best, topped up when fewer match by those holding all its words (when none
  does either, by those holding most of them: `MOST_WORDS`), stand for the topic;
  every document is scored by its mean topical similarity to them (a seed by its
  similarity to the other seeds) plus `QUERY_WEIGHT` times its cosine to the phrase's
  words (with the sentence encoder, `semantic`: `EMBEDDED_QUERY_WEIGHT` times its
  cosine to the phrase's embedding, which knows what the phrase means). Scores are
  standardized over the pool: `Z_FLOOR` standard deviations above the mean starts to
  count, `Z_FULL` counts fully. This is how "video understanding" finds papers on action
  recognition that never say the phrase. Without the encoder, a phrase with no seed gets
  no semantic relevance: a single word of it ("graph" of "graph neural networks") is
  not enough to seed a topic, nor are the words the pool says of a phrase one of whose
  words it never says ("protein" of "protein folding"); with it, the phrase's
  embedding alone scores, for papers at least `EMBEDDED_FLOOR` close to it. A pool with
  nothing on a topic then mostly sends nothing on it, rather than the tail of the
  standardized scores that any pool has.

topic = LEXICAL_SHARE * lexical + (1 - LEXICAL_SHARE) * semantic says whether a document
is about the phrase at all. Among the documents it finds (topic > 0), those that say the
phrase's words more often, apart or together, come first: relevance = (1 - WORDS_SHARE) *
topic + WORDS_SHARE * words, where words is BM25 of the phrase's separate words (the
idf-weighted mean of each word's saturated, title-weighted frequency, in [0, 1)). It is
what plain BM25 gets right and a phrase match misses ("memory-efficient training" for
a paper on training GNNs that exceed CPU memory): on the judged seed pool, mean nDCG@10
0.846 -> 0.860 with the sentence encoder and 0.812 -> 0.816 by words, and the memory
profile from below BM25 to above it. It only reorders: a document the topic does not
find (one that merely says "training") stays out. Values are rounded to multiples of
2**-20 so that any sum of them is exact, whatever its order: a profile scores the same
alone or in a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from digest.rank.semantic import Embedding
from digest.rank.text_index import (
    TITLE,
    TITLE_WEIGHT,
    TextIndex,
    near_counts,
    phrase_counts,
    phrase_stems,
    phrase_terms,
    positions,
)

K1 = 1.2
NEAR_SLACK = 2
NEAR_WEIGHT = 0.5
B = 0.75
SEEDS = 10
QUERY_WEIGHT = 0.25
# A phrase's embedding says as much about its topic as its seeds together: with it,
# "network traffic analysis" finds TLS and link-load papers where seeds holding its
# three words were half road traffic (nDCG@10 0.35 -> 0.69 on the judged set).
EMBEDDED_QUERY_WEIGHT = 1.0
# A phrase no paper says, nor holds all the words of, has only its embedding to go by;
# standardized over the pool, that always leaves a tail, even for a topic the pool holds
# nothing about. There a paper must also come this close to the phrase in absolute terms
# (all-MiniLM-L6-v2, the model the encoder pins): among the seed papers "protein folding"
# then finds none instead of ten, while paraphrases of the judged profiles ("radiology
# scans") lose nothing (0.22 costs that one 0.07 nDCG@10, 0.3 costs it 0.29).
EMBEDDED_FLOOR = 0.2
# A phrase that no paper says, nor holds every word of, is seeded by the papers holding
# most of its words: 75% of them and at least two, as Elasticsearch's
# minimum_should_match of "75%" would have it. A reader who writes "network pruning and
# quantization" means papers on either; no seed paper has all three words (by words,
# nDCG@10 of that wording for the compression profile 0 -> 0.887).
MOST_WORDS = 0.75
Z_FLOOR = 1.5
Z_FULL = 4.0
# Documents kept per phrase by semantic relevance: a digest needs far fewer.
SEMANTIC_KEEP = 100
LEXICAL_SHARE = 0.6
# 0.10-0.17 all lift every judged profile to BM25 or above with the encoder (0.25 costs
# video and compression 0.03-0.06).
WORDS_SHARE = 0.15
_QUANTUM = 2.0**20


def quantize(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Values rounded to multiples of 2**-20, whose sums are exact in float64."""
    rounded: NDArray[np.float64] = np.round(values * _QUANTUM) / _QUANTUM
    return rounded


@dataclass(frozen=True, slots=True)
class PhraseRow:
    """One phrase against the pool, as sparse rows (document indices ascending): the
    documents it matches lexically, and those relevant to it with their relevance and
    its semantic part."""

    matched: NDArray[np.int32]
    docs: NDArray[np.int32]
    relevance: NDArray[np.float32]
    semantic: NDArray[np.float32]


_NO_DOCS = np.zeros(0, dtype=np.int32)
_NO_VALUES = np.zeros(0, dtype=np.float32)
EMPTY_ROW = PhraseRow(_NO_DOCS, _NO_DOCS, _NO_VALUES, _NO_VALUES)


def lexical_scores(index: TextIndex, terms: tuple[int, ...]) -> NDArray[np.float64]:
    """BM25-saturated, title-weighted phrase frequency of every document, in [0, 1)."""
    exact = phrase_counts(index, terms)
    loose = np.maximum(near_counts(index, terms, NEAR_SLACK) - exact, 0)
    counts = exact + NEAR_WEIGHT * loose
    tf = TITLE_WEIGHT * counts[:, 0] + counts[:, 1]
    return quantize(tf / (tf + _length_norm(index)))


def _length_norm(index: TextIndex) -> NDArray[np.float64]:
    """BM25's k1 * (1 - b + b * length / average length) of every document."""
    norm: NDArray[np.float64] = K1 * (
        1.0 - B + B * index.lengths / max(float(index.lengths.mean()), 1.0)
    )
    return norm


def match_row(index: TextIndex, stems: tuple[str, ...]) -> PhraseRow:
    """The lexical matches alone: all an exclude phrase needs."""
    terms = phrase_terms(index, stems)
    if terms is None:
        return EMPTY_ROW
    matched = np.flatnonzero(lexical_scores(index, terms)).astype(np.int32)
    return PhraseRow(matched, _NO_DOCS, _NO_VALUES, _NO_VALUES)


def phrase_row(
    index: TextIndex,
    topical: NDArray[np.float32],
    stems: tuple[str, ...],
    embedding: Embedding | None = None,
) -> PhraseRow:
    """Lexical and semantic relevance of every document to the phrase with these stems
    (with `embedding`, the phrase's meaning counts too)."""
    if index.size == 0:
        return EMPTY_ROW
    terms = phrase_terms(index, stems)
    lexical = lexical_scores(index, terms) if terms else np.zeros(index.size)
    words = sorted({index.vocabulary[stem] for stem in stems if stem in index.vocabulary})
    # A word the pool never says leaves no paper holding all of them: "protein folding"
    # must not be seeded by a paper naming a protein dataset, whatever else it says.
    seeds = _seeds(index, lexical, words if terms else [])
    if embedding is None:
        semantic = _semantic(topical, seeds, QUERY_WEIGHT * _query_cosines(index, words))
    else:
        cosines = embedding.phrase_cosines(stems)
        query = EMBEDDED_QUERY_WEIGHT * cosines
        if len(seeds):
            semantic = _semantic(topical, seeds, query)
        else:  # No paper says the phrase or all its words: its meaning alone.
            semantic = _standardized(query)
            semantic[cosines < EMBEDDED_FLOOR] = 0.0
    topic = LEXICAL_SHARE * lexical + (1.0 - LEXICAL_SHARE) * semantic
    relevance = np.zeros(index.size)
    found = topic > 0
    if found.any():
        words_part = _word_scores(index, words)[found]
        relevance[found] = (1.0 - WORDS_SHARE) * topic[found] + WORDS_SHARE * words_part
    relevance = quantize(relevance)
    docs = np.flatnonzero(relevance).astype(np.int32)
    matched = np.flatnonzero(lexical).astype(np.int32)
    # Multiples of 2**-20 under 2 are exact in float32: half the memory of a memo row.
    return PhraseRow(
        matched, docs, relevance[docs].astype(np.float32), semantic[docs].astype(np.float32)
    )


def _word_scores(index: TextIndex, words: list[int]) -> NDArray[np.float64]:
    """BM25 of the phrase's words, each counted wherever it is (a title occurrence worth
    `TITLE_WEIGHT`), saturated and length-normalized as `lexical_scores`, averaged with
    their idf as weights: in [0, 1)."""
    if not words:
        return np.zeros(index.size)
    norm = _length_norm(index)
    total = np.zeros(index.size)
    for word in words:
        segments = index.segment_of[positions(index, word)]
        in_title = segments % 2 == TITLE
        tf = np.bincount(
            segments // 2, weights=np.where(in_title, TITLE_WEIGHT, 1.0), minlength=index.size
        )
        total += index.idf[word] * tf / (tf + norm)
    return total / float(index.idf[words].sum())


def _ranked(values: NDArray[np.float64], count: int) -> NDArray[np.int64]:
    """The indices of the `count` largest positive values, largest first, ties by index."""
    candidates = np.flatnonzero(values > 0)
    order = np.lexsort((candidates, -values[candidates]))
    ranked: NDArray[np.int64] = candidates[order[:count]]
    return ranked


def _query_cosines(index: TextIndex, words: list[int]) -> NDArray[np.float64]:
    """Cosine of every document to the TF-IDF vector of the phrase's words."""
    if not words:
        return np.zeros(index.size)
    weights = index.idf[words] / np.linalg.norm(index.idf[words])
    columns = index.columns
    spans = [slice(columns.indptr[w], columns.indptr[w + 1]) for w in words]
    docs = np.concatenate([columns.indices[span] for span in spans])
    values = np.concatenate(
        [columns.data[span] * weight for span, weight in zip(spans, weights, strict=True)]
    )
    return np.bincount(docs, weights=values, minlength=index.size).astype(np.float64)


def _seeds(index: TextIndex, lexical: NDArray[np.float64], words: list[int]) -> NDArray[np.int64]:
    """The pseudo-relevant documents: best phrase matches, then documents with every word;
    when none has a match or every word, documents with most of them (`MOST_WORDS`)."""
    seeds = _ranked(lexical, SEEDS)
    if len(seeds) >= SEEDS or not words:
        return seeds
    held = np.zeros(index.size, dtype=np.int64)
    for word in words:
        present = np.zeros(index.size, dtype=bool)
        present[index.segment_of[positions(index, word)] // 2] = True
        held += present
    chosen = held == len(words)
    if len(seeds) == 0 and not chosen.any():
        chosen = held >= max(2, int(MOST_WORDS * len(words)))
    chosen[seeds] = False
    cosines = np.where(chosen, _query_cosines(index, words), 0.0)
    return np.concatenate([seeds, _ranked(cosines, SEEDS - len(seeds))])


def _semantic(
    topical: NDArray[np.float32], seeds: NDArray[np.int64], query: NDArray[np.float64]
) -> NDArray[np.float64]:
    if len(seeds) == 0:
        return np.zeros(len(topical))
    to_seeds = topical[seeds].astype(np.float64).mean(axis=0)
    # A seed is scored against the other seeds: its likeness to itself proves nothing.
    if len(seeds) > 1:
        among = topical[np.ix_(seeds, seeds)].astype(np.float64)
        to_seeds[seeds] = (among.sum(axis=1) - np.diag(among)) / (len(seeds) - 1)
    else:
        to_seeds[seeds] = np.delete(to_seeds, seeds).max(initial=0.0)
    return _standardized(to_seeds + query)


def _standardized(closeness: NDArray[np.float64]) -> NDArray[np.float64]:
    """Closeness standardized over the pool and mapped to [0, 1] between `Z_FLOOR` and
    `Z_FULL`, the best `SEMANTIC_KEEP` documents kept."""
    spread = float(closeness.std())
    if spread == 0.0:
        return np.zeros(len(closeness))
    z = (closeness - closeness.mean()) / spread
    semantic = np.clip((z - Z_FLOOR) / (Z_FULL - Z_FLOOR), 0.0, 1.0)
    kept = np.flatnonzero(semantic)
    if len(kept) > SEMANTIC_KEEP:
        semantic[kept[np.argsort(-semantic[kept], kind="stable")[SEMANTIC_KEEP:]]] = 0.0
    return quantize(semantic)


@dataclass(eq=False)
class PhraseTable:
    """The rows of every phrase asked about so far, each computed once per pool.

    A memo only: a row depends on the pool and the phrase alone, never on what was
    asked before, so results never depend on the memo's state. Not thread-safe.
    """

    index: TextIndex
    topical: NDArray[np.float32]
    embedding: Embedding | None = None
    _keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _rows: dict[tuple[str, ...], PhraseRow] = field(default_factory=dict)
    _matches: dict[tuple[str, ...], PhraseRow] = field(default_factory=dict)

    def key(self, phrase: str) -> tuple[str, ...]:
        """What a phrase is matched by: two phrases with one key are one interest."""
        found = self._keys.get(phrase)
        if found is None:
            found = self._keys[phrase] = phrase_stems(self.index, phrase)
        return found

    def rows(self, keys: Sequence[tuple[str, ...]]) -> list[PhraseRow]:
        """The rows of these phrase keys (their embeddings made together)."""
        if self.embedding is not None:
            self.embedding.prepare([key for key in keys if key not in self._rows])
        return [self.row(key) for key in keys]

    def row(self, key: tuple[str, ...]) -> PhraseRow:
        found = self._rows.get(key)
        if found is None:
            found = self._rows[key] = phrase_row(self.index, self.topical, key, self.embedding)
        return found

    def matches(self, key: tuple[str, ...]) -> PhraseRow:
        found = self._rows.get(key) or self._matches.get(key)
        if found is None:
            found = self._matches[key] = match_row(self.index, key)
        return found
