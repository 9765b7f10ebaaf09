"""Ranking an edition's candidates for each subscriber.

The pool of candidates is indexed once (`build_pool`); subscribers are then scored in
batches with sparse matrix products (`rank_many`), one at a time being a batch of one
(`rank`): the same profile gets the same picks either way.

A paper's score, rounded to 4 decimals, is

    relevance + 1.0 * pinned author + 0.2 * trending + 0.1 * freshness + 0.05 * code

- relevance: the sum over the profile's distinct interests of each interest's relevance
  in [0, 1] (`digest.relevance`: 0.6 lexical phrase match + 0.4 semantic closeness, with
  a share for the phrase's words said apart): a paper with the phrase in its title
  scores 0.45 to 0.87 for that interest (10th to 90th percentile on the seed papers);
- pinned author: 1 when a pinned author wrote the paper, as much as a perfect match;
- trending, freshness, code: `digest.signals`, each in [0, 1]: together at most 0.35,
  they order papers of like relevance and never outweigh a real difference of it.

With interests, only papers relevant to one of them (or by a pinned author) are
eligible; without ("everything trending") every paper is, ranked on the signals alone,
scores then lying in [0, 0.35] (plus 1 for a pinned author). An interest with no word
left once stop words go ("the") matches nothing; one with no letter or digit at all
(";;;") is no interest.

Filters drop a paper before ranking: a match of any exclude phrase (lexical, as for
interests), a category filter it fails, or its id among the profile's delivered ones.
A paper that lists no category at all passes the category filters: dump listings carry
none, and not knowing is not a mismatch. A profile category matches a paper's category
case-insensitively, and an archive ("cs") matches each of its categories ("cs.LG").
Pinned authors match by name with case, accents and punctuation folded. Papers scoring
under `min_score` are dropped.

Diversity: the best `DIVERSITY_DEPTH` x max_papers eligible papers go through maximal
marginal relevance (`digest.selection`), so that near-identical papers do not both make
the email; the picks are then listed best score first. Ties always break on the
candidate id, ascending.

Likes and dislikes (`digest.rank.taste`): for a reader who liked papers, closeness to
them adds up to 0.25 to the interests' relevance; without interests, it is the relevance
(up to 1). A paper closer to the disliked papers than to the liked ones loses up to half
its score (pinned authors aside): pushed down, never out. A paper voted on is never
picked again. Readers without votes rank exactly as if votes did not exist.

Every pick says why: "matches: <interests>" (the phrase, or its words close together,
is in the title or abstract), "related to: <interests>" (semantic relevance alone),
"like: <title>" (the liked paper it resembles most), "by pinned author: <name>", then
the signals worth telling (`digest.signals`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from digest.models import Candidate, Paper, Profile, ScoredPaper
from digest.rank import selection
from digest.rank.pool import Pool, author_names, normalize_name
from digest.rank.relevance import PhraseRow
from digest.rank.taste import Taste, taste

PIN_WEIGHT = 1.0
# Diversity re-ranks this many times max_papers of the best eligible papers.
DIVERSITY_DEPTH = 3
_SCALE = 10_000  # scores are kept to 4 decimals


_NO_PAPERS: Mapping[str, Paper] = {}


def rank(
    pool: Pool, profile: Profile, *, voted: Mapping[str, Paper] = _NO_PAPERS
) -> tuple[ScoredPaper, ...]:
    """The papers for one subscriber: at most `profile.max_papers`, best first.

    `voted` holds papers the profile's likes and dislikes name that are not in the pool,
    by vote key (`digest.rank.votes.vote_key`): their text still shapes the taste."""
    return next(rank_many(pool, [profile], voted=voted))


def rank_many(
    pool: Pool,
    profiles: Iterable[Profile],
    *,
    batch_size: int = 2048,
    voted: Mapping[str, Paper] = _NO_PAPERS,
) -> Iterator[tuple[ScoredPaper, ...]]:
    """The picks of each profile in order, the same as `rank` gives, computed in batches
    of `batch_size` profiles."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    return _batches(pool, iter(profiles), batch_size, voted)


def _batches(
    pool: Pool, profiles: Iterator[Profile], size: int, voted: Mapping[str, Paper]
) -> Iterator[tuple[ScoredPaper, ...]]:
    while batch := list(itertools.islice(profiles, size)):
        yield from _rank_batch(pool, batch, voted)


@dataclass(frozen=True, slots=True)
class _Interests:
    """A batch's distinct interest phrases: rows (one per phrase key) and, per profile,
    its phrases as (row, the profile's own wording), deduplicated by key."""

    rows: list[PhraseRow]
    keys: list[tuple[str, ...]]
    per_profile: list[list[tuple[int, str]]]

    def keys_of(self, profile: int) -> list[tuple[str, ...]]:
        """The phrase keys of one profile of the batch, in its order."""
        return [self.keys[column] for column, _ in self.per_profile[profile]]


