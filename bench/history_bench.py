"""What a year of history costs a send: one edition on a year-old database against a fresh one.

Run by hand:  .venv/bin/python -m bench.history_bench [--days 365] [--papers-per-day 800]
                  [--subscribers 2000] [--per-edition 10] [--fresh-days 3] [--keep DIR]
                  [--json]

Two SQLite databases are built in a temporary folder (or in --keep DIR, and kept): "a
year", --days days of history before the edition (2026-12-02), and "fresh", the same for
--fresh-days days. The project's Store makes the schema; the rows go in by direct
sqlite3 inserts (what the program would take hours to write through its own paths),
checked column for column against digest/state/schema.py and made by the program's own
helpers where it has them: `paper_row` and `identity_keys` for papers and their keys,
`timestamp` for every time, the ledger's statuses and Message-IDs as `digest send` writes
them, the archive's zlib-compressed HTML of real rendered editions. Each day lists
--papers-per-day arXiv papers (titles and abstracts recombined from the seed dumps,
tests.seeds; authors, 1-3 categories), each in its category's feed (a "new" sighting, and
"cross" ones in other feeds), about 8% of them on Hugging Face's daily papers the next
day (with upvotes). Each of --subscribers readers (the addresses bench.send_bench's
config lists) received --per-edition of each day's papers in a "sent" ledger row, and
the last 30 days of editions stay in the archive; one reader in ten voted on 5-20 papers
received in their last 60 days; one in 50 unsubscribed and one in 200 bounced.
Everything is drawn from fixed seeds: the same arguments build the same rows (the
timestamps of the new day's sightings excepted).

Then, on each database:

  collect   one more day's listing, the edition's: a dump of --papers-per-day new papers
            dated the edition day, stored by the real CLI, `digest collect FILE`
  queries   in this process through the Store API, fastest of 5 calls: the edition's
            candidates (Papers.candidates over the config's candidate days), what a batch
            of readers received among them (Ledger.delivered_ids_of, one send batch of 25,
            with `listed` as sends ask, and over the whole history as sends did before),
            Papers.any ("no papers yet"), and Papers.count, which it replaced
  send      the real CLI, `digest send --dry-run --json --date EDITION` for every reader:
            wall and CPU seconds of that process (os.wait4) and its peak RSS (its
            VmHWM at exit: its own, where ru_maxrss would count what this benchmark held
            when it forked), start-up and config included; run as the console script
            runs it, digest.cli:main. The config is bench.send_bench's write_config with
            semantic_model = "off" (no optional encoder) and a public_url, whose links
            are signed as in a real send.

Printed: each database's build time, file size and rows per table, then a table of each
step, fresh against a year. The defaults build 292,000 papers and 7.3 M delivered rows
(about 2 GB; --days 90 --subscribers 500 is a quicker look).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy
from sqlalchemy import Table

from bench.send_bench import write_config
from digest.identity import identity_keys, title_key
from digest.mail.envelope import Envelope
from digest.mail.message import message_id as product_message_id
from digest.models import Paper
from digest.state import schema
from digest.state.ledger import SENT
from digest.state.store import Store
from tests.seeds import SEEDS, seed_papers

EDITION = date(2026, 12, 2)
SEED = 20261202
# Links are signed as in a real send (a public_url needs a secret); not a real one.
SECRET = "history-bench-secret-not-for-mail"
PORT = 2525  # a dry run connects to no server
SENDER = "Paper Digest <digest@example.org>"  # write_config's sender
PUBLIC_URL = "https://digest.example.org/"
ARCHIVE_DAYS = 30  # the config's default archive_days
REPEAT = 5
FEEDS = {
    "cs.LG": ("arxiv-cs-lg", "https://rss.arxiv.org/rss/cs.LG"),
    "cs.AI": ("arxiv-cs-ai", "https://rss.arxiv.org/rss/cs.AI"),
    "cs.CL": ("arxiv-cs-cl", "https://rss.arxiv.org/rss/cs.CL"),
    "cs.CV": ("arxiv-cs-cv", "https://rss.arxiv.org/rss/cs.CV"),
}
CROSS_LISTED = (*FEEDS, "stat.ML", "cs.IR", "eess.IV")
HF_SOURCE, HF_LOCATION = "hf-daily", "https://huggingface.co/api/daily_papers"
HF_SHARE = 0.08  # of a day's papers, on Hugging Face's list the next day
FIRST_NAMES = ("Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Wu")
DUMP_HEADER = ("new", "Get trending papers in your email inbox!", "Subscribe")
# The rows of the two tables written by the million, in schema order (checked).
DELIVERIES = (
    "subscriber",
    "edition",
    "status",
    "worker",
    "claimed_at",
    "attempts",
    "message_id",
    "reply",
    "papers",
    "sent_at",
    "updated_at",
)
DELIVERED_PAPERS = ("subscriber", "paper_id", "edition", "delivered_at")


# -- text ---------------------------------------------------------------------------------


class Writer:
    """Titles and abstracts recombined from the seed dumps' papers: a title joins spans of
    2-4 words of several seed titles, an abstract 6-11 seed sentences."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self._titles = [words for paper in papers if len(words := paper.title.split()) >= 2]
        self._sentences = [
            sentence
            for paper in papers
            for sentence in re.split(r"(?<=[.!?])\s+", paper.abstract)
            if len(sentence) > 20
        ]
        if not self._titles or not self._sentences:
            raise SystemExit(f"no seed papers in {SEEDS}")

    @classmethod
    def from_seeds(cls) -> Writer:
        return cls(seed_papers(SEEDS, today=date(2026, 3, 12)))

    def title(self, rng: random.Random, taken: set[str]) -> tuple[str, str]:
        """A title whose identity key is not in `taken` (then added): (title, key)."""
        while True:
            words: list[str] = []
            length = rng.randint(6, 14)
            while len(words) < length:
                source = rng.choice(self._titles)
                span = rng.randint(2, 4)
                start = rng.randrange(max(len(source) - span, 0) + 1)
                words += source[start : start + span]
            title = " ".join(words).rstrip(".:;,!?")
            key = title_key(title)
            if key not in taken:
                taken.add(key)
                return title, key

    def abstract(self, rng: random.Random) -> str:
        return " ".join(rng.sample(self._sentences, rng.randint(6, 11)))


