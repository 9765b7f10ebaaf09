"""Collect throughput on a synthetic set of dumps and feeds, against its floor costs.

Run by hand:  .venv/bin/python -m bench.collect_bench [--papers 200000] [--keep DIR]
                  [--data DIR] [--only dumps|feeds] [--runs N] [--db URL | --postgres]

It writes half the papers as Hugging Face listing dumps and half as arXiv Atom
feeds (the shape of rss.arxiv.org), their words drawn from the seed papers' titles and
abstracts, then measures in separate processes, each with its own peak memory:

  read       reading every file's bytes (the floor for any collector)
  feedparser feedparser.parse over the feed files alone (the floor for feeds)
  dumps      `digest collect` of the dumps into a new database
  feeds      `digest collect` of the feeds into a new database

The new database is a SQLite file in a temp folder; with `--db URL` (a PostgreSQL
database, e.g. postgresql+psycopg://user@127.0.0.1:5432/postgres) a new schema of it,
dropped afterwards; with `--postgres` a new schema of a throwaway cluster started for the
run (tests.pgserver, as an unprivileged user, fsync on as in production). `cpu` is the
collecting process's own CPU time (both its threads; a server's is not in it): on a
machine shared with other work, papers per CPU second move less than papers per second.

Aims (issue #2): dumps at 50,000+ papers/s including the database writes, and
collecting feeds adds less than 50% over feedparser's own parse.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import feedparser

from bench.common import peak_mb, run_module

# Imported before any timing starts: the phases measure work, not interpreter start-up.
from digest.collect.locate import SourceSpec
from digest.config import CollectSettings
from digest.pipeline.collect import collect
from digest.state.store import Store
from tests.seeds import SEEDS, seed_papers

PER_DUMP = 1000
PER_FEED = 500


def _vocabulary() -> tuple[list[str], list[str]]:
    """Real title and abstract words of the seed papers, so text has a realistic shape."""
    papers = seed_papers(SEEDS, today=date(2026, 3, 12))
    titles = [word for paper in papers for word in paper.title.split()]
    return titles, [word for paper in papers for word in paper.abstract.split()]


def _title(rng: random.Random, words: list[str], number: int) -> str:
    return f"{' '.join(rng.choices(words, k=rng.randint(6, 14)))} {number}"


def _abstract(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choices(words, k=rng.randint(150, 260)))


def write_dumps(folder: Path, count: int, rng: random.Random) -> None:
    title_words, abstract_words = _vocabulary()
    for start in range(0, count, PER_DUMP):
        lines = ["new", "Get trending papers in your email inbox!", "Subscribe", "Mar 12"]
        for number in range(start, min(start + PER_DUMP, count)):
            lines += [_title(rng, title_words, number), _abstract(rng, abstract_words)]
        (folder / f"dump_{start // PER_DUMP:05d}.txt").write_text("\n\n".join(lines) + "\n")


def _atom_entry(rng: random.Random, words: tuple[list[str], list[str]], number: int) -> str:
    arxiv_id = f"{2501 + number // 99999}.{number % 99999:05d}"
    authors = ", ".join(f"Author {rng.randint(1, 9999)}" for _ in range(rng.randint(1, 8)))
    return f"""  <entry>
    <id>oai:arXiv.org:{arxiv_id}v1</id>
    <title>{escape(_title(rng, words[0], number))}</title>
    <updated>2025-08-20T04:00:19.910019+00:00</updated>
    <link href="https://arxiv.org/abs/{arxiv_id}" rel="alternate" type="text/html"/>
    <summary>arXiv:{arxiv_id}v1 Announce Type: new
Abstract: {escape(_abstract(rng, words[1]))}</summary>
    <category term="cs.AI"/>
    <category term="cs.LG"/>
    <published>2025-08-20T00:00:00-04:00</published>
    <arxiv:announce_type>new</arxiv:announce_type>
    <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
    <dc:creator>{escape(authors)}</dc:creator>
  </entry>
"""


def write_feeds(folder: Path, count: int, rng: random.Random) -> None:
    words = _vocabulary()
    head = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
      xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">
  <id>http://rss.arxiv.org/atom/cs.AI</id>
  <title>cs.AI updates on arXiv.org</title>
  <updated>2025-08-20T04:00:19.866337+00:00</updated>
"""
    for start in range(0, count, PER_FEED):
        entries = [_atom_entry(rng, words, n) for n in range(start, min(start + PER_FEED, count))]
        text = head + "".join(entries) + "</feed>\n"
        (folder / f"feed_{start // PER_FEED:05d}.xml").write_text(text, encoding="utf-8")


# -- the measured phases, each run in a process of its own -------------------------------


def phase_read(folder: Path, _db: str | None) -> int:
    return sum(len(path.read_bytes()) for path in sorted(folder.iterdir()))


def phase_feedparser(folder: Path, _db: str | None) -> int:
    return sum(
        len(feedparser.parse(path.read_bytes()).entries) for path in sorted(folder.iterdir())
    )


