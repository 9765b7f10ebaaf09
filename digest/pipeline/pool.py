"""An edition's pool from the database: its candidates and, with the sentence encoder,
their embeddings, each paper encoded once and kept (`digest.state.vectors`; for the
previews that keep nothing else, `digest.state.vector_cache`). `digest collect` encodes
the new candidates right away, so that the sends that follow only read vectors back.
The readers' interest phrases are kept the same way (`KeptEncoder`)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from digest.errors import ConfigError, StoreError
from digest.models import Candidate
from digest.rank.encoder import AUTO, Model, ModelError, model_entries, setting_encoder
from digest.rank.pool import Pool, build_pool
from digest.rank.semantic import (
    Vector,
    Vectors,
    from_bytes,
    paper_text,
    stacked,
    to_bytes,
)
from digest.state.store import Store
from digest.state.vectors import VectorStore, text_digest

log = logging.getLogger(__name__)

# Papers encoded, then saved, at a time: about 5 s of work on a 2-core machine. Small, so
# that processes sharing a day's encoding seldom do one batch twice (for 600 papers, two
# at once encoded 1.32x the papers in batches of 64 and 2.00x in batches of 256), large
# enough to keep both cores busy (4 batches of 16 per core).
SAVE_EVERY = 64
# What else is encoded (interest phrases, the text of a liked paper outside the pool) is
# kept beside the papers' vectors under this prefix and a digest of the text.
TEXT_KEY = "text:"


def encoder_for(setting: str | Sequence[str]) -> Model | None:
    """The sentence encoder digest.semantic_model asks for (several: averaged). A model
    that "auto" finds but cannot load is skipped with a warning (ranking falls back to
    the others, or to latent semantic analysis); a folder named in the config must load."""
    usable = []
    for entry in model_entries(setting):
        try:
            setting_encoder(entry)  # loaded once per process: asked again below
        except ModelError as error:
            if entry == AUTO:
                log.warning("%s; ranking without it", error)
                continue
            raise ConfigError(
                [f'digest.semantic_model: {error} (set it to "off" to rank without it)']
            ) from None
        usable.append(entry)
    return setting_encoder(usable)


def stored_pool(
    store: Store,
    *,
    until: date,
    days: int | None,
    encoder: Model | None,
    vectors: VectorStore | None = None,
) -> Pool:
    """The pool of the candidates first seen up to `until` (the last `days` days; all
    with None). With `encoder`, papers encoded before are read back (from `vectors`,
    the database's own by default), the others encoded and kept."""
    candidates = store.papers.candidates(until=until, days=days)
    if encoder is None:
        return build_pool(candidates, today=until)
    kept = vectors or store.vectors
    found = embeddings(kept, encoder, candidates)
    if found.by_id is None:
        return build_pool(candidates, today=until)
    return build_pool(
        candidates, today=until, encoder=KeptEncoder(encoder, kept), vectors=found.by_id
    )


@dataclass(frozen=True, slots=True)
class KeptEncoder:
    """The encoder, keeping what it encodes in `vectors` by a digest of the text: a list's
    interest phrases are much the same from one day to the next, and encoding them is
    most of what ranking by meaning adds to a large list's send (3,000 distinct phrases:
    7.6 s of CPU for 100,000 readers, `bench.rank_bench --keep-phrases`). A store that
    fails only means encoding (logged)."""

    encoder: Model
    vectors: VectorStore

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return self.encoder.encode(texts)
        keys = {text: TEXT_KEY + text_digest(text) for text in texts}
        try:
            known = _read_back(
                self.vectors, self.encoder, {key: text for text, key in keys.items()}
            )
        except StoreError as error:
            log.warning("reading the vectors of %d texts failed: %s", len(keys), error)
            known = {}
        missing = [text for text, key in keys.items() if key not in known]
        if missing:
            fresh = self.encoder.encode(missing)
            known.update(zip([keys[text] for text in missing], fresh, strict=True))
            rows = sorted((keys[text], text, to_bytes(fresh[i])) for i, text in enumerate(missing))
            try:
                # In key order, as the papers' vectors: two senders cannot deadlock.
                self.vectors.save(self.encoder.vectors_id, rows)
            except StoreError as error:
                log.warning("keeping the vectors of %d texts failed: %s", len(missing), error)
        return stacked([known[keys[text]] for text in texts])


def encode_recent(
    store: Store,
    encoder: Model,
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
    encoder: Model,
    candidates: Sequence[Candidate],
    *,
    on_start: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Embeddings:
    """Every candidate's vector: read back from `vectors`, or encoded and saved there,
    `SAVE_EVERY` at a time (a run stopped or killed midway keeps what it encoded). When
    the encoder fails or `should_stop`, none (the caller ranks by words), with a
    warning.

    Several processes encoding one day's papers at once (collectors or senders on
    several machines) share the work without talking to each other: each takes the
    batches in an order of its own (at random) and, before each, reads back what the
    others kept meanwhile, so together they encode each paper about once."""
    texts: dict[str, str] = {}
    for c in candidates:  # of two with one id, the pool keeps the first
        texts.setdefault(c.id, paper_text(c.paper.title, c.paper.abstract))
    known = _read_back(vectors, encoder, texts)
    missing = sorted(set(texts) - set(known))
    if not missing:
        return Embeddings(known)
    log.info("encoding %d papers (%d read back)", len(missing), len(known))
    if on_start:
        on_start(len(missing))
    started = time.perf_counter()
    batches = [missing[at : at + SAVE_EVERY] for at in range(0, len(missing), SAVE_EVERY)]
    random.shuffle(batches)
    encoded = 0
    for at, batch in enumerate(batches):
        if should_stop():
            return Embeddings(None, encoded, time.perf_counter() - started)
        if at:  # another process may have kept some of them since
            known |= _read_back(vectors, encoder, {paper: texts[paper] for paper in batch})
            batch = [paper for paper in batch if paper not in known]
            if not batch:
                continue
        try:
            fresh = encoder.encode([texts[paper] for paper in batch])
        except Exception as error:
            # The edition goes out ranked by words rather than not at all.
            log.warning("encoding %d papers failed (%r); ranking by words", len(missing), error)
            return Embeddings(None, encoded, time.perf_counter() - started)
        known.update(zip(batch, fresh, strict=True))
        encoded += len(batch)
        try:
            vectors.save(
                encoder.vectors_id,
                ((paper, texts[paper], to_bytes(fresh[i])) for i, paper in enumerate(batch)),
            )
        except StoreError as error:
            # Ranked with them all the same; the next run encodes them again.
            log.warning("keeping %d papers' vectors failed: %s", len(batch), error)
    seconds = time.perf_counter() - started
    log.info("encoded %d papers in %.1f s", encoded, seconds)
    return Embeddings(known, encoded, seconds)


def _read_back(vectors: VectorStore, encoder: Model, texts: Mapping[str, str]) -> dict[str, Vector]:
    """The vectors `encoder` made of these papers (id -> text encoded) and kept, by id."""
    found = vectors.find(encoder.vectors_id, texts)
    return {paper: from_bytes(blob) for paper, blob in found.items()}
