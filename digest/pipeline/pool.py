"""An edition's pool from the database: its candidates and, with the sentence encoder,
their embeddings, each paper encoded once and kept (`digest.state.vectors`; for the
previews that keep nothing else, `digest.state.vector_cache`). `digest collect` encodes
the new candidates right away, so that the sends that follow only read vectors back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from digest.errors import DigestError, StoreError
from digest.models import Candidate
from digest.rank.encoder import AUTO, VECTORS_ID, Encoder, ModelError, cached_encoder, find_model
from digest.rank.pool import Pool, build_pool
from digest.rank.semantic import Vector, from_bytes, paper_text, to_bytes
from digest.state.store import Store
from digest.state.vectors import VectorStore

log = logging.getLogger(__name__)

# Papers encoded, then saved, at a time: about 20 s of work on a 2-core machine.
SAVE_EVERY = 256


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


def stored_pool(
    store: Store,
    *,
    until: date,
    days: int | None,
    encoder: Encoder | None,
    vectors: VectorStore | None = None,
) -> Pool:
    """The pool of the candidates first seen up to `until` (the last `days` days; all
    with None). With `encoder`, papers encoded before are read back (from `vectors`,
    the database's own by default), the others encoded and kept."""
    candidates = store.papers.candidates(until=until, days=days)
    if encoder is None:
        return build_pool(candidates, today=until)
    found = embeddings(vectors or store.vectors, encoder, candidates)
    if found.by_id is None:
        return build_pool(candidates, today=until)
    return build_pool(candidates, today=until, encoder=encoder, vectors=found.by_id)


def encode_recent(
    store: Store,
    encoder: Encoder,
    *,
    now: datetime,
    days: int,
    on_start: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Embeddings:
    """Encode and keep every paper that an edition may rank soon and that has no vector
    yet (`digest collect`, so that the sends only read vectors back): those listed in
    the `days` days up to today, wherever the reader lives (a day's margin either way).
    `on_start` hears how many papers are to be encoded; once `should_stop` says so,
    what was encoded is kept and the rest left for later."""
    until = now.astimezone(UTC).date() + timedelta(days=1)
    candidates = store.papers.candidates(until=until, days=days + 2)
    return embeddings(
        store.vectors, encoder, candidates, on_start=on_start, should_stop=should_stop
    )


@dataclass(frozen=True, slots=True)
class Embeddings:
    """Candidates' vectors by id (None when the encoder failed or was stopped), how many
    were encoded just now, and in how many seconds."""

    by_id: dict[str, Vector] | None
    encoded: int = 0
    seconds: float = 0.0


def embeddings(
    vectors: VectorStore,
    encoder: Encoder,
    candidates: Sequence[Candidate],
    *,
    on_start: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Embeddings:
    """Every candidate's vector: read back from `vectors`, or encoded and saved there,
    `SAVE_EVERY` at a time (a run stopped or killed midway keeps what it encoded). When
    the encoder fails or `should_stop`, none (the caller ranks by words), with a
    warning."""
    texts: dict[str, str] = {}
    for c in candidates:  # of two with one id, the pool keeps the first
        texts.setdefault(c.id, paper_text(c.paper.title, c.paper.abstract))
    known = {paper: from_bytes(blob) for paper, blob in vectors.find(VECTORS_ID, texts).items()}
    missing = sorted(set(texts) - set(known))
    if not missing:
        return Embeddings(known)
    log.info("encoding %d papers (%d read back)", len(missing), len(known))
    if on_start:
        on_start(len(missing))
    started = time.perf_counter()
    for start in range(0, len(missing), SAVE_EVERY):
        if should_stop():
            return Embeddings(None, start, time.perf_counter() - started)
        chunk = missing[start : start + SAVE_EVERY]
        try:
            fresh = encoder.encode([texts[paper] for paper in chunk])
        except Exception as error:
            # The edition goes out ranked by words rather than not at all.
            log.warning("encoding %d papers failed (%r); ranking by words", len(missing), error)
            return Embeddings(None, start, time.perf_counter() - started)
        known.update(zip(chunk, fresh, strict=True))
        try:
            vectors.save(
                VECTORS_ID,
                ((paper, texts[paper], to_bytes(fresh[i])) for i, paper in enumerate(chunk)),
            )
        except StoreError as error:
            # Ranked with them all the same; the next run encodes them again.
            log.warning("keeping %d papers' vectors failed: %s", len(chunk), error)
    seconds = time.perf_counter() - started
    log.info("encoded %d papers in %.1f s", len(missing), seconds)
    return Embeddings(known, len(missing), seconds)