@contextmanager
def new_database(db: str | None) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in a temp folder, or a new schema of the
    PostgreSQL database `db`, dropped when done."""
    if db is None:
        with tempfile.TemporaryDirectory() as scratch:
            yield f"sqlite:///{scratch}/b.db"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"bench_{os.getpid()}"
    engine = create_engine(db, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = make_url(db).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def phase_collect(folder: Path, db: str | None) -> int:
    with new_database(db) as url, Store(url) as store:
        report = collect(
            [SourceSpec(name=str(folder), location=str(folder))],
            store,
            settings=CollectSettings(),
            now=datetime.now(UTC),
        )
        assert not report.failed, [s.errors for s in report.sources if s.errors]
        assert store.papers.count() == report.new
        return sum(source.papers for source in report.sources)


PHASES = {"read": phase_read, "feedparser": phase_feedparser, "collect": phase_collect}


def run_phase(name: str, folder: Path, db: str | None = None) -> dict[str, Any]:
    """Run one phase in a fresh interpreter; return its seconds, CPU seconds, item count
    and peak RSS."""
    return run_module("bench.collect_bench", "--phase", name, str(folder), *db_args(db))


def db_args(db: str | None) -> list[str]:
    return [] if db is None else ["--db", db]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=200_000, help="dump + feed papers in all")
    parser.add_argument("--keep", type=Path, help="write the synthetic files here and keep them")
    parser.add_argument("--data", type=Path, help="use the files an earlier --keep DIR wrote")
    parser.add_argument("--only", choices=("dumps", "feeds"), help="measure one kind alone")
    parser.add_argument("--runs", type=int, default=1, help="collect each kind this many times")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="URL", help="collect into new schemas of this PostgreSQL")
    where.add_argument("--postgres", action="store_true", help="... of a throwaway cluster")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("folder", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        started, cpu_before = time.perf_counter(), cpu_seconds()
        items = PHASES[args.phase](args.folder, args.db)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
        print(json.dumps({"seconds": seconds, "cpu": cpu, "items": items, "peak_mb": peak_mb()}))
        return
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        base = args.data or args.keep or Path(scratch)
        dumps, feeds = base / "dumps", base / "feeds"
        if args.data is None:
            dumps.mkdir(parents=True, exist_ok=True)
            feeds.mkdir(parents=True, exist_ok=True)
            rng = random.Random(20261121)
            write_dumps(dumps, args.papers // 2, rng)
            write_feeds(feeds, args.papers - args.papers // 2, rng)
        db = args.db
        if args.postgres:
            db = stack.enter_context(throwaway_postgres())
        kinds = [("dumps", dumps), ("feeds", feeds)]
        report(
            [(kind, folder) for kind, folder in kinds if args.only in (None, kind)], db, args.runs
        )


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster in a temp folder, durable as in production, for this run."""
    from tests.pgserver import MISSING, server_in_temp_folder

    server = server_in_temp_folder(durable=True)
    if server is None:
        raise SystemExit(MISSING)
    with server:
        yield server.url()


def report(kinds: list[tuple[str, Path]], db: str | None, runs: int) -> None:
    print(f"database: {'a new SQLite file' if db is None else 'PostgreSQL, a new schema'}")
    header = f"{'phase':<24}{'seconds':>9}{'cpu':>7}{'papers':>9}{'papers/s':>10}"
    print(f"{header}{'MB read':>9}{'peak MB':>9}")
    rates: dict[str, list[tuple[float, float]]] = {}
    for kind, folder in kinds:
        show(f"read {kind}", run_phase("read", folder))
        if kind == "feeds":
            feedparser_row = run_phase("feedparser", folder)
            show("feedparser.parse feeds", feedparser_row)
        for run in range(1, runs + 1):
            row = run_phase("collect", folder, db)
            show(f"collect {kind}" + (f" #{run}" if runs > 1 else ""), row)
            rates.setdefault(kind, []).append(
                (row["items"] / row["seconds"], row["items"] / row["cpu"])
            )
        if kind == "feeds":
            overhead = row["seconds"] / feedparser_row["seconds"] - 1
            print(f"feeds: collecting adds {overhead:.0%} over feedparser's own parse (aim: < 50%)")
    for kind, measured in rates.items():
        per_second = statistics.median(rate for rate, _ in measured)
        per_cpu = statistics.median(rate for _, rate in measured)
        aim = " (aim: 50,000+)" if kind == "dumps" else ""
        print(
            f"{kind}: {per_second:,.0f} papers/s including database writes{aim}, "
            f"{per_cpu:,.0f} per CPU second (median of {len(measured)})"
        )


def show(name: str, row: dict[str, Any]) -> None:
    reads_only = name.startswith("read")
    papers = "" if reads_only else f"{row['items']:.0f}"
    rate = "" if reads_only else f"{row['items'] / row['seconds']:.0f}"
    size = f"{row['items'] / 1e6:.0f}" if reads_only else ""
    print(
        f"{name:<24}{row['seconds']:>9.2f}{row['cpu']:>7.1f}{papers:>9}{rate:>10}{size:>9}"
        f"{row['peak_mb']:>9.0f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
