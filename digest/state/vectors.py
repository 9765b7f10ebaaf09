"""Papers' sentence embeddings, kept so that each paper is encoded once in its life.

Encoding is the dearest step of ranking with the sentence encoder (70-150 ms a paper on
this 2-core machine, `digest.rank.encoder`); a paper stays a candidate for days and is
ranked on every send, so its vector is made the first time and read afterwards (1,536
bytes a paper). Two senders that save one paper's vector at once both write it (the last
one stays), taking the rows in one order (the caller sorts them), so they cannot
deadlock. A stored vector counts only for the same model and the same text
(`text_digest`). A vector is kept as the bytes `digest.rank.semantic` makes of it. The
readers' interest phrases are kept here too, under `text:` keys of their own
(`digest.pipeline.pool.KeptEncoder`): encoded on the first send that asks, read back after.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from sqlalchemy import select

from digest.state.db import Database, chunks
from digest.state.schema import paper_vectors


def text_digest(text: str) -> str:
    """A short digest of the text a vector was made from."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class VectorStore(Protocol):
    """Where vectors are kept: the database (`PaperVectors`) or the user's cache
    (`digest.state.vector_cache`)."""

    def find(self, model: str, texts: Mapping[str, str]) -> dict[str, bytes]: ...

    def save(self, model: str, items: Iterable[tuple[str, str, bytes]]) -> None: ...


class PaperVectors:
    """Stored embeddings, by paper id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def find(self, model: str, texts: Mapping[str, str]) -> dict[str, bytes]:
        """The stored vectors of the papers of `texts` (paper id -> the text encoded)
        made by `model` from that very text."""
        wanted = {paper: text_digest(text) for paper, text in texts.items()}
        found: dict[str, bytes] = {}
        table = paper_vectors.c
        with self._db.reading("read paper vectors") as conn:
            for chunk in chunks(sorted(wanted)):
                query = select(table.paper, table.text, table.vector).where(
                    table.paper.in_(chunk), table.model == model
                )
                for paper, digest, vector in conn.execute(query):
                    if wanted[paper] == digest:
                        found[paper] = bytes(vector)
        return found

    def save(self, model: str, items: Iterable[tuple[str, str, bytes]]) -> None:
        """Keep (paper id, text encoded, vector) triples, replacing older ones."""
        rows: Sequence[dict[str, object]] = [
            {
                "paper": paper,
                "model": model,
                "text": text_digest(text),
                "vector": vector,
            }
            for paper, text, vector in items
        ]
        if not rows:
            return
        statement = self._db.insert(paper_vectors)
        statement = statement.on_conflict_do_update(
            index_elements=[paper_vectors.c.paper],
            set_={
                "model": statement.excluded.model,
                "text": statement.excluded.text,
                "vector": statement.excluded.vector,
            },
        )
        with self._db.transaction("save paper vectors") as conn:
            conn.execute(statement, list(rows))