def write_dump(path: Path, papers: Sequence[tuple[str, str]], day: date) -> Path:
    """A Hugging Face listing dump of `papers` (title, abstract), dated `day`."""
    lines = [*DUMP_HEADER, day.isoformat()]
    for title, abstract in papers:
        lines += [title, abstract]
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return path


def dump_papers(writer: Writer, count: int, taken: set[str]) -> list[tuple[str, str]]:
    """The new day's papers (title, abstract); their title keys go into `taken`."""
    rng = random.Random(SEED + 1)
    return [(writer.title(rng, taken)[0], writer.abstract(rng)) for _ in range(count)]


def archive_pages(count: int = 8) -> list[tuple[str, bytes]]:
    """`count` real editions (bench.render_bench's, rendered by the product's Renderer) as
    the archive keeps them: (subject, zlib-compressed HTML)."""
    from bench.render_bench import FOOTER, make_editions
    from digest.mail.render import Renderer

    renderer = Renderer.load()
    pages = []
    for edition in make_editions(count, random.Random(SEED)):
        email = renderer.render(edition, FOOTER)
        pages.append((email.subject, zlib.compress(email.html.encode(), 6)))
    return pages


# -- the database -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shape:
    """What a history holds: `days` days before `edition`, and its readers."""

    days: int
    papers_per_day: int
    subscribers: int
    per_edition: int
    edition: date = EDITION

    @property
    def history(self) -> list[date]:
        return [self.edition - timedelta(days=self.days - n) for n in range(self.days)]


