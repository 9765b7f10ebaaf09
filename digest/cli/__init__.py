"""The `digest` command: parse the options, make one pipeline call, print the result.

Start-up matters (`digest --help`, a config error): this module imports click and the
standard library only; each command loads the config first and then imports what it
needs, so neither help nor a config error pays for NumPy, SQLAlchemy, MJML or httpx.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from digest import __version__
from digest.errors import ConfigError, DigestError, NotConfigured
from digest.text import plural

_F = TypeVar("_F", bound=Callable[..., Any])

log = logging.getLogger("digest")


# The oldest edition a command takes: the days an edition looks back over must be dates.
EARLIEST_YEAR = 1900


class _EditionDate(click.DateTime):
    """A YYYY-MM-DD date; one that does not exist ("2026-02-30") is named as such,
    not as a mismatch of the format."""

    def __init__(self) -> None:
        super().__init__(formats=["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:
                datetime.strptime(value.strip(), "%Y-%m-%d")
            except ValueError as error:
                self.fail(f"{value!r} is not a date ({error})", param, ctx)
        converted = super().convert(value, param, ctx)
        if isinstance(converted, datetime) and converted.year < EARLIEST_YEAR:
            self.fail(f"{value!r} is before {EARLIEST_YEAR}: no edition is that old", param, ctx)
        return converted


_EDITION_DATE = _EditionDate()
_FILE = click.Path(dir_okay=False, path_type=Path)


def _common_options(command: _F) -> _F:
    """--config and --db, which every command takes."""
    command = click.option(
        "--db",
        "db_path",
        metavar="FILE|URL",
        help="SQLite database file, or a database URL such as postgresql://user@host/name "
        "(default: DIGEST_DATABASE_URL, else state.url: digest.db beside the config file).",
    )(command)
    return click.option(
        "--config",
        "config_path",
        type=_FILE,
        help="TOML config file (default ./digest.toml when present, else built-in defaults).",
    )(command)


def _reader_options(verb: str, interests_help: str) -> Callable[[_F], _F]:
    """SOURCE... or --sample, --subscriber, --interests, --date: what `rank` and `render`
    read, and for whom."""

    def decorate(command: _F) -> _F:
        for option in reversed(
            (
                click.argument("sources", nargs=-1),
                click.option(
                    "--sample",
                    is_flag=True,
                    help="Read the sample listings that come with digest (no config needed).",
                ),
                click.option(
                    "--subscriber", "email", help=f"{verb} for this configured subscriber."
                ),
                click.option("--interests", help=interests_help),
                click.option(
                    "--date",
                    "edition",
                    type=_EDITION_DATE,
                    help="Edition date (default: today in the subscriber's time zone).",
                ),
            )
        ):
            command = option(command)
        return command

    return decorate


def _fail_cleanly(command: _F) -> _F:
    """Turn DigestError into one line on stderr and its exit code; tracebacks only with -v."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            for line in error.lines:
                click.echo(f"error: {line}", err=True)
            _json_error(kwargs, error.lines)
            sys.exit(error.exit_code)
        except DigestError as error:
            log.debug("failed", exc_info=True)
            click.echo(f"error: {error}", err=True)
            _json_error(kwargs, [str(error)])
            sys.exit(error.exit_code)

    return wrapper  # type: ignore[return-value]


def _json_error(options: dict[str, Any], lines: list[str]) -> None:
    """With --json, the error as the one JSON object stdout promises (a script reading it
    finds {"error": ..., "errors": [...]} rather than nothing)."""
    if options.get("as_json"):
        _echo_error_json(lines)


def _echo_error_json(lines: list[str]) -> None:
    click.echo(json.dumps({"error": lines[0], "errors": lines}, ensure_ascii=False))


def _now() -> datetime:
    return datetime.now(UTC)


def _sources(given: tuple[str, ...], sample: bool) -> tuple[str, ...]:
    """The SOURCE arguments, or the sample listings of the package with --sample."""
    if not sample:
        return given
    if given:
        raise click.UsageError("give SOURCE arguments or --sample, not both")
    from digest.resources import sample_listings

    return tuple(str(path) for path in sample_listings())