def _interests(pool: Pool, profiles: Sequence[Profile]) -> _Interests:
    columns: dict[tuple[str, ...], int] = {}
    per_profile = []
    for profile in profiles:
        mine: dict[int, str] = {}
        for text in profile.interests:
            key = pool.phrases.key(text)
            if key:
                mine.setdefault(columns.setdefault(key, len(columns)), text.strip())
        per_profile.append(list(mine.items()))
    return _Interests(pool.phrases.rows(list(columns)), list(columns), per_profile)


def _rows_matrix(
    docs: Sequence[NDArray[np.int32]], values: Sequence[NDArray[np.float32]] | None, size: int
) -> sparse.csr_matrix:
    """Sparse phrases x documents from per-phrase document indices and values (1s if None)."""
    indptr = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=indptr[1:])
    indices = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int32)
    # float64, so that sums of these exact values stay exact.
    data = np.concatenate(values).astype(np.float64) if values else np.ones(len(indices))
    return sparse.csr_matrix((data, indices, indptr), shape=(len(docs), size))


def _query(per_profile: Sequence[Sequence[int]], columns: int) -> sparse.csr_matrix:
    """Sparse profiles x phrases: 1 where the profile has the phrase."""
    indptr = np.zeros(len(per_profile) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in per_profile], out=indptr[1:])
    indices = np.fromiter(itertools.chain.from_iterable(per_profile), dtype=np.int64)
    data = np.ones(len(indices))
    return sparse.csr_matrix((data, indices, indptr), shape=(len(per_profile), columns))


def _relevance(pool: Pool, interests: _Interests) -> NDArray[np.float64]:
    """Profiles x documents: the summed relevance of each profile's interests."""
    rows = interests.rows
    phrases = _rows_matrix([r.docs for r in rows], [r.relevance for r in rows], pool.size)
    query = _query([[c for c, _ in mine] for mine in interests.per_profile], len(rows))
    relevance: NDArray[np.float64] = (query @ phrases).toarray()
    return relevance


def _excluded(pool: Pool, profiles: Sequence[Profile]) -> NDArray[np.bool_] | None:
    """Profiles x documents: matches of an exclude phrase, or None when none is asked."""
    columns: dict[tuple[str, ...], int] = {}
    per_profile = []
    for profile in profiles:
        keys = {pool.phrases.key(text) for text in profile.exclude} - {()}
        per_profile.append(sorted({columns.setdefault(key, len(columns)) for key in keys}))
    if not columns:
        return None
    matched = [pool.phrases.matches(key).matched for key in columns]
    hits = _query(per_profile, len(columns)) @ _rows_matrix(matched, None, pool.size)
    excluded: NDArray[np.bool_] = hits.toarray() > 0
    return excluded


def _allowed(pool: Pool, profiles: Sequence[Profile]) -> NDArray[np.bool_]:
    """Profiles x documents: what the profile's filters let through."""
    allowed = np.ones((len(profiles), pool.size), dtype=bool)
    excluded = _excluded(pool, profiles)
    if excluded is not None:
        allowed &= ~excluded
    wanted = [[cat.strip().casefold() for cat in p.categories] for p in profiles]
    if any(wanted):
        has = pool.categories.hits(wanted, pool.size) | pool.uncategorized[None, :]
        filtered = np.array([bool(w) for w in wanted])
        allowed &= has | ~filtered[:, None]
    unwanted = [[cat.strip().casefold() for cat in p.exclude_categories] for p in profiles]
    if any(unwanted):
        allowed &= ~pool.categories.hits(unwanted, pool.size)
    for row, profile in enumerate(profiles):
        if profile.delivered:
            seen = [pool.position[i] for i in profile.delivered if i in pool.position]
            allowed[row, seen] = False
    return allowed