@dataclass(slots=True)
class Built:
    """A database built: where, in how long, its size and rows, and the canonical ids
    with a sighting on each history day (what `candidates(until=day, days=1)` finds)."""

    path: Path
    seconds: float = 0.0
    megabytes: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    listed: dict[date, set[str]] = field(default_factory=dict)


def reader(number: int) -> str:
    """The address write_config gives reader `number`."""
    return f"reader{number:05d}@example.org"


def message_id(recipient: str, edition: date) -> str:
    """The Message-ID `digest send` gives (recipient, edition)."""
    return product_message_id(Envelope(SENDER, recipient, None, edition))


def at(day: date, hour: int, minute: int = 0, second: float = 0.0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) + timedelta(
        seconds=second
    )


def insert_sql(table: Table, names: Sequence[str] | None = None) -> str:
    """INSERT of every column of `table`, in schema order; `names`, when given, must be
    that order (the rows were built for it)."""
    columns = [column.name for column in table.c]
    if names is not None and tuple(names) != tuple(columns):
        raise SystemExit(f"{table.name}: the schema's columns are {columns}, not {list(names)}")
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )


def in_order(table: Table, rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as dicts of column values (exactly the table's columns) as tuples."""
    columns = [column.name for column in table.c]
    ordered = []
    for row in rows:
        if len(row) != len(columns):
            raise SystemExit(f"{table.name}: a row has {sorted(row)}, the table {columns}")
        ordered.append(tuple(row[name] for name in columns))
    return ordered


def build(
    path: Path,
    shape: Shape,
    writer: Writer,
    pages: Sequence[tuple[str, bytes]],
    *,
    taken: Iterable[str] = (),
    seed: int = SEED,
) -> Built:
    """A history database at `path` (replaced): the schema by Store, rows by sqlite3. No
    title key of `taken` is used (the new day's papers keep theirs)."""
    started = time.perf_counter()
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    Store(f"sqlite:///{path}").close()  # the schema, as the program makes it
    built = Built(path)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # A throwaway build: no journal, no fsync; WAL again (as the program left it) after.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-400000")
        rng = random.Random(seed)
        connection.execute("BEGIN")
        day_papers = _write_papers(connection, shape, writer, rng, set(taken), built)
        _write_readers(connection, shape, day_papers, pages, rng)
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode=WAL")
        for table in schema.metadata.sorted_tables:
            built.rows[table.name] = connection.execute(
                f"SELECT count(*) FROM {table.name}"
            ).fetchone()[0]
    finally:
        connection.close()
    built.seconds = time.perf_counter() - started
    built.megabytes = path.stat().st_size / 1e6
    return built


def _write_papers(
    connection: sqlite3.Connection,
    shape: Shape,
    writer: Writer,
    rng: random.Random,
    taken: set[str],
    built: Built,
) -> dict[date, list[tuple[int, str]]]:
    """Each day's arXiv papers with their keys and sightings (and the next day's on
    Hugging Face): (id, canonical id) of each day's papers."""
    history = shape.history
    day_papers: dict[date, list[tuple[int, str]]] = {}
    built.listed = {day: set() for day in history}
    papers_sql = insert_sql(schema.papers)
    keys_sql = insert_sql(schema.paper_keys)
    sightings_sql = insert_sql(schema.sightings)
    paper_id = 0
    in_month: dict[str, int] = {}
    for day in history:
        stamp = schema.timestamp(at(day, 6, 5))
        published = at(day - timedelta(days=1), 18)
        next_day = day + timedelta(days=1)
        hf_seen = schema.timestamp(at(next_day, 6, 10))
        listing, hf_listing = day.isoformat(), next_day.isoformat()
        papers, keys, sightings = [], [], []
        positions = dict.fromkeys(FEEDS.values(), 0)
        hf_position = 0
        ids = []
        for _ in range(shape.papers_per_day):
            paper_id += 1
            month = f"{day:%y%m}"
            in_month[month] = in_month.get(month, 0) + 1
            arxiv = f"{month}.{in_month[month]:05d}"
            title, _key = writer.title(rng, taken)
            categories = (
                rng.choice(tuple(FEEDS)),
                *rng.sample(CROSS_LISTED, rng.choice((0, 0, 1, 1, 2))),
            )
            categories = tuple(dict.fromkeys(categories))
            paper = Paper(
                title=title,
                abstract=writer.abstract(rng),
                authors=tuple(
                    f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                    for _ in range(rng.randint(1, 8))
                ),
                arxiv_id=arxiv,
                arxiv_version=1,
                categories=categories,
                published=published,
                url=f"https://arxiv.org/abs/{arxiv}",
                pdf_url=f"https://arxiv.org/pdf/{arxiv}",
                code_urls=(f"https://github.com/example/{arxiv}",) if rng.random() < 0.2 else (),
            )
            paper_keys = identity_keys(paper)
            canonical = paper_keys[0]
            papers.append(
                schema.paper_row(paper, canonical)
                | {"id": paper_id, "first_seen": stamp, "updated_at": stamp}
            )
            keys += [{"key": key, "paper_id": paper_id} for key in paper_keys]
            for number, category in enumerate(categories):
                if category not in FEEDS:
                    continue
                source, location = FEEDS[category]
                positions[source, location] += 1
                sightings.append(
                    {
                        "paper_id": paper_id,
                        "location": location,
                        "listing": listing,
                        "source": source,
                        "listed_on": listing,
                        "position": positions[source, location],
                        "upvotes": None,
                        "announce_type": "cross" if number else "new",
                        "seen_at": stamp,
                    }
                )
            built.listed[day].add(canonical)
            if next_day < shape.edition and rng.random() < HF_SHARE:
                hf_position += 1
                sightings.append(
                    {
                        "paper_id": paper_id,
                        "location": HF_LOCATION,
                        "listing": hf_listing,
                        "source": HF_SOURCE,
                        "listed_on": hf_listing,
                        "position": hf_position,
                        "upvotes": rng.randint(0, 300),
                        "announce_type": None,
                        "seen_at": hf_seen,
                    }
                )
                built.listed[next_day].add(canonical)
            ids.append((paper_id, canonical))
        connection.executemany(papers_sql, in_order(schema.papers, papers))
        connection.executemany(keys_sql, in_order(schema.paper_keys, keys))
        connection.executemany(sightings_sql, in_order(schema.sightings, sightings))
        day_papers[day] = ids
    if history:  # what the feeds said when last asked
        checked_at = schema.timestamp(at(history[-1], 6))
        validators = [
            {"url": url, "etag": f'"{history[-1]:%Y%m%d}"', "last_modified": None}
            | {"checked_at": checked_at}
            for url in sorted({*(location for _, location in FEEDS.values()), HF_LOCATION})
        ]
        connection.executemany(
            insert_sql(schema.http_cache), in_order(schema.http_cache, validators)
        )
    return day_papers


def _write_readers(
    connection: sqlite3.Connection,
    shape: Shape,
    day_papers: dict[date, list[tuple[int, str]]],
    pages: Sequence[tuple[str, bytes]],
    rng: random.Random,
) -> None:
    """Each reader's ledger rows, papers received, archived editions, votes, standing."""
    history = shape.history
    deliveries_sql = insert_sql(schema.deliveries, DELIVERIES)
    delivered_sql = insert_sql(schema.delivered_papers, DELIVERED_PAPERS)
    archive_sql = insert_sql(schema.archive)
    votes_sql = insert_sql(schema.votes)
    audience_sql = insert_sql(schema.audience)
    archived = set(history[-ARCHIVE_DAYS:])
    recent = set(history[-60:])
    draw = numpy.random.default_rng(rng.getrandbits(64))
    for number in range(shape.subscribers):
        subscriber = reader(number)
        deliveries, delivered, archive, received = [], [], [], []
        # Each day's picks, in the email's order: per_edition of the day's papers.
        picked = draw.random((len(history), shape.papers_per_day)).argpartition(
            shape.per_edition - 1, axis=1
        )[:, : shape.per_edition]
        for day, indices in zip(history, picked.tolist(), strict=True):
            listed = day_papers[day]
            ids = [listed[index][1] for index in indices]
            picks = sorted(listed[index][0] for index in indices)
            claimed = at(day, 7, 0, number * 0.04)
            sent = schema.timestamp(claimed + timedelta(seconds=0.03))
            edition = day.isoformat()
            deliveries.append(
                (
                    subscriber,
                    edition,
                    SENT,
                    None,
                    schema.timestamp(claimed),
                    1,
                    message_id(subscriber, day),
                    f"250 2.0.0 Ok: queued as {rng.getrandbits(40):010X}",
                    json.dumps(ids),
                    sent,
                    sent,
                )
            )
            delivered += [(subscriber, paper_id, edition, sent) for paper_id in picks]
            if day in archived:
                subject, html = pages[rng.randrange(len(pages))]
                archive.append(
                    {
                        "subscriber": subscriber,
                        "edition": edition,
                        "subject": subject,
                        "html": html,
                        "archived_at": sent,
                    }
                )
            if day in recent:
                received += ids
        connection.executemany(deliveries_sql, deliveries)
        connection.executemany(delivered_sql, delivered)
        connection.executemany(archive_sql, in_order(schema.archive, archive))
        if number % 10 == 0 and received:
            voted_at = schema.timestamp(at(history[-1], 12, 0, number))
            chosen = rng.sample(received, min(len(received), rng.randint(5, 20)))
            votes = [
                {
                    "subscriber": subscriber,
                    "paper": paper,
                    "vote": rng.choice((1, 1, -1)),
                    "voted_at": voted_at,
                }
                for paper in chosen
            ]
            connection.executemany(votes_sql, in_order(schema.votes, votes))
        standing: tuple[str, str, str | None] | None = None
        if number % 50 == 0:
            standing = ("unsubscribed", "one-click", None)
        elif number % 200 == 25:
            standing = ("bounced", "bounce: 5.1.1 no such user", "5.1.1 no such user")
        if standing is not None and history:
            status, how, bounce = standing
            row = {
                "email": subscriber,
                "status": status,
                "how": how,
                "changed_at": schema.timestamp(at(history[len(history) // 2], 9)),
                "soft_bounces": 0,
                "last_bounce": bounce,
            }
            connection.executemany(audience_sql, in_order(schema.audience, [row]))


# -- the measured steps -------------------------------------------------------------------


# The CLI as its console script starts it (digest.cli:main), writing at exit this process's
# peak resident memory (VmHWM, kB) to the file its first argument names: the peak of this
# program alone. ru_maxrss would not do: a child's counts what its parent held when it
# forked (this benchmark: hundreds of MB after a build).
LAUNCH = """
import atexit, sys
from pathlib import Path
peak_file = Path(sys.argv.pop(1))
sys.argv[0] = "digest"
def peak():
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.exists() else ():
        if line.startswith("VmHWM:"):
            peak_file.write_text(line.split()[1])
atexit.register(peak)
from digest.cli import main
main()
"""


def run_cli(*args: str) -> dict[str, Any]:
    """Run `digest ARGS` (with the benchmark's link secret) and return its JSON report
    with the process's wall and CPU seconds (os.wait4) and peak RSS."""
    environment = os.environ | {"DIGEST_DIGEST__SECRET": SECRET}
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as folder,
    ):
        peak_file = Path(folder) / "peak"
        command = [sys.executable, "-c", LAUNCH, str(peak_file), *args]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=environment)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"digest {' '.join(args)} failed:\n{err.read().decode()}")
        report: dict[str, Any] = json.loads(out.read())
        # Without /proc (not Linux): ru_maxrss, an upper bound (see LAUNCH).
        peak_kb = int(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_mb": peak_kb / 1024,
        "report": report,
    }


def collect(database: Path, config: Path, dump: Path, expected: int) -> dict[str, Any]:
    """`digest collect DUMP`: the edition's listing, every paper of it new."""
    run = run_cli("collect", str(dump), "--json", "--config", str(config), "--db", str(database))
    if run["report"]["new"] != expected:
        raise SystemExit(f"collect stored {run['report']['new']} new papers, not {expected}")
    return run


def send(database: Path, config: Path, edition: date) -> dict[str, Any]:
    """`digest send --dry-run` of the edition to every reader of the config."""
    return run_cli(
        *("send", "--dry-run", "--json", "--date", edition.isoformat()),
        *("--config", str(config), "--db", str(database)),
    )


def best_of(call: Callable[[], Any], size: Callable[[Any], int]) -> dict[str, float]:
    """The fastest of REPEAT calls (ms), the first (ms), and what it returned (rows)."""
    seconds = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        value = call()
        seconds.append(time.perf_counter() - started)
    return {"ms": min(seconds) * 1000, "first_ms": seconds[0] * 1000, "rows": size(value)}


def queries(database: Path, edition: date, days: int, batch: int) -> dict[str, dict[str, float]]:
    """The queries a send makes that grow with history, through the Store API."""
    readers = [reader(number) for number in range(batch)]
    listed = (edition, days)

    def received(found: dict[str, frozenset[str]]) -> int:
        return sum(len(ids) for ids in found.values())

    with Store(f"sqlite:///{database}", create=False) as store:
        return {
            "candidates": best_of(lambda: store.papers.candidates(until=edition, days=days), len),
            "delivered_listed": best_of(
                lambda: store.ledger.delivered_ids_of(readers, listed=listed), received
            ),
            "delivered_all": best_of(lambda: store.ledger.delivered_ids_of(readers), received),
            "any": best_of(store.papers.any, int),
            "count": best_of(store.papers.count, int),
        }


def write_send_config(folder: Path, subscribers: int) -> Path:
    """bench.send_bench's config, without the encoder and with signed links."""
    config = write_config(folder, subscribers=subscribers, port=PORT)
    digest = f'[digest]\nsemantic_model = "off"\npublic_url = "{PUBLIC_URL}"\n'
    config.write_text(config.read_text(encoding="utf-8").replace("[digest]\n", digest, 1))
    return config


def measure(
    year: Shape, fresh_days: int, folder: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    from digest.config import load_config

    config = write_send_config(folder, year.subscribers)
    settings = load_config(config)
    days, batch = settings.digest.candidate_days, settings.delivery.batch_size
    writer = Writer.from_seeds()
    pages = archive_pages()
    new_keys: set[str] = set()
    dump = write_dump(
        folder / f"listing-{year.edition}.txt",
        dump_papers(writer, year.papers_per_day, new_keys),
        year.edition,
    )
    shapes = {
        "fresh": Shape(
            fresh_days, year.papers_per_day, year.subscribers, year.per_edition, year.edition
        ),
        "year": year,
    }
    results: dict[str, Any] = {
        "edition": year.edition.isoformat(),
        "days": {label: shape.days for label, shape in shapes.items()},
        "papers_per_day": year.papers_per_day,
        "subscribers": year.subscribers,
        "per_edition": year.per_edition,
        "candidate_days": days,
        "batch": batch,
        "folder": str(folder),
    }
    for label, shape in shapes.items():
        progress(f"building {label}.db ({shape.days} days)...")
        built = build(folder / f"{label}.db", shape, writer, pages, taken=new_keys)
        progress(f"  {built.seconds:.1f} s, {built.megabytes:,.0f} MB")
        results[label] = {
            "build_seconds": built.seconds,
            "megabytes": built.megabytes,
            "rows": built.rows,
        }
    for label in shapes:
        progress(f"digest collect on {label}.db...")
        results[label]["collect"] = collect(
            folder / f"{label}.db", config, dump, year.papers_per_day
        )
    for label in shapes:
        progress(f"queries on {label}.db...")
        results[label]["queries"] = queries(folder / f"{label}.db", year.edition, days, batch)
    for label in shapes:
        progress(f"digest send --dry-run on {label}.db...")
        run = send(folder / f"{label}.db", config, year.edition)
        report = run.pop("report")
        run["built"] = len(report["built"])
        run["suppressed"] = len(report["suppressed"])
        run["empty"] = len(report["empty"])
        run["failed"] = len(report["failed"])
        results[label]["send"] = run
    return results


# -- output -------------------------------------------------------------------------------


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(step, fresh, a year), formatted."""
    per_send = -(-results["subscribers"] // results["batch"])
    rows: list[tuple[str, str, str]] = []

    def add(label: str, *keys: str, unit: str = "{:,.2f}", scale: float = 1.0) -> None:
        values = []
        for label_ in ("fresh", "year"):
            value: Any = results[label_]
            for key in keys:
                value = value[key]
            values.append(unit.format(value * scale if scale != 1 else value))
        rows.append((label, values[0], values[1]))

    add("build the database (s)", "build_seconds", unit="{:,.1f}")
    add("file size (MB)", "megabytes", unit="{:,.0f}")
    for table in sorted(results["year"]["rows"]):
        add(f"  rows: {table}", "rows", table, unit="{:,}")
    papers, readers = results["papers_per_day"], results["subscribers"]
    add(f"digest collect, the edition's dump of {papers:,} (s)", "collect", "seconds")
    add("  its peak memory (MB)", "collect", "peak_mb", unit="{:,.0f}")
    add(f"digest send --dry-run, {readers:,} readers (s)", "send", "seconds")
    add("  its CPU (s)", "send", "cpu_seconds")
    add("  its peak memory (MB)", "send", "peak_mb", unit="{:,.0f}")
    add("  messages built", "send", "built", unit="{:,}")
    add("  not mailed (unsubscribed, bounced)", "send", "suppressed", unit="{:,}")
    days, batch = results["candidate_days"], results["batch"]
    for key, label in (
        ("candidates", f"Papers.candidates, {days} days (ms)"),
        ("delivered_listed", f"Ledger.delivered_ids_of, {batch} readers, listed (ms)"),
        ("delivered_all", f"Ledger.delivered_ids_of, {batch} readers, no listed (ms)"),
        ("any", "Papers.any (ms)"),
        ("count", "Papers.count, what 'no papers yet' read before (ms)"),
    ):
        add(label, "queries", key, "ms")
        add("  rows returned", "queries", key, "rows", unit="{:,}")
        if key.startswith("delivered"):
            add(
                f"  x {per_send} batches of a send (s)",
                "queries",
                key,
                "ms",
                scale=1 / 1000 * per_send,
            )
    return rows


def print_table(results: dict[str, Any]) -> None:
    days = results["days"]
    print(
        f"edition {results['edition']}: {results['papers_per_day']:,} papers a day, "
        f"{results['subscribers']:,} readers receiving {results['per_edition']} a day; "
        f"queries: fastest of {REPEAT}"
    )
    fresh = f"fresh ({days['fresh']} days)"
    year = f"{'a year' if days['year'] == 365 else 'history'} ({days['year']} days)"
    rows = table_rows(results)
    width = max(len(row[0]) for row in rows)
    print(f"{'step':<{width}} {fresh:>16} {year:>18}")
    for label, a, b in rows:
        print(f"{label:<{width}} {a:>16} {b:>18}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365, help="history of the big database")
    parser.add_argument("--fresh-days", type=int, default=3, help="history of the fresh one")
    parser.add_argument("--papers-per-day", type=int, default=800)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--per-edition", type=int, default=10, help="papers each reader got")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="build here, and keep it")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if min(args.days, args.fresh_days, args.subscribers, args.per_edition) < 1:
        parser.error("--days, --fresh-days, --subscribers and --per-edition must be at least 1")
    if not args.per_edition <= args.papers_per_day <= 3000:
        parser.error("--papers-per-day: from --per-edition to 3,000 (5-digit arXiv ids)")
    year = Shape(args.days, args.papers_per_day, args.subscribers, args.per_edition)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="history-bench-"))
    try:
        results = measure(year, args.fresh_days, folder, lambda line: print(line, file=sys.stderr))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
