"""Readers' votes on papers: "more like this" and "less like this", the latest one wins."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from digest.state.db import Database, chunks
from digest.state.schema import timestamp, votes

MORE, LESS = 1, -1


@dataclass(frozen=True, slots=True)
class Taste:
    """One reader's votes: the papers they want more of, and less of."""

    likes: tuple[str, ...] = ()
    dislikes: tuple[str, ...] = ()


class Votes:
    """Every reader's votes, by paper id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, email: str, paper: str, vote: int, *, now: datetime) -> None:
        """`email` wants more (MORE) or less (LESS) like `paper`; a new vote replaces one."""
        if vote not in (MORE, LESS):
            raise ValueError(f"a vote is {MORE} or {LESS}, not {vote!r}")
        statement = self._db.insert(votes)
        statement = statement.on_conflict_do_update(
            index_elements=[votes.c.subscriber, votes.c.paper],
            set_={"vote": statement.excluded.vote, "voted_at": statement.excluded.voted_at},
        )
        row = {
            "subscriber": email.lower(),
            "paper": paper,
            "vote": vote,
            "voted_at": timestamp(now),
        }
        with self._db.transaction("record a vote") as conn:
            conn.execute(statement, row)

    def tastes(self, emails: Iterable[str]) -> dict[str, Taste]:
        """The votes of each of `emails` that voted (lower-case keys), oldest vote first."""
        wanted = sorted({email.lower() for email in emails})
        found: dict[str, tuple[list[str], list[str]]] = {}
        with self._db.reading("read the votes") as conn:
            for chunk in chunks(wanted):
                query = (
                    select(votes.c.subscriber, votes.c.paper, votes.c.vote)
                    .where(votes.c.subscriber.in_(chunk))
                    .order_by(votes.c.subscriber, votes.c.voted_at, votes.c.paper)
                )
                for subscriber, paper, vote in conn.execute(query):
                    likes, dislikes = found.setdefault(subscriber, ([], []))
                    (likes if vote == MORE else dislikes).append(paper)
        return {email: Taste(tuple(up), tuple(down)) for email, (up, down) in found.items()}

    def counts(self) -> dict[str, int]:
        """How many votes each reader cast."""
        query = select(votes.c.subscriber, func.count()).group_by(votes.c.subscriber)
        with self._db.reading("count the votes") as conn:
            return {str(subscriber): int(count) for subscriber, count in conn.execute(query)}