def _rank_batch(
    pool: Pool, profiles: Sequence[Profile], voted: Mapping[str, Paper]
) -> list[tuple[ScoredPaper, ...]]:
    limits = np.array([max(p.max_papers, 0) for p in profiles], dtype=np.int64)
    if pool.size == 0 or not limits.any():
        return [() for _ in profiles]
    interests = _interests(pool, profiles)
    relevance = _relevance(pool, interests)
    # An interest of stop words alone ("the of and") matches nothing; it does not make
    # its reader an "everything trending" one.
    wants_topics = np.array([any(map(_has_word, profile.interests)) for profile in profiles])
    eligible = _allowed(pool, profiles)
    tastes = taste(pool, profiles, voted)
    if tastes is not None:
        keys = [interests.keys_of(row) for row in range(len(profiles))]
        tastes.adjust(relevance, keys)
        wants_topics[tastes.rows] |= np.array([bool(liked) for liked in tastes.liked])
        eligible[tastes.rows] &= ~tastes.voted
    pinned = pool.authors.hits([author_names(p.authors) for p in profiles], pool.size)
    scores = relevance + PIN_WEIGHT * pinned + pool.base
    if tastes is not None:
        voters = tastes.rows
        kept = (relevance[voters] + pool.base) * tastes.damping()
        scores[voters] = kept + PIN_WEIGHT * pinned[voters]
    units = np.rint(scores * _SCALE).astype(np.int64)
    eligible &= ~wants_topics[:, None] | (relevance > 0) | pinned
    eligible &= units / _SCALE >= np.array([p.min_score for p in profiles])[:, None]
    depth = np.minimum(DIVERSITY_DEPTH * limits, pool.size)
    candidates, valid = selection.top(units, eligible, depth)
    chosen = selection.diverse(pool.cosine, candidates, units, valid, limits)
    rows, slots = np.nonzero(chosen)  # by profile, then best first
    docs = candidates[rows, slots]
    picks = _explain(pool, profiles, interests, tastes, rows, docs, pinned[rows, docs])
    scores = (units[rows, docs] / _SCALE).tolist()
    papers = [
        ScoredPaper(pool.candidates[doc], score, reasons)
        for doc, score, reasons in zip(docs.tolist(), scores, picks, strict=True)
    ]
    bounds = np.searchsorted(rows, np.arange(len(profiles) + 1)).tolist()
    return [tuple(papers[bounds[i] : bounds[i + 1]]) for i in range(len(profiles))]


def _has_word(text: str) -> bool:
    return any(char.isalnum() for char in text)


def _explain(
    pool: Pool,
    profiles: Sequence[Profile],
    interests: _Interests,
    tastes: Taste | None,
    rows: NDArray[np.int64],
    docs: NDArray[np.int64],
    pinned: NDArray[np.bool_],
) -> list[tuple[str, ...]]:
    """The reasons of each pick (a profile's row and a document): its interests matched
    word for word, those it is only related to, the liked paper it resembles, pinned
    authors, then the signals."""
    matches, related = _topics(pool.size, interests, rows, docs)
    voters = set(tastes.rows.tolist()) if tastes is not None else set()
    out = []
    for pick, (row, doc) in enumerate(zip(rows.tolist(), docs.tolist(), strict=True)):
        reasons = []
        if matches[pick]:
            reasons.append("matches: " + ", ".join(matches[pick]))
        if related[pick]:
            reasons.append("related to: " + ", ".join(related[pick]))
        liked = None
        if tastes is not None and row in voters:
            topical = bool(matches[pick] or related[pick])
            liked = tastes.resembles(row, doc, only_close=topical)
        if liked is not None:
            reasons.append(f"like: {liked}")
        if pinned[pick]:
            reasons.append(_pinned_reason(pool.candidates[doc], profiles[row]))
        out.append((*reasons, *pool.signal_reasons[doc]))
    return out


def _topics(
    size: int, interests: _Interests, rows: NDArray[np.int64], docs: NDArray[np.int64]
) -> tuple[list[list[str]], list[list[str]]]:
    """Per pick, the wording of the profile's interests it matches word for word, and of
    those it is only related to (semantic relevance alone), in the profile's order."""
    matched = np.zeros((len(interests.rows), size), dtype=bool)
    related = np.zeros((len(interests.rows), size), dtype=bool)
    for column, phrase in enumerate(interests.rows):
        matched[column, phrase.matched] = True
        related[column, phrase.docs[phrase.semantic > 0]] = True
    # Every (pick, interest of its profile) pair, through the flat list of all interests.
    counts = np.array([len(mine) for mine in interests.per_profile], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)])
    flat = [item for mine in interests.per_profile for item in mine]
    columns = np.array([column for column, _ in flat], dtype=np.int64)
    per_pick = counts[rows]
    pair_pick = np.repeat(np.arange(len(rows)), per_pick)
    first = np.cumsum(per_pick) - per_pick
    pair_item = np.repeat(starts[rows] - first, per_pick) + np.arange(int(per_pick.sum()))
    pair_doc = docs[pair_pick]
    is_match = matched[columns[pair_item], pair_doc]
    is_related = related[columns[pair_item], pair_doc] & ~is_match
    hit = is_match | is_related
    found: tuple[list[list[str]], list[list[str]]] = (
        [[] for _ in range(len(rows))],
        [[] for _ in range(len(rows))],
    )
    for pick, item, exact in zip(
        pair_pick[hit].tolist(), pair_item[hit].tolist(), is_match[hit].tolist(), strict=True
    ):
        found[0 if exact else 1][pick].append(flat[item][1])
    return found


def _pinned_reason(candidate: Candidate, profile: Profile) -> str:
    wanted = {normalize_name(a) for a in profile.authors}
    names = [a for a in candidate.paper.authors if normalize_name(a) in wanted]
    label = "by pinned author" if len(names) == 1 else "by pinned authors"
    return f"{label}: {', '.join(names)}"
