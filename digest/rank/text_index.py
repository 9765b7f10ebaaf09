"""The text side of ranking: words, stems, defined acronyms, phrase positions, TF-IDF.

Titles and abstracts become streams of stems (PyStemmer's English Snowball stemmer,
stop words dropped), so "graph neural networks" and "Graph Neural Network" are one
phrase. An acronym a text defines, "graph neural networks (GNNs)", is expanded where
the text uses it again: every later "GNN" or "GNNs" reads as "graph neural network".
The definition is found the way Schwartz and Hearst (2003) find it: the letters of
the short form, last to first, inside the words just before the parenthesis, the first
letter starting a word. An acronym counts only in the text that defines it.

The index keeps every stem's positions across the pool, so a phrase is counted by
intersecting position arrays, and a TF-IDF matrix of the documents (rows of unit length)
for similarity. Pure: text in, arrays out.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import Stemmer
from numpy.typing import NDArray
from scipy import sparse
from threadpoolctl import threadpool_limits

# The Snowball project's English stop words, and "s"/"t" left over from "it's", "don't".
_STOP_WORDS_TEXT = """
a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in
into is it its itself just me more most my myself no nor not now of off on once only or
other ought our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your
yours yourself yourselves s t
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

TITLE = 0
ABSTRACT = 1
# How much more one word of a title tells about the paper than one word of its abstract.
TITLE_WEIGHT = 3.0

_WORD = re.compile(r"[^\W_]+")
# "(GNNs)", "(ST-GNN)", "(ViT)": a parenthesized short form with two capitals or more.
_DEFINITION = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9-]{1,11})\s*\)")
# The long form never reaches across these.
_CLAUSE_BREAK = re.compile(r"[.;:!?()\[\]]")
_SEPARATOR = -1


@functools.cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def stems(words: Iterable[str]) -> list[str]:
    """The stems of words, lower-cased, stop words dropped."""
    kept = [word for word in (w.casefold() for w in words) if word not in STOP_WORDS]
    return list(_stemmer().stemWords(kept))


def words_of(text: str) -> list[str]:
    """The words of a text as the index reads them (NFKC, letters and digits)."""
    return [match.group() for match in _words(text)]


def _words(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(unicodedata.normalize("NFKC", text)))


def _long_form(short: str, before: str) -> list[str] | None:
    """The words just before a parenthesis that the letters of `short` abbreviate."""
    letters = [char for char in short.casefold() if char.isalnum()]
    words = [match.group() for match in _WORD.finditer(before)]
    limit = min(len(letters) + 5, 2 * len(letters))
    window = " ".join(words[-limit:]).casefold()
    at = len(window) - 1
    for index in range(len(letters) - 1, -1, -1):
        char = letters[index]
        while at >= 0 and (
            window[at] != char or (index == 0 and at > 0 and window[at - 1].isalnum())
        ):
            at -= 1
        if at < 0:
            return None
        at -= 1
    start = window.rfind(" ", 0, at + 1) + 1
    long_words = window[start:].split()
    return long_words if len(stems(long_words)) >= 2 else None


def acronyms(text: str) -> tuple[dict[str, list[str]], list[tuple[int, int]]]:
    """The acronyms a text defines (short form, without a plural "s" -> long-form words),
    and the spans of the definitions themselves, which must not count twice."""
    text = unicodedata.normalize("NFKC", text)
    defined: dict[str, list[str]] = {}
    spans: list[tuple[int, int]] = []
    for match in _DEFINITION.finditer(text):
        short = match.group(1)
        if short.endswith("s") and sum(char.isupper() for char in short[:-1]) >= 2:
            short = short[:-1]
        if sum(char.isupper() for char in short) < 2:
            continue
        clause = _CLAUSE_BREAK.split(text[max(0, match.start() - 300) : match.start()])[-1]
        long_words = _long_form(short, clause)
        if long_words is not None:
            defined.setdefault(short, long_words)
            spans.append(match.span())
    return defined, spans


def analyze(title: str, abstract: str) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """The stems of a title and an abstract with their defined acronyms expanded, and the
    acronyms themselves (short form -> long-form stems)."""
    title_defs, title_spans = acronyms(title)
    abstract_defs, abstract_spans = acronyms(abstract)
    defined = {**abstract_defs, **title_defs}
    expansions = {short: stems(words) for short, words in defined.items()}
    return (
        _expand(title, expansions, title_spans),
        _expand(abstract, expansions, abstract_spans),
        expansions,
    )


