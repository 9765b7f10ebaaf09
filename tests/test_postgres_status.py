"""`--db` and `digest status` on both backends: a database named by a path or a URL, and
an edition's progress with the senders holding its claims."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.config import database_url, display_url, load_config, settings_from
from digest.errors import ConfigError
from digest.state.store import Store
from tests import pgserver
from tests.test_collect_cli import digest
from tests.test_ledger import dead_worker

EDITION = date(2026, 11, 21)
READERS = [f"reader{number}@example.org" for number in range(5)]


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("digest.db", "sqlite:///digest.db"),
        ("/srv/digest.db", "sqlite:////srv/digest.db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("postgresql://digest@db.example/digest", "postgresql+psycopg://digest@db.example/digest"),
        ("postgres://digest@db.example/digest", "postgresql+psycopg://digest@db.example/digest"),
        ("postgresql+psycopg://d@h/n", "postgresql+psycopg://d@h/n"),
    ],
)
def test_a_database_is_named_by_a_sqlite_path_or_a_url_run_through_psycopg(
    given: str, url: str
) -> None:
    assert database_url(given) == url


def test_a_database_digest_does_not_run_on_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(None, db_path="mysql://h/db")
    assert raised.value.lines == [
        "--db: mysql:// is not a database digest runs on (use sqlite:///FILE or postgresql://...)"
    ]


def test_the_database_url_has_the_names_of_the_issue_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """digest.database_url in the file, DIGEST_DATABASE_URL in the environment: state.url
    by other names, and --db beats them all."""
    from_file = settings_from({"digest": {"database_url": "postgresql://d@h/file"}})
    assert from_file.state.url == "postgresql+psycopg://d@h/file"
    monkeypatch.setenv("DIGEST_DATABASE_URL", "postgres://d@h/env")
    assert load_config(None).state.url == "postgresql+psycopg://d@h/env"
    assert load_config(None, db_path="x.db").state.url == "sqlite:///x.db"


def test_two_different_databases_in_one_config_are_refused() -> None:
    with pytest.raises(ConfigError, match="name different databases: keep one"):
        settings_from({"digest": {"database_url": "postgresql://h/a"}, "state": {"url": "x.db"}})


def test_a_password_in_a_database_url_is_never_shown() -> None:
    assert display_url("postgresql+psycopg://digest:s3cret@h/d") == (
        "postgresql+psycopg://digest:***@h/d"
    )
    assert display_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with an edition of five: two sent, one held by a sender whose lease
    lapsed long ago, one by a live one, one pending."""
    url = pgserver.database_url(request, tmp_path)
    now = datetime.now(UTC)
    with Store(url) as store:
        store.ledger.open_edition(EDITION, READERS, now=now)
        store.ledger.open_edition(EDITION - timedelta(days=1), READERS, now=now)
        long_ago = now - timedelta(hours=1)
        for number, reader in enumerate(READERS[:3]):
            store.ledger.claim(reader, EDITION, worker="old-host:1:1", now=long_ago)
            if number < 2:
                store.ledger.mark_sent(
                    reader, EDITION, message_id="<m>", reply="250", attempts=1, papers=[], now=now
                )
        store.ledger.claim(READERS[3], EDITION, worker="new-host:2:2", now=now)
    return url


def status(url: str, *args: str, cwd: Path) -> dict[str, object]:
    result = digest("status", "--json", "--db", url, *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout)
    return found


def test_status_shows_the_newest_edition_and_who_holds_what(url: str, tmp_path: Path) -> None:
    shown = status(url, cwd=tmp_path)
    holders = shown.pop("holders")
    # The day before still has rows to send: readers a time zone apart, or a stopped run.
    [earlier] = shown.pop("earlier")  # type: ignore[misc]
    assert (earlier["edition"], earlier["pending"], earlier["holders"]) == ("2026-11-20", 5, [])
    assert shown == {
        "edition": "2026-11-21",
        "total": 5,
        "sent": 2,
        "unconfirmed": 0,
        "failed": 0,
        "empty": 0,
        "pending": 1,
        "sending": 2,
    }
    assert isinstance(holders, list)
    assert [(held["worker"], held["rows"], held["expired"]) for held in holders] == [
        ("new-host:2:2", 1, False),
        ("old-host:1:1", 1, True),
    ]
    older = status(url, "--edition", "2026-11-20", cwd=tmp_path)
    assert (older["pending"], older["holders"]) == (5, [])


def test_status_as_text_is_a_line_of_counts_and_a_row_per_sender(url: str, tmp_path: Path) -> None:
    result = digest("status", "--db", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first, header, *rows = result.stdout.splitlines()
    assert first == (
        "edition 2026-11-21: 5 subscribers: "
        "2 sent, 0 unconfirmed, 0 failed, 0 empty, 1 pending, 2 sending"
    )
    assert header.split() == ["sender", "holds", "renewed", "lease"]
    assert "new-host:2:2" in rows[0] and "expires in 14m" in rows[0]
    assert "old-host:1:1" in rows[1] and "lapsed 45m" in rows[1]
    assert rows[2:] == [
        "edition 2026-11-20: 5 subscribers: "
        "0 sent, 0 unconfirmed, 0 failed, 0 empty, 5 pending, 0 sending",
        "no sender holds a claim",
    ]


def test_status_of_an_empty_ledger_says_so(tmp_path: Path) -> None:
    result = digest("status", "--db", str(tmp_path / "new.db"), cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr == "error: the ledger holds no edition yet (run `digest send`)\n"


def test_a_claim_whose_process_is_gone_says_the_next_run_takes_it(tmp_path: Path) -> None:
    """A sender of this host killed mid-send: its lease still runs, but the next run on
    this host takes the rows over at once, and status says so."""
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    with Store(url) as store:
        store.ledger.open_edition(EDITION, READERS[:1], now=datetime.now(UTC))
        store.ledger.claim(READERS[0], EDITION, worker=dead_worker(), now=datetime.now(UTC))
    [held] = status(url, cwd=tmp_path)["holders"]  # type: ignore[misc]
    assert (held["expired"], held["process_gone"]) == (False, True)
    text = digest("status", "--db", url, cwd=tmp_path).stdout
    assert "its process is gone: the next run here takes them at once" in text
