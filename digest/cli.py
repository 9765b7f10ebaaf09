"""The `digest` command: thin commands over the pipeline."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from digest import __version__, pipeline
from digest.config import DEFAULT_CONFIG, Settings, load_config
from digest.errors import ConfigError, DigestError
from digest.models import CollectReport, Profile, ScoredPaper, SourceReport
from digest.profiles import edition_date, find_subscriber, make_profile
from digest.sources import SourceSpec
from digest.store import Store

_F = TypeVar("_F", bound=Callable[..., Any])

log = logging.getLogger("digest")


def _common_options(command: _F) -> _F:
    """--config and --db, which every command takes."""
    command = click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="SQLite database file (default from state.url: ./digest.db).",
    )(command)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML config file (default ./digest.toml when present, else built-in defaults).",
    )(command)


def _fail_cleanly(command: _F) -> _F:
    """Turn DigestError into one line on stderr and its exit code; tracebacks only with -v."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            for line in error.lines:
                click.echo(f"error: {line}", err=True)
            sys.exit(error.exit_code)
        except DigestError as error:
            log.debug("failed", exc_info=True)
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
@click.option("-v", "--verbose", is_flag=True, help="Log details and show tracebacks.")
def main(verbose: bool) -> None:
    """A daily email of the research papers that matter to each subscriber."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@main.command()
@_common_options
@_fail_cleanly
def check(config_path: Path | None, db_path: Path | None) -> None:
    """Validate the config and print a short summary (no secrets)."""
    settings = load_config(config_path, db_path=db_path)
    click.echo(_summary(settings, config_path))


def _config_label(config_path: Path | None) -> str:
    if config_path is not None:
        return str(config_path)
    return str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else "built-in defaults"


def _summary(settings: Settings, config_path: Path | None) -> str:
    smtp = settings.smtp
    auth = f", user {smtp.username}" if smtp.username else ""
    password = ", password set" if smtp.password else ""
    lines = [
        f"config: {_config_label(config_path)}",
        f"state: {settings.state.url}",
        f"smtp: {smtp.host}:{smtp.port} ({smtp.security}{auth}{password})",
        f"sources: {len(settings.sources)}",
        *(f"  {source.name}: {source.location} ({source.kind})" for source in settings.sources),
        f"subscribers: {len(settings.subscribers)}",
        *(f"  {sub.email}: {len(sub.interests)} interests" for sub in settings.subscribers),
    ]
    return "\n".join(lines)


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@_common_options
@_fail_cleanly
def collect(
    sources: tuple[str, ...], as_json: bool, config_path: Path | None, db_path: Path | None
) -> None:
    """Read dumps and feeds (files, directories, globs, URLs) and store their papers.

    Without SOURCE, reads the sources in the config. Exits 1 when some source failed.
    """
    settings = load_config(config_path, db_path=db_path)
    specs = [SourceSpec(name=source, location=source) for source in sources] or [
        SourceSpec(name=source.name, location=source.location, kind=source.kind)
        for source in settings.sources
    ]
    if not specs:
        raise DigestError(
            "nothing to collect", hint="give SOURCE arguments or add [[sources]] to the config"
        )
    with Store(settings.state.url) as store, _progress(enabled=not as_json) as progress:
        report = pipeline.collect(
            specs,
            store,
            settings=settings.collect,
            now=datetime.now(UTC),
            on_planned=progress.planned,
            on_source=progress.advance,
        )
    if as_json:
        click.echo(json.dumps(_report_json(report), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    sys.exit(1 if report.failed else 0)


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--subscriber", "email", help="Rank for this configured subscriber.")
@click.option(
    "--interests", help='Rank for these phrases: "graph neural networks, link prediction".'
)
@click.option(
    "--date",
    "edition",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Edition date (default: today in the subscriber's time zone).",
)
@click.option("--limit", type=click.IntRange(1, 100), help="At most this many papers.")
@click.option("--json", "as_json", is_flag=True, help="Print the picks as one JSON object.")
@_common_options
@_fail_cleanly
def rank(
    sources: tuple[str, ...],
    email: str | None,
    interests: str | None,
    edition: datetime | None,
    limit: int | None,
    as_json: bool,
    config_path: Path | None,
    db_path: Path | None,
) -> None:
    """Show the papers of the day in the order we would send them, with reasons.

    Without SOURCE, ranks the stored candidates of the edition date; with SOURCE, collects
    them in memory first (no database, no config needed). Exits 1 when some source failed.
    """
    if (email is None) == (interests is None):
        raise click.UsageError("give exactly one of --subscriber EMAIL or --interests TEXT")
    settings = load_config(config_path, db_path=db_path)
    now = datetime.now(UTC)
    subscriber = find_subscriber(settings, email) if email is not None else None
    timezone = (subscriber.timezone if subscriber else None) or settings.digest.timezone
    day = edition.date() if edition else edition_date(now, timezone)
    failed = False
    if sources:
        profile = make_profile(settings, subscriber, interests, frozenset(), limit=limit)
        specs = [SourceSpec(name=source, location=source) for source in sources]
        report, picks = pipeline.collect_and_rank(
            specs, profile, settings=settings.collect, now=now, edition=day
        )
        _print_problems(report)
        failed = report.failed
    else:
        with Store(settings.state.url) as store:
            delivered = store.delivered_ids(email) if email is not None else frozenset()
            profile = make_profile(settings, subscriber, interests, delivered, limit=limit)
            picks = pipeline.rank_stored(
                store, profile, edition=day, days=settings.digest.candidate_days
            )
    if as_json:
        click.echo(json.dumps(_picks_json(profile, day, picks), indent=2, ensure_ascii=False))
    else:
        _print_picks(profile, day, picks)
    sys.exit(1 if failed else 0)


def _paper_url(pick: ScoredPaper) -> str | None:
    paper = pick.candidate.paper
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    return paper.url


def _picks_json(profile: Profile, day: date, picks: tuple[ScoredPaper, ...]) -> dict[str, Any]:
    return {
        "subscriber": profile.name,
        "date": day.isoformat(),
        "papers": [
            {
                "id": pick.candidate.id,
                "title": pick.candidate.paper.title,
                "score": pick.score,
                "reasons": list(pick.reasons),
                "url": _paper_url(pick),
            }
            for pick in picks
        ],
    }


def _print_picks(profile: Profile, day: date, picks: tuple[ScoredPaper, ...]) -> None:
    click.echo(f"{profile.name}, edition of {day.isoformat()}: {len(picks)} papers")
    table = Table(box=None, pad_edge=False, show_header=True)
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("paper")
    table.add_column("why")
    for number, pick in enumerate(picks, 1):
        title = f"{pick.candidate.paper.title}\n[dim]{_paper_url(pick) or pick.candidate.id}[/dim]"
        table.add_row(str(number), f"{pick.score:.3f}", title, "; ".join(pick.reasons))
    _console().print(table)


class _ProgressBar:
    """A progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._task: Any = None

    def planned(self, total: int) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task("collecting", total=total)

    def advance(self, report: SourceReport) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, description=_short(report.location))


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


