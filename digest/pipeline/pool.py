"""An edition's pool from the database: its candidates and, with the sentence encoder,
their embeddings, each paper encoded once and kept (`digest.state.vectors`)."""

from __future__ import annotations

import logging
import time
from datetime import date

from digest.errors import DigestError
from digest.rank.encoder import AUTO, VECTORS_ID, Encoder, ModelError, cached_encoder, find_model
from digest.rank.pool import Pool, build_pool
from digest.rank.semantic import from_bytes, paper_text, to_bytes
from digest.state.store import Store

log = logging.getLogger(__name__)


def encoder_for(setting: str) -> Encoder | None:
    """The sentence encoder digest.semantic_model asks for. A model that "auto" finds
    but cannot load is skipped with a warning (ranking falls back to latent semantic
    analysis); a folder named in the config must load."""
    directory = find_model(setting)
    if directory is None:
        return None
    try:
        return cached_encoder(directory)
    except ModelError as error:
        if setting == AUTO:
            log.warning("%s; ranking without it", error)
            return None
        raise DigestError(
            f"digest.semantic_model: {error}", hint='set it to "off" to rank without it'
        ) from None


def stored_pool(store: Store, *, until: date, days: int | None, encoder: Encoder | None) -> Pool:
    """The pool of the candidates first seen up to `until` (the last `days` days; all
    with None). With `encoder`, papers encoded before are read back, the others encoded
    and kept."""
    candidates = store.papers.candidates(until=until, days=days)
    if encoder is None:
        return build_pool(candidates, today=until)
    texts: dict[str, str] = {}
    for c in candidates:  # of two with one id, the pool keeps the first
        texts.setdefault(c.id, paper_text(c.paper.title, c.paper.abstract))
    known = {
        paper: from_bytes(blob) for paper, blob in store.vectors.find(VECTORS_ID, texts).items()
    }
    missing = sorted(set(texts) - set(known))
    if missing:
        log.info("encoding %d papers (%d read back)", len(missing), len(known))
        started = time.perf_counter()
        try:
            fresh = encoder.encode([texts[paper] for paper in missing])
        except Exception as error:
            # The edition goes out ranked by words rather than not at all.
            log.warning("encoding %d papers failed (%r); ranking by words", len(missing), error)
            return build_pool(candidates, today=until)
        log.info("encoded %d papers in %.1f s", len(missing), time.perf_counter() - started)
        store.vectors.save(
            VECTORS_ID,
            ((paper, texts[paper], to_bytes(fresh[i])) for i, paper in enumerate(missing)),
        )
        known.update(zip(missing, fresh, strict=True))
    return build_pool(candidates, today=until, encoder=encoder, vectors=known)