class _Main(click.Group):
    """The `digest` group: with --json, a usage error (a bad option, a missing argument)
    also prints the one JSON object stdout promises, as other errors do."""

    def main(  # type: ignore[override]
        self, args: list[str] | None = None, prog_name: str | None = None, **options: Any
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        standalone = bool(options.pop("standalone_mode", True))
        try:
            result = super().main(argv, prog_name, standalone_mode=False, **options)
        except click.ClickException as error:
            if "--json" in argv:
                _echo_error_json([error.format_message()])
            if not standalone:
                raise
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            if not standalone:
                raise
            click.echo("Aborted!", err=True)
            sys.exit(1)
        if not standalone:
            return result
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
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
def check(config_path: Path | None, db_path: str | None) -> None:
    """Validate the config, print a short summary (no secrets), and say what a send would
    fail on (exit 2)."""
    from digest.config import load_config

    settings = load_config(config_path, db_path=db_path)
    from digest.cli import output
    from digest.pipeline.preflight import preflight

    click.echo(output.config_summary(settings, config_path))
    found = preflight(settings)
    if found:
        raise ConfigError(found)


@main.command()
@click.argument("path", type=_FILE, default=Path("digest.toml"), required=False)
@click.option("--email", default="you@example.org", show_default=True, help="The subscriber.")
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="An arXiv category to follow (repeatable; default cs.LG and cs.CL).",
)
@_fail_cleanly
def init(path: Path, email: str, categories: tuple[str, ...]) -> None:
    """Write a commented starter config to PATH (default ./digest.toml); never overwrites."""
    from digest.starter import write_starter

    written = write_starter(path, email=email, categories=categories or ("cs.LG", "cs.CL"))
    click.echo(f"wrote {path}: {written}")
    click.echo("next:")
    # Quoted as a shell needs it: the steps are there to be copied ("my digest.toml").
    config = "" if path == Path("digest.toml") else f" --config {shlex.quote(str(path))}"
    for step in (
        f"edit {path}: the sender, your interests, more subscribers",
        "export DIGEST_SMTP__HOST=... DIGEST_SMTP__USERNAME=... DIGEST_SMTP__PASSWORD=...",
        f"digest check{config}",
        f"digest collect{config}",
        f"digest render{config} --subscriber {email} --out preview.html",
        f"digest send{config}        (or: digest schedule{config})",
    ):
        click.echo(f"  {step}")


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@_common_options
@_fail_cleanly
def collect(
    sources: tuple[str, ...], as_json: bool, config_path: Path | None, db_path: str | None
) -> None:
    """Read dumps and feeds (files, directories, globs, URLs) and store their papers.

    Without SOURCE, reads the sources in the config. With the sentence encoder, then
    encodes the papers the next editions rank. Exits 1 when some source failed.
    """
    from digest.config import load_config

    settings = load_config(config_path, db_path=db_path)
    from digest.cli import output
    from digest.collect.locate import SourceSpec
    from digest.pipeline.collect import collect, configured_sources
    from digest.pipeline.stopping import stop_on_signals
    from digest.state.store import Store

    specs = [SourceSpec(name=source, location=source) for source in sources] or configured_sources(
        settings
    )
    if not specs:
        raise NotConfigured(
            "nothing to collect", hint="give SOURCE arguments or add [[sources]] to the config"
        )
    # Before reading anything: a model named in the config that does not load stops here.
    # Ranking by words ("off") never loads the ranking libraries.
    encoder = None
    if settings.digest.semantic_model != "off":
        from digest.pipeline.pool import encode_recent, encoder_for

        encoder = encoder_for(settings.digest.semantic_model)
    now = _now()
    with (
        Store(settings.state.url) as store,
        stop_on_signals("storing what was read, then stopping") as stop,
    ):
        with output.progress_bar(enabled=not as_json) as progress:
            report = collect(
                specs,
                store,
                settings=settings.collect,
                now=now,
                on_planned=progress.planned,
                on_source=progress.advance,
                should_stop=stop.is_set,
            )
        encoded = None
        if encoder is not None and not stop.is_set():
            encoded = encode_recent(
                store,
                encoder,
                now=now,
                days=settings.digest.candidate_days,
                on_start=None if as_json else output.print_encoding,
                should_stop=stop.is_set,
            )
    if as_json:
        output.print_problems(report)  # a cron job logging stderr still sees them
        output.echo_json(output.collect_json(report, encoded))
    else:
        output.print_collect_report(report, encoded)
    sys.exit(1 if report.failed else 0)


def _votes(votes: tuple[str, ...]) -> tuple[str, ...]:
    """--like and --dislike values, each naming a paper."""
    from digest.rank.votes import check_vote

    try:
        return tuple(check_vote(vote) for vote in votes)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


def _vote_option(flag: str, name: str, help_text: str) -> Callable[[_F], _F]:
    """A repeatable option of paper votes, each checked to name a paper."""
    return click.option(
        flag,
        name,
        multiple=True,
        callback=lambda _ctx, _param, votes: _votes(votes),
        help=help_text,
    )