@contextmanager
def _progress(*, enabled: bool) -> Iterator[_ProgressBar]:
    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield _ProgressBar(None)
        return
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield _ProgressBar(progress)


def _report_json(report: CollectReport) -> dict[str, Any]:
    return {
        "sources": [asdict(source) for source in report.sources],
        "new": report.new,
        "seen_before": report.seen_before,
        "total": report.total,
    }


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        console = Console(width=1000)  # a pipe or file gets whole lines, never "…"
    return console


def _print_problems(report: CollectReport) -> None:
    """Every warning and error of a collection, one line each on stderr."""
    for source in report.sources:
        for warning in source.warnings:
            click.echo(f"warning: {source.location}: {warning}", err=True)
        for error in source.errors:
            click.echo(f"error: {source.location}: {error}", err=True)


def _print_report(report: CollectReport) -> None:
    table = Table(box=None, pad_edge=False)
    for header, justify in (
        ("source", "left"),
        ("kind", "left"),
        ("papers", "right"),
        ("warnings", "right"),
        ("status", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for source in report.sources:
        table.add_row(
            source.location,
            source.format or source.kind,
            str(source.papers),
            str(len(source.warnings)),
            "failed" if source.failed else "ok",
        )
    _console().print(table)
    _print_problems(report)
    click.echo(f"{report.new} new, {report.seen_before} seen before, {report.total} papers in all")
