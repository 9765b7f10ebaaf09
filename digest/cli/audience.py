"""The commands about the audience: `digest serve`, `digest subscribers`, `digest bounces`.

Registered on the `digest` group when the CLI loads; like every command, each loads the
config first and imports what it needs after.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.cli import _common_options, _fail_cleanly, _now, main
from digest.errors import DigestError, NotConfigured


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free one; the address is printed).",
)
@_common_options
@_fail_cleanly
def serve(host: str, port: int, config_path: Path | None, db_path: str | None) -> None:
    """Answer the links in the emails: one-click unsubscribe, votes, the online copy.

    Put it behind a reverse proxy that terminates TLS at digest.public_url. Stops on
    SIGTERM or Ctrl-C.
    """
    from digest.config import load_config

    settings = load_config(config_path, db_path=db_path)
    if not settings.digest.secrets():
        raise NotConfigured(
            "digest serve needs digest.secret to check its links",
            hint="set DIGEST_DIGEST__SECRET, and digest.public_url",
        )
    from digest.pipeline.stopping import stop_on_signals
    from digest.state.store import Store
    from digest.web.server import listen, serve

    _refuse_a_new_database(settings.state.url)
    listener = listen(host, port)
    # uvicorn answers SIGTERM and Ctrl-C itself (finishing the requests in flight), then
    # raises the signal again for the handler it found: ours, so the exit status is 0.
    with Store(settings.state.url) as store, stop_on_signals("stopped serving"):
        serve(
            settings,
            store,
            listener,
            on_ready=lambda address: click.echo(f"serving on {address}", err=True),
        )


@main.group()
def subscribers() -> None:
    """Who is on the list, and who is no longer mailed (unsubscribed, bounced)."""


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_common_options
@_fail_cleanly
def list_subscribers(as_json: bool, config_path: Path | None, db_path: str | None) -> None:
    """Every configured subscriber and every address the database knows, with its status."""
    from digest.config import load_config

    settings = load_config(config_path, db_path=db_path)
    from digest.cli import output
    from digest.pipeline.audience import members
    from digest.state.store import Store

    with Store(settings.state.url, create=False) as store:
        found = members(settings, store)
    if as_json:
        output.echo_json(output.members_json(found))
    else:
        output.print_members(found)


@subscribers.command()
@click.argument("email")
@_common_options
@_fail_cleanly
def unsubscribe(email: str, config_path: Path | None, db_path: str | None) -> None:
    """Stop mailing EMAIL, whatever the config says, until it is resubscribed."""
    _change(email, leave=True, config_path=config_path, db_path=db_path)


@subscribers.command()
@click.argument("email")
@_common_options
@_fail_cleanly
def resubscribe(email: str, config_path: Path | None, db_path: str | None) -> None:
    """Mail EMAIL again (if the config lists it); its bounces are forgotten."""
    _change(email, leave=False, config_path=config_path, db_path=db_path)


def _change(email: str, *, leave: bool, config_path: Path | None, db_path: str | None) -> None:
    from digest.config import load_config, wire_address

    settings = load_config(config_path, db_path=db_path)
    from digest.state.store import Store

    if "@" not in email:
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL")
    # As the config and the emails' links have it: an internationalized domain in ASCII.
    email = wire_address(email.strip())
    _refuse_a_new_database(settings.state.url)
    with Store(settings.state.url) as store:
        if leave:
            changed = store.audience.unsubscribe(email, how="command line", now=_now())
        else:
            changed = store.audience.resubscribe(email, how="command line", now=_now())
    state = "unsubscribed" if leave else "subscribed"
    click.echo(f"{email.lower()}: {state}" + ("" if changed else " already"))
    configured = {sub.email.lower() for sub in settings.subscribers}
    if email.lower() not in configured:
        then = "stays unsubscribed if it is added" if leave else "so it is not mailed"
        click.echo(f"note: {email.lower()} is not in the config, {then}", err=True)


def _refuse_a_new_database(url: str) -> None:
    """For what answers the readers of a list that has sent (its links, its bounces): a
    missing database means a wrong --db, config or working folder (a cron job's is the
    home folder), and a new, empty one would keep their unsubscribes where no send looks."""
    from digest.state.db import missing_file

    if missing_file(url):
        raise DigestError(
            f"{url}: no such database", hint="give the --config or --db that digest send uses"
        )


@main.command()
@click.argument("maildir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@_common_options
@_fail_cleanly
def bounces(maildir: Path, as_json: bool, config_path: Path | None, db_path: str | None) -> None:
    """Read bounces (RFC 3464) and unsubscribe requests from a Maildir folder.

    A hard bounce stops mail to the address; soft bounces count, and stop it at
    delivery.soft_bounce_limit. Each message acted on is marked read; others are left.
    """
    from digest.config import load_config

    settings = load_config(config_path, db_path=db_path)
    from digest.cli import output
    from digest.pipeline.audience import read_maildir
    from digest.state.store import Store

    _refuse_a_new_database(settings.state.url)
    with Store(settings.state.url) as store:
        report = read_maildir(maildir, store, limit=settings.delivery.soft_bounce_limit, now=_now())
    if as_json:
        output.echo_json(output.notices_json(report))
    else:
        click.echo(report.summary())
    sys.exit(0)
