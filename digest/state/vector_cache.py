"""Papers' sentence embeddings kept between runs that keep nothing else.

`digest rank SOURCE` and `digest render SOURCE` collect into a throwaway database, so the
vectors they make would die with it, and every preview of the same feed would encode
it again (the 204 seed papers: about 14 s on a 2-core machine). This cache keeps them in
a SQLite file of the user's cache folder (`platformdirs`: ~/.cache/paper-digest on
Linux, ~/Library/Caches/paper-digest on macOS), by model and text digest, so any paper
with the same text is found again whatever its id.

It is only a cache: a folder that cannot be written, a file that is corrupt or locked,
and the run goes on without it (logged). Vectors not used for `KEEP_DAYS` are dropped
when it opens, so it holds about what the feeds previewed lately hold (1.6 KB a paper).
Same interface as `PaperVectors` (find by paper id and text, save triples).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import date, timedelta
from pathlib import Path

from digest.state.db import chunks
from digest.state.vectors import text_digest

log = logging.getLogger(__name__)

APP = "paper-digest"
FILE = "vectors.sqlite"
KEEP_DAYS = 30

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    used TEXT NOT NULL,
    PRIMARY KEY (model, text)
) WITHOUT ROWID
"""


def cache_path() -> Path:
    """Where the cache lives: the user's cache folder for paper-digest."""
    import platformdirs

    return platformdirs.user_cache_path(APP) / FILE


class VectorCache:
    """Vectors by (model, text digest) in one SQLite file. Never raises on its own account:
    a failing read finds nothing, a failing write keeps nothing."""

    def __init__(self, connection: sqlite3.Connection, today: date) -> None:
        self._conn = connection
        self._today = today.isoformat()

    def find(self, model: str, texts: Mapping[str, str]) -> dict[str, bytes]:
        """The cached vectors of the papers of `texts` (paper id -> the text encoded)."""
        by_digest: dict[str, list[str]] = {}
        for paper, text in texts.items():
            by_digest.setdefault(text_digest(text), []).append(paper)
        digests = sorted(by_digest)
        slices = list(chunks(digests))
        found: dict[str, bytes] = {}
        try:
            for chunk in slices:
                query = f"SELECT text, vector FROM vectors WHERE model = ? AND text IN {_in(chunk)}"
                rows = self._conn.execute(query, [model, *chunk]).fetchall()
                for digest, vector in rows:
                    found.update(dict.fromkeys(by_digest[digest], bytes(vector)))
        except sqlite3.Error as error:
            log.warning("the vector cache could not be read (%s): encoding again", error)
            return {}
        try:
            # What was read stays: `used` is what keeps a vector past KEEP_DAYS.
            with self._conn:
                for chunk in slices:
                    update = f"UPDATE vectors SET used = ? WHERE model = ? AND text IN {_in(chunk)}"
                    self._conn.execute(update, [self._today, model, *chunk])
        except sqlite3.Error as error:
            log.warning("the vector cache could not be written (%s)", error)
        return found

    def save(self, model: str, items: Iterable[tuple[str, str, bytes]]) -> None:
        """Keep (paper id, text encoded, vector) triples."""
        rows = [(model, text_digest(text), vector, self._today) for _, text, vector in items]
        try:
            with self._conn:
                self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
        except sqlite3.Error as error:
            log.warning("the vector cache could not be written (%s)", error)


def _in(values: Sequence[str]) -> str:
    """The placeholders of an IN list of these values: (?,?,...)."""
    return f"({','.join('?' * len(values))})"


@contextmanager
def open_vector_cache(today: date, path: Path | None = None) -> Iterator[VectorCache | None]:
    """The cache at `path` (default: `cache_path()`), its stale vectors dropped; None when
    it cannot be opened (the reason logged). A file that is not a SQLite database (cut
    short, overwritten) is made anew: it only held what can be encoded again."""
    where = path or cache_path()
    try:
        connection = _open(where, today)
    except sqlite3.DatabaseError as error:
        if isinstance(error, sqlite3.OperationalError):  # locked, read-only, no space
            connection = None
        else:
            log.warning("the vector cache %s was damaged (%s): starting it again", where, error)
            try:
                where.unlink()
                connection = _open(where, today)
            except (OSError, sqlite3.Error):
                connection = None
        if connection is None:
            log.warning("no vector cache at %s (%s): encoding every paper", where, error)
    except OSError as error:
        log.warning("no vector cache at %s (%s): encoding every paper", where, error)
        connection = None
    if connection is None:
        yield None
        return
    with closing(connection):
        yield VectorCache(connection, today)


def _open(where: Path, today: date) -> sqlite3.Connection:
    where.parent.mkdir(parents=True, exist_ok=True)
    # A preview waits a little for another one writing, never long.
    connection = sqlite3.connect(where, timeout=5.0)
    try:
        with connection:
            connection.execute(_SCHEMA)
            stale = (today - timedelta(days=KEEP_DAYS)).isoformat()
            connection.execute("DELETE FROM vectors WHERE used < ?", [stale])
    except BaseException:
        connection.close()
        raise
    return connection