@main.command()
@_reader_options("Rank", 'Rank for these phrases: "graph neural networks, link prediction".')
@click.option("--limit", type=click.IntRange(1, 100), help="At most this many papers.")
@click.option("--json", "as_json", is_flag=True, help="Print the picks as one JSON object.")
@_vote_option("--like", "likes", "A paper you like (arXiv id, DOI or paper id); repeatable.")
@_vote_option("--dislike", "dislikes", "A paper you do not want more of; repeatable.")
@_common_options
@_fail_cleanly
def rank(
    sources: tuple[str, ...],
    sample: bool,
    email: str | None,
    interests: str | None,
    edition: datetime | None,
    limit: int | None,
    as_json: bool,
    likes: tuple[str, ...],
    dislikes: tuple[str, ...],
    config_path: Path | None,
    db_path: str | None,
) -> None:
    """Show the papers of the day in the order we would send them, with reasons.

    Without SOURCE, ranks the stored candidates of the edition date; with SOURCE, collects
    them in memory first (no database, no config needed). Exits 1 when some source failed.
    """
    if (email is None) == (interests is None):
        raise click.UsageError("give exactly one of --subscriber EMAIL or --interests TEXT")
    from digest.rank.votes import contradiction

    both = contradiction(likes, dislikes)
    if both is not None:
        raise click.UsageError(f"--like and --dislike both name {both}: keep one")
    from digest.config import load_config

    settings = load_config(config_path, db_path=db_path)
    from digest.cli import output
    from digest.pipeline.pick import pick_papers
    from digest.subscribers import find_subscriber

    picks = pick_papers(
        settings,
        sources=_sources(sources, sample),
        subscriber=find_subscriber(settings, email) if email is not None else None,
        interests=interests,
        edition=edition.date() if edition else None,
        now=_now(),
        limit=limit,
        likes=likes,
        dislikes=dislikes,
    )
    if picks.report:
        output.print_problems(picks.report)
    if as_json:
        output.echo_json(output.picks_json(picks))
    else:
        output.print_picks(picks)
    sys.exit(1 if picks.report and picks.report.failed else 0)


@main.command()
@_reader_options("Render", "Render for these phrases (default: everything trending).")
@click.option("--out", type=_FILE, help="Write the HTML.")
@click.option("--text", type=_FILE, help="Write the text.")
@click.option("--eml", type=_FILE, help="Write the complete message, as it would be sent.")
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML in the browser.")
@_common_options
@_fail_cleanly
def render(
    sources: tuple[str, ...],
    sample: bool,
    email: str | None,
    interests: str | None,
    edition: datetime | None,
    out: Path | None,
    text: Path | None,
    eml: Path | None,
    open_browser: bool,
    config_path: Path | None,
    db_path: str | None,
) -> None:
    """Render a digest email: responsive HTML and plain text.

    With SOURCE, collects in memory and renders for the interests given, or for
    everything trending. Without --out, --text or --eml it prints the text part.
    """
    if email is not None and interests is not None:
        raise click.UsageError("give at most one of --subscriber EMAIL or --interests TEXT")
    outputs = [path.resolve() for path in (out, text, eml) if path is not None]
    if len(set(outputs)) < len(outputs):
        raise click.UsageError("--out, --text and --eml name one file twice: each needs its own")
    from digest.config import load_config

    settings = load_config(config_path, db_path=db_path)
    from digest.cli import output
    from digest.files import write_atomically
    from digest.pipeline.preview import preview
    from digest.subscribers import find_subscriber

    shown = preview(
        settings,
        sources=_sources(sources, sample),
        subscriber=find_subscriber(settings, email) if email is not None else None,
        interests=interests,
        edition=edition.date() if edition else None,
        now=_now(),
    )
    if shown.picks.report:
        output.print_problems(shown.picks.report)
    rendered = shown.email
    for path, data in ((out, rendered.html.encode()), (text, rendered.text.encode())):
        if path:
            write_atomically(path, data)
    if eml:
        write_atomically(eml, shown.message)
    if not (out or text or eml):
        click.echo(rendered.text, nl=False)
    else:
        papers = len(rendered.paper_ids)
        size = f"{len(rendered.html.encode()):,} bytes"
        click.echo(f"{rendered.subject} ({plural(papers, 'paper')}, {size})")
    if open_browser:
        output.open_in_browser(out, rendered.html)
    report = shown.picks.report
    sys.exit(1 if report and report.failed else 0)


