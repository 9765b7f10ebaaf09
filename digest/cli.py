"""The `digest` command: thin commands over the pipeline."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
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
from digest.models import CollectReport, SourceReport
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
    console = Console()
    if not console.is_terminal:
        console = Console(width=1000)  # a pipe or file gets whole paths, never "…"
    console.print(table)
    for source in report.sources:
        for warning in source.warnings:
            click.echo(f"warning: {source.location}: {warning}", err=True)
        for error in source.errors:
            click.echo(f"error: {source.location}: {error}", err=True)
    click.echo(f"{report.new} new, {report.seen_before} seen before, {report.total} papers in all")