def _expand(text: str, expansions: dict[str, list[str]], skip: list[tuple[int, int]]) -> list[str]:
    matches = _words(text)
    if not expansions:
        return stems(match.group() for match in matches)
    words = [match.group() for match in matches]
    shorts = [w[:-1] if w.endswith("s") and w[:-1] in expansions else w for w in words]
    if not any(short in expansions for short in shorts):
        return stems(words)
    # Stemmed in one call (the stemmer's per-call cost dominates short runs of words).
    folded = [word.casefold() for word in words]
    stemmed = _stemmer().stemWords(folded)
    out: list[str] = []
    for match, short, fold, stem in zip(matches, shorts, folded, stemmed, strict=True):
        if short in expansions:
            if not any(start <= match.start() < end for start, end in skip):
                out += expansions[short]
        elif fold not in STOP_WORDS:
            out.append(stem)
    return out


@dataclass(frozen=True, slots=True)
class TextIndex:
    """Where every stem occurs in a pool of documents, and their TF-IDF vectors.

    `stream` holds the term ids of every title and abstract (segment 2*d and 2*d+1 for
    document d), -1 between segments so that no phrase spans two; `postings[starts[t]:
    starts[t+1]]` are the stream positions of term t, ascending.
    """

    vocabulary: dict[str, int]
    stream: NDArray[np.int32]
    segment_of: NDArray[np.int32]
    postings: NDArray[np.int32]
    starts: NDArray[np.int64]
    lengths: NDArray[np.float64]
    idf: NDArray[np.float64]
    vectors: sparse.csr_matrix
    columns: sparse.csc_matrix
    acronyms: dict[str, tuple[str, ...]]

    @property
    def size(self) -> int:
        return len(self.lengths)


def build_index(texts: Sequence[tuple[str, str]]) -> TextIndex:
    """Index (title, abstract) pairs; document d is texts[d]."""
    analyzed = [analyze(title, abstract) for title, abstract in texts]
    vocabulary = {
        stem: i for i, stem in enumerate(sorted({s for a in analyzed for s in a[0] + a[1]}))
    }
    pieces: list[list[int]] = []
    for title_stems, abstract_stems, _ in analyzed:
        pieces.append([vocabulary[s] for s in title_stems] + [_SEPARATOR])
        pieces.append([vocabulary[s] for s in abstract_stems] + [_SEPARATOR])
    stream = np.fromiter((t for piece in pieces for t in piece), dtype=np.int32)
    sizes = np.array([len(piece) for piece in pieces], dtype=np.int64)
    segment_of = np.repeat(np.arange(len(pieces), dtype=np.int32), sizes)
    order = np.argsort(stream, kind="stable").astype(np.int32)
    order = order[stream[order] != _SEPARATOR]
    starts = np.searchsorted(stream[order], np.arange(len(vocabulary) + 1)).astype(np.int64)
    segment_lengths = (sizes - 1).astype(np.float64).reshape(-1, 2)
    lengths = TITLE_WEIGHT * segment_lengths[:, TITLE] + segment_lengths[:, ABSTRACT]
    counts = _term_counts(stream, segment_of, len(texts), len(vocabulary))
    idf, vectors = _tfidf(counts)
    return TextIndex(
        vocabulary=vocabulary,
        stream=stream,
        segment_of=segment_of,
        postings=order,
        starts=starts,
        lengths=lengths,
        idf=idf,
        vectors=vectors,
        columns=vectors.tocsc(),
        acronyms=_pool_acronyms(a[2] for a in analyzed),
    )


