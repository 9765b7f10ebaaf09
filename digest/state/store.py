"""The state of one database, opened once: papers, the delivery ledger, the HTTP cache."""

from __future__ import annotations

from digest.state.db import Database
from digest.state.http_cache import HttpCache
from digest.state.ledger import Ledger
from digest.state.papers import Papers


class Store:
    """Every store over one database. One instance per process; cheap to open."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.papers = Papers(self.db)
        self.ledger = Ledger(self.db)
        self.http_cache = HttpCache(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