@main.command()
@click.option(
    "--date",
    "edition",
    type=_EDITION_DATE,
    help="Edition date (default: today in each subscriber's time zone).",
)
@click.option("--subscriber", "emails", multiple=True, help="Only these subscribers.")
@click.option(
    "--outbox",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each message as a .eml file here instead of sending (records nothing).",
)
@click.option("--dry-run", is_flag=True, help="Build every message, send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@_common_options
@_fail_cleanly
def send(
    edition: datetime | None,
    emails: tuple[str, ...],
    outbox: Path | None,
    dry_run: bool,
    as_json: bool,
    config_path: Path | None,
    db_path: str | None,
) -> None:
    """Send today's edition to every subscriber through SMTP, each exactly once.

    Re-running sends only what is not yet sent. SIGTERM or Ctrl-C finishes the message in
    flight, records it, and stops. Exits 1 when some subscriber failed, or when the SMTP
    server could not be used at all (the report says why; every claim is given back).
    """
    from digest.config import load_config, unsigned_links

    # Today somewhere (UTC+14 is a day ahead of UTC), and no later: a future edition's
    # rows would stand in the ledger, and `digest status` would show it instead of today's.
    latest = _now().date() + timedelta(days=1)
    if edition is not None and edition.date() > latest and not (outbox or dry_run):
        raise click.BadParameter(
            f"{edition.date()} is after {latest}: an edition is sent on its day "
            "(preview a later one with digest render --date, or send --dry-run)",
            param_hint="'--date'",
        )
    settings = load_config(config_path, db_path=db_path)
    if unsigned := unsigned_links(settings):
        raise ConfigError(unsigned)
    from digest.cli import output
    from digest.mail.render import Renderer
    from digest.pipeline.send import run_send
    from digest.pipeline.stopping import stop_on_signals
    from digest.state.store import Store
    from digest.subscribers import all_subscribers, find_subscriber

    subscribers = [find_subscriber(settings, email) for email in emails] or list(
        all_subscribers(settings)
    )
    if not subscribers:
        raise NotConfigured("nobody to send to", hint="add [[subscribers]] to the config")
    renderer = Renderer.load(settings.digest.templates)
    with (
        # No database file yet: nothing was collected, and a send says so, making none.
        Store(settings.state.url, create=False) as store,
        stop_on_signals("finishing the message in flight, then stopping") as stop,
        output.send_progress(len(subscribers), enabled=not as_json) as progress,
    ):
        report = run_send(
            settings,
            store,
            renderer,
            subscribers=subscribers,
            edition=edition.date() if edition else None,
            outbox=outbox,
            dry_run=dry_run,
            should_stop=stop.is_set,
            on_done=progress.update,
        )
    output.print_send_problems(report)  # a cron job logging stderr sees them either way
    if as_json:
        output.echo_json(output.send_json(report))
    else:
        click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@main.command()
@click.option(
    "--edition",
    type=_EDITION_DATE,
    help="Edition date (default: the newest edition in the ledger).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@_common_options
@_fail_cleanly
def status(
    edition: datetime | None, as_json: bool, config_path: Path | None, db_path: str | None
) -> None:
    """Show an edition's progress (sent, unconfirmed, failed, empty, pending, sending) and
    the senders holding claims, with their leases."""
    from digest.config import load_config

    settings = load_config(config_path, db_path=db_path)
    from digest.cli import output
    from digest.state.store import Store

    with Store(settings.state.url, create=False) as store:
        progress = store.claims.progress_of(edition.date() if edition else None)
        # Without --edition, the days before the newest too, while they have rows to send.
        earlier = []
        if progress is not None and edition is None:
            days = store.claims.unfinished_before(progress.edition, days=2)
            earlier = [store.claims.progress(day) for day in days]
    if progress is None:
        raise DigestError("the ledger holds no edition yet", hint="run `digest send`")
    lease = settings.delivery.lease_seconds
    if as_json:
        found = output.status_json(progress, lease_seconds=lease, now=_now())
        if earlier:
            found["earlier"] = [
                output.status_json(other, lease_seconds=lease, now=_now()) for other in earlier
            ]
        output.echo_json(found)
    else:
        for shown in (progress, *earlier):
            output.print_status(shown, lease_seconds=lease, now=_now())


@main.command()
@_common_options
@_fail_cleanly
def schedule(config_path: Path | None, db_path: str | None) -> None:
    """Run in the foreground: collect, then send each subscriber's edition at their hour.

    Started after a missed send time, sends that edition once within digest.catch_up_hours.
    Stops cleanly on SIGTERM or Ctrl-C.
    """
    from digest.config import load_config, unsigned_links

    settings = load_config(config_path, db_path=db_path)
    if unsigned := unsigned_links(settings):
        raise ConfigError(unsigned)
    from digest.mail.render import Renderer
    from digest.pipeline.schedule import run_schedule
    from digest.state.store import Store

    if not settings.subscribers:
        raise NotConfigured("nobody to send to", hint="add [[subscribers]] to the config")
    renderer = Renderer.load(settings.digest.templates)
    if not log.isEnabledFor(logging.INFO):
        log.setLevel(logging.INFO)  # a long-running service says what it does
    _timestamped_logs()
    with Store(settings.state.url) as store:
        run_schedule(settings, store, renderer, now=_now)


def _timestamped_logs() -> None:
    """A long-running service's lines say when (UTC): stderr redirected to a file has no
    other clock, and weeks of "sending the edition of ..." lines need one."""
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


# The audience's commands register themselves on `main` (kept apart: serve, subscribers,
# bounces); imported last, as they import `main` from here.
from digest.cli import audience as _audience  # noqa: E402, F401