def _term_counts(
    stream: NDArray[np.int32], segment_of: NDArray[np.int32], docs: int, terms: int
) -> sparse.csr_matrix:
    """Title-weighted term counts, documents x terms."""
    kept = stream != _SEPARATOR
    weights = np.where(segment_of[kept] % 2 == TITLE, TITLE_WEIGHT, 1.0)
    matrix = sparse.csr_matrix(
        (weights, (segment_of[kept] // 2, stream[kept])), shape=(docs, terms), dtype=np.float64
    )
    matrix.sum_duplicates()
    return matrix


def _tfidf(counts: sparse.csr_matrix) -> tuple[NDArray[np.float64], sparse.csr_matrix]:
    docs = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    idf = np.log((1.0 + docs) / (1.0 + df)) + 1.0
    vectors = counts.copy()
    vectors.data = (1.0 + np.log(vectors.data)) * idf[vectors.indices]
    norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    scaled: sparse.csr_matrix = sparse.diags(1.0 / norms) @ vectors
    return idf, scaled.tocsr()


def _pool_acronyms(defined: Iterable[dict[str, list[str]]]) -> dict[str, tuple[str, ...]]:
    """Each acronym the pool defines -> its most frequent long form (stems)."""
    votes: dict[str, Counter[tuple[str, ...]]] = {}
    for definitions in defined:
        for short, long_stems in definitions.items():
            votes.setdefault(short.casefold(), Counter())[tuple(long_stems)] += 1
    return {
        short: min(counter.items(), key=lambda item: (-item[1], item[0]))[0]
        for short, counter in sorted(votes.items())
    }


def phrase_stems(index: TextIndex, phrase: str) -> tuple[str, ...]:
    """The stems a phrase is matched by; an acronym the pool defines reads as its long form."""
    out: list[str] = []
    for match in _words(phrase):
        word = match.group().casefold()
        short = word[:-1] if word.endswith("s") and word[:-1] in index.acronyms else word
        if short in index.acronyms and short not in STOP_WORDS:
            out += index.acronyms[short]
        else:
            out += stems([word])
    return tuple(out)


def phrase_terms(index: TextIndex, phrase_stems: Sequence[str]) -> tuple[int, ...] | None:
    """The term ids of a phrase's stems; None when one never occurs (nothing can match)."""
    terms = tuple(index.vocabulary.get(stem, -1) for stem in phrase_stems)
    return None if not terms or -1 in terms else terms


def positions(index: TextIndex, term: int) -> NDArray[np.int32]:
    return index.postings[index.starts[term] : index.starts[term + 1]]


def phrase_counts(index: TextIndex, terms: Sequence[int]) -> NDArray[np.int64]:
    """How often the phrase occurs in each document: an array (documents, 2) of title and
    abstract counts."""
    found = positions(index, terms[0])
    for offset, term in enumerate(terms[1:], start=1):
        found = found[np.isin(found + offset, positions(index, term), assume_unique=True)]
    counts = np.bincount(index.segment_of[found], minlength=2 * index.size)
    return counts.reshape(-1, 2)


def near_counts(index: TextIndex, terms: Sequence[int], slack: int) -> NDArray[np.int64]:
    """How often all the phrase's words occur close together, in any order: occurrences
    of its rarest word with each other word at most len(terms) - 1 + slack positions
    away in the same title or abstract ("compressing deep models" for "model
    compression"). An array (documents, 2) of title and abstract counts."""
    reach = len(terms) - 1 + slack
    rarest = min(terms, key=lambda term: index.starts[term + 1] - index.starts[term])
    anchors = positions(index, rarest)
    segment_of = index.segment_of
    for term in sorted(set(terms) - {rarest}):
        found = positions(index, term)
        at = np.searchsorted(found, anchors)
        near = np.zeros(len(anchors), dtype=bool)
        for neighbour, inside in ((at - 1, at > 0), (at, at < len(found))):
            other = found[np.where(inside, neighbour, 0)] if len(found) else anchors
            near |= (
                inside
                & (np.abs(other - anchors) <= reach)
                & (segment_of[other] == segment_of[anchors])
            )
        anchors = anchors[near]
    segments = segment_of[anchors]
    counts = np.bincount(segments, minlength=2 * index.size)
    return counts.reshape(-1, 2)


# The share of the pool's dimensions latent semantic analysis keeps.
TOPIC_FRACTION = 0.15
# How much of the topical similarity is latent (the rest is plain TF-IDF cosine).
LATENT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Similarities:
    """Document x document similarities of a pool, and what places a new text among them.

    `cosine` is the TF-IDF cosine (near duplicates). `topical` also links documents that
    share no word but share neighbours: half that cosine, half latent semantic analysis
    (the cosine of the documents' projections on the leading `TOPIC_FRACTION`
    eigenvectors of the cosine matrix, which is the pool's truncated SVD without forming
    it). `to_latent` maps a new text's cosines to the pool onto the same projection
    (U_k / s_k of the SVD), `latent` holds the pool's projections at unit length.
    """

    cosine: NDArray[np.float32]
    topical: NDArray[np.float32]
    to_latent: NDArray[np.float64]
    latent: NDArray[np.float64]

    def topical_to(self, cosines: NDArray[np.float64]) -> NDArray[np.float64]:
        """Texts x documents: the topical similarity of texts outside the pool, given
        their TF-IDF cosines to its documents."""
        embedding = cosines @ self.to_latent
        norms = np.linalg.norm(embedding, axis=1)
        embedding /= np.where(norms > 0, norms, 1.0)[:, None]
        return topical_blend(cosines, embedding @ self.latent.T)


def topical_blend(words: NDArray[np.float64], meaning: NDArray[np.float64]) -> NDArray[np.float64]:
    """Topical similarity: `LATENT_SHARE` of it by meaning (the latent projection, or
    sentence embeddings), the rest by shared words (TF-IDF cosine)."""
    blended: NDArray[np.float64] = (1.0 - LATENT_SHARE) * words + LATENT_SHARE * meaning
    return blended


def word_cosines(index: TextIndex) -> NDArray[np.float64]:
    """Documents x documents: the TF-IDF cosine of every pair of the pool."""
    return np.asarray((index.vectors @ index.vectors.T).toarray(), dtype=np.float64)


def similarities(index: TextIndex) -> Similarities:
    """The similarities of the pool's documents (see `Similarities`)."""
    gram = word_cosines(index)
    if index.size == 0:
        empty = np.zeros((0, 0), dtype=np.float32)
        return Similarities(empty, empty, np.zeros((0, 0)), np.zeros((0, 0)))
    values, vectors = _eigh(gram)
    keep = max(1, int(TOPIC_FRACTION * index.size))
    top = np.argsort(-values, kind="stable")[:keep]
    singular = np.sqrt(np.maximum(values[top], 0.0))
    embedding = vectors[:, top] * singular
    norms = np.linalg.norm(embedding, axis=1)
    embedding /= np.where(norms > 0, norms, 1.0)[:, None]
    latent = embedding @ embedding.T
    topical = topical_blend(gram, latent)
    scale = np.divide(1.0, singular, out=np.zeros_like(singular), where=singular > 1e-9)
    return Similarities(
        cosine=gram.astype(np.float32),
        topical=topical.astype(np.float32),
        to_latent=vectors[:, top] * scale,
        latent=embedding,
    )


def vectorize(index: TextIndex, texts: Sequence[tuple[str, str]]) -> sparse.csr_matrix:
    """TF-IDF vectors (unit rows) of (title, abstract) pairs outside the pool, in the
    pool's terms and weights: words the pool never uses count for nothing."""
    rows, columns, weights = [], [], []
    for row, (title, abstract) in enumerate(texts):
        title_stems, abstract_stems, _ = analyze(title, abstract)
        for weight, found in ((TITLE_WEIGHT, title_stems), (1.0, abstract_stems)):
            for stem in found:
                term = index.vocabulary.get(stem)
                if term is not None:
                    rows.append(row)
                    columns.append(term)
                    weights.append(weight)
    counts = sparse.csr_matrix(
        (weights, (rows, columns)), shape=(len(texts), len(index.vocabulary)), dtype=np.float64
    )
    counts.sum_duplicates()
    counts.data = (1.0 + np.log(counts.data)) * index.idf[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    vectors: sparse.csr_matrix = (sparse.diags(1.0 / norms) @ counts).tocsr()
    return vectors


def _eigh(gram: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The eigenvalues and eigenvectors of a symmetric matrix, on one BLAS thread.

    OpenBLAS's threaded eigensolver spends its time synchronizing: on a 2-core machine a
    1,000 x 1,000 matrix took 8.2 s on every thread and 0.2 s on one. Truncated solvers
    (Lanczos, randomized SVD) lose here, since latent analysis keeps 15% of the spectrum,
    which decays slowly: they were slower than this, or off by up to 0.5 in cosine.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        values, vectors = np.linalg.eigh(gram)
    return values, vectors
