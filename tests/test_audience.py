"""Subscriber state in the database: unsubscribes, bounces, votes, the online copies, and
the papers' kept sentence embeddings.

The config says who is subscribed; the database can only stop mail, and remembers why.
Every test runs on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.state.audience import BOUNCED, SUBSCRIBED, UNSUBSCRIBED
from digest.state.store import Store
from digest.state.votes import LESS, MORE, Taste
from tests.pgserver import database_url

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with Store(database_url(request, tmp_path)) as opened:
        yield opened


def test_an_address_never_heard_of_is_mailed(store: Store) -> None:
    assert store.audience.standing("ada@example.org") is None
    assert store.audience.suppressed() == frozenset()


def test_unsubscribing_suppresses_the_address_and_says_when_and_how(store: Store) -> None:
    assert store.audience.unsubscribe("Ada@Example.org", how="one-click", now=NOW)
    standing = store.audience.standing("ada@example.org")
    assert standing is not None
    assert (standing.status, standing.how, standing.changed_at) == (UNSUBSCRIBED, "one-click", NOW)
    assert store.audience.suppressed() == {"ada@example.org"}


def test_unsubscribing_twice_keeps_the_first_time_and_way(store: Store) -> None:
    store.audience.unsubscribe("ada@example.org", how="one-click", now=NOW)
    assert not store.audience.unsubscribe("ada@example.org", how="command line", now=LATER)
    standing = store.audience.standing("ada@example.org")
    assert standing is not None and (standing.how, standing.changed_at) == ("one-click", NOW)


def test_resubscribing_mails_the_address_again(store: Store) -> None:
    store.audience.unsubscribe("ada@example.org", how="one-click", now=NOW)
    assert store.audience.resubscribe("ada@example.org", how="web page", now=LATER)
    standing = store.audience.standing("ada@example.org")
    assert standing is not None and (standing.status, standing.how) == (SUBSCRIBED, "web page")
    assert store.audience.suppressed() == frozenset()
    assert not store.audience.resubscribe("ada@example.org", how="web page", now=LATER)


def test_a_hard_bounce_suppresses_at_once(store: Store) -> None:
    standing = store.audience.bounce(
        "bob@example.org", hard=True, detail="5.1.1 user unknown", limit=3, now=NOW
    )
    assert (standing.status, standing.how) == (BOUNCED, "bounce: 5.1.1 user unknown")
    assert store.audience.suppressed() == {"bob@example.org"}


def test_soft_bounces_count_and_suppress_at_the_limit(store: Store) -> None:
    for count in (1, 2):
        standing = store.audience.bounce(
            "bob@example.org", hard=False, detail="4.2.2 mailbox full", limit=3, now=NOW
        )
        assert (standing.status, standing.soft_bounces) == (SUBSCRIBED, count)
    assert store.audience.suppressed() == frozenset()
    standing = store.audience.bounce(
        "bob@example.org", hard=False, detail="4.2.2 mailbox full", limit=3, now=LATER
    )
    assert standing.status == BOUNCED and standing.changed_at == LATER
    assert standing.how == "3 temporary bounces, last: 4.2.2 mailbox full"


def test_resubscribing_forgets_the_bounces(store: Store) -> None:
    store.audience.bounce("bob@example.org", hard=True, detail="5.1.1", limit=3, now=NOW)
    store.audience.resubscribe("bob@example.org", how="command line", now=LATER)
    standing = store.audience.standing("bob@example.org")
    assert standing is not None and (standing.status, standing.soft_bounces) == (SUBSCRIBED, 0)


def test_a_bounce_after_unsubscribing_keeps_the_reader_unsubscribed(store: Store) -> None:
    store.audience.unsubscribe("ada@example.org", how="one-click", now=NOW)
    standing = store.audience.bounce(
        "ada@example.org", hard=True, detail="5.1.1", limit=3, now=LATER
    )
    assert (standing.status, standing.how) == (UNSUBSCRIBED, "one-click")


def test_the_latest_vote_on_a_paper_wins(store: Store) -> None:
    store.votes.record("ada@example.org", "arxiv:2501.00001", MORE, now=NOW)
    store.votes.record("ada@example.org", "arxiv:2501.00002", LESS, now=NOW)
    store.votes.record("Ada@example.org", "arxiv:2501.00002", MORE, now=LATER)
    store.votes.record("bob@example.org", "arxiv:2501.00003", LESS, now=NOW)
    tastes = store.votes.tastes(["ADA@example.org", "carol@example.org"])
    assert tastes == {"ada@example.org": Taste(likes=("arxiv:2501.00001", "arxiv:2501.00002"))}
    assert store.votes.counts() == {"ada@example.org": 2, "bob@example.org": 1}


def test_a_vote_is_more_or_less(store: Store) -> None:
    with pytest.raises(ValueError, match="a vote is 1 or -1"):
        store.votes.record("ada@example.org", "arxiv:2501.00001", 5, now=NOW)


def test_an_edition_is_kept_for_its_reader_and_a_newer_one_forgets_nothing(
    store: Store,
) -> None:
    html = "<html><body>" + "Graph neural networks. " * 2000 + "</body></html>"
    first = date(2026, 11, 1)
    store.archive.keep("Ada@example.org", first, subject="Papers", html=html, now=NOW)
    found = store.archive.find("ada@example.org", first)
    assert found is not None and (found.subject, found.html) == ("Papers", html)
    assert store.archive.find("bob@example.org", first) is None
    later = first + timedelta(days=31)
    store.archive.keep("ada@example.org", later, subject="Later", html="x", now=NOW)
    assert store.archive.find("ada@example.org", first) is not None, "forget_before's work"
    assert store.archive.find("ada@example.org", later) is not None


def test_old_copies_of_every_reader_are_forgotten_at_once(store: Store) -> None:
    first = date(2026, 11, 1)
    for reader, edition in (("ada@example.org", first), ("bob@example.org", first)):
        store.archive.keep(reader, edition, subject="Papers", html="x", now=NOW)
    later = first + timedelta(days=5)
    store.archive.keep("bob@example.org", later, subject="Later", html="x", now=NOW)
    assert store.archive.forget_before(later) == 2
    assert store.archive.find("ada@example.org", first) is None
    assert store.archive.find("bob@example.org", first) is None
    assert store.archive.find("bob@example.org", later) is not None
    assert store.archive.forget_before(later) == 0


def test_the_suppressed_among_a_few_or_many_addresses(store: Store) -> None:
    store.audience.unsubscribe("ada@example.org", how="one-click", now=NOW)
    store.audience.bounce("bob@example.org", hard=True, detail="5.1.1", limit=3, now=NOW)
    store.audience.bounce("carol@example.org", hard=False, detail="4.2.2", limit=3, now=NOW)
    few = ["ADA@example.org", "carol@example.org", "dan@example.org"]
    assert store.audience.suppressed_among(few) == {"ada@example.org"}
    many = [f"reader{number}@example.org" for number in range(600)] + ["bob@example.org"]
    assert store.audience.suppressed_among(many) == {"bob@example.org"}


def test_the_votes_of_a_few_or_many_readers(store: Store) -> None:
    store.votes.record("ada@example.org", "arxiv:2501.00001", MORE, now=NOW)
    store.votes.record("bob@example.org", "arxiv:2501.00002", LESS, now=NOW)
    assert store.votes.tastes(["bob@example.org"]) == {
        "bob@example.org": Taste(dislikes=("arxiv:2501.00002",))
    }
    many = [f"reader{number}@example.org" for number in range(600)] + ["ada@example.org"]
    assert store.votes.tastes(many) == {"ada@example.org": Taste(likes=("arxiv:2501.00001",))}


# --- paper vectors: the sentence encoder's, kept (digest.state.vectors) -------------------


def test_a_vector_is_read_back_for_its_model_and_text_alone(store: Store) -> None:
    vector = bytes(range(256)) * 6  # 384 float32s' worth of bytes, every byte value
    store.vectors.save("model-a", [("arxiv:2508.01234", "Title. Abstract.", vector)])
    assert store.vectors.find("model-a", {"arxiv:2508.01234": "Title. Abstract."}) == {
        "arxiv:2508.01234": vector
    }
    assert store.vectors.find("model-a", {"arxiv:2508.01234": "Title. Revised."}) == {}
    assert store.vectors.find("model-b", {"arxiv:2508.01234": "Title. Abstract."}) == {}
    assert store.vectors.find("model-a", {"arxiv:9999.99999": "Title. Abstract."}) == {}


def test_a_new_vector_of_a_paper_replaces_the_old(store: Store) -> None:
    store.vectors.save("model-a", [("doi:10.1/x", "old text", b"\x00" * 8)])
    store.vectors.save("model-b", [("doi:10.1/x", "new text", b"\x01" * 8)])
    assert store.vectors.find("model-b", {"doi:10.1/x": "new text"}) == {"doi:10.1/x": b"\x01" * 8}
    assert store.vectors.find("model-a", {"doi:10.1/x": "old text"}) == {}


def test_a_soft_bounce_after_a_hard_one_keeps_the_address_bounced(store: Store) -> None:
    # A hard bounce (or a 5.1.1 at RCPT), then a delay warning about an earlier message.
    store.audience.bounce("bob@example.org", hard=True, detail="550 5.1.1", limit=5, now=NOW)
    standing = store.audience.bounce(
        "bob@example.org", hard=False, detail="4.4.7 delayed", limit=5, now=LATER
    )
    assert (standing.status, standing.how) == (BOUNCED, "bounce: 550 5.1.1")
    assert store.audience.suppressed() == {"bob@example.org"}
