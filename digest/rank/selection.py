"""Choosing each profile's picks from a batch of scores: top-k, then diversity.

Scores come as integers (score x 10,000) in a profiles x documents array, documents in
candidate id order; everything here is exact integer or elementwise work, so a profile
gets the same picks in any batch.

Diversity is maximal marginal relevance over the best `depth` eligible documents:
repeatedly pick the document maximizing

    MMR_LAMBDA * score / best score - (1 - MMR_LAMBDA) * redundancy

where redundancy is the highest cosine to a document already picked, counted only
above `REDUNDANT_FROM` and rescaled to [0, 1]: papers on one topic are alike (TF-IDF
cosines up to about 0.4 in the seed pool) and should stay together; two versions of one
work (0.7 and more) should not both make the email.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

MMR_LAMBDA = 0.5
REDUNDANT_FROM = 0.4
# Candidate x candidate similarities held at once, to bound memory.
_MMR_CELLS = 4_000_000


def top(
    units: NDArray[np.int64], eligible: NDArray[np.bool_], depth: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per profile, its `depth` best eligible documents, best first, ties by document
    index (id order); and which of these slots hold one."""
    size = units.shape[1]
    width = int(depth.max())
    # One integer per (score, index), unique within a row: an exact order, ties by index.
    keys = np.where(eligible, units * size + np.arange(size - 1, -1, -1), -1)
    if width < size:
        part = np.argpartition(-keys, width - 1, axis=1)[:, :width]
    else:
        part = np.broadcast_to(np.arange(size), keys.shape)
    part_keys = np.take_along_axis(keys, part, axis=1)
    order = np.argsort(-part_keys, axis=1, kind="stable")
    candidates = np.take_along_axis(part, order, axis=1)
    filled = np.take_along_axis(part_keys, order, axis=1) >= 0
    return candidates, filled & (np.arange(width)[None, :] < depth[:, None])


def diverse(
    cosine: NDArray[np.float32],
    candidates: NDArray[np.int64],
    units: NDArray[np.int64],
    valid: NDArray[np.bool_],
    limits: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """Which of each profile's candidates maximal marginal relevance picks, at most
    `limits` per profile."""
    width = candidates.shape[1]
    step = max(1, _MMR_CELLS // max(1, width * width))
    chosen = np.zeros(candidates.shape, dtype=bool)
    for start in range(0, len(candidates), step):
        part = slice(start, start + step)
        scores = np.take_along_axis(units[part], candidates[part], axis=1)
        chosen[part] = _mmr(cosine, candidates[part], scores, valid[part], limits[part])
    return chosen


def _mmr(
    cosine: NDArray[np.float32],
    candidates: NDArray[np.int64],
    scores: NDArray[np.int64],
    valid: NDArray[np.bool_],
    limits: NDArray[np.int64],
) -> NDArray[np.bool_]:
    rows = np.arange(len(candidates))
    best = scores[:, :1].astype(np.float64)
    gain = MMR_LAMBDA * np.divide(scores, best, out=np.zeros(scores.shape), where=best > 0)
    similar = cosine[candidates[:, :, None], candidates[:, None, :]].astype(np.float64)
    overlap = np.maximum(similar - REDUNDANT_FROM, 0.0) / (1.0 - REDUNDANT_FROM)
    redundancy = np.zeros(scores.shape)
    available = valid.copy()
    chosen = np.zeros(scores.shape, dtype=bool)
    for step in range(int(limits.max(initial=0))):
        active = rows[available.any(axis=1) & (step < limits)]
        if len(active) == 0:
            break
        objective = np.where(available, gain - (1.0 - MMR_LAMBDA) * redundancy, -np.inf)
        pick = objective[active].argmax(axis=1)
        chosen[active, pick] = True
        available[active, pick] = False
        redundancy[active] = np.maximum(redundancy[active], overlap[active, pick])
    return chosen
