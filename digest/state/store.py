"""The state of one database, opened once: papers, the delivery ledger, the HTTP cache,
the audience (unsubscribes, bounces), votes and the online archive."""

from __future__ import annotations

from digest.state.archive import Archive
from digest.state.audience import Audience
from digest.state.claims import Claims
from digest.state.db import Database
from digest.state.http_cache import HttpCache
from digest.state.ledger import Ledger
from digest.state.papers import Papers
from digest.state.vectors import PaperVectors
from digest.state.votes import Votes


class Store:
    """Every store over one database. One instance per process; cheap to open.
    `create=False`: a SQLite file that does not exist is not made (`Database`)."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.db = Database(url, create=create)
        self.papers = Papers(self.db)
        self.ledger = Ledger(self.db)
        self.claims = Claims(self.db)
        self.http_cache = HttpCache(self.db)
        self.audience = Audience(self.db)
        self.votes = Votes(self.db)
        self.archive = Archive(self.db)
        self.vectors = PaperVectors(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
