"""One bad subscriber never blocks the others: what the config cannot send is refused when
it loads, and whatever still fails for one subscriber at send time fails that one alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope
from pydantic import ValidationError

from digest.collect.locate import SourceSpec
from digest.config import Settings
from digest.mail.render import Renderer
from digest.mail.transport import SmtpTransport
from digest.pipeline.collect import collect
from digest.pipeline.delivery import SendReport
from digest.pipeline.send import send_editions
from digest.state.ledger import FAILED, SENT
from digest.state.store import Store
from digest.subscribers import Subscriber, all_subscribers, find_subscriber
from tests.smtpserver import RecordingHandler, SmtpServer
from tests.test_collect_cli import digest

EDITION = date(2026, 3, 12)
NOW = datetime(2026, 3, 12, 7, 0, tzinfo=UTC)


def load(*subscribers: dict[str, object], port: int = 25) -> Settings:
    return Settings.model_validate(
        {
            "digest": {"sender": "Paper Digest <digest@example.org>"},
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5},
            "subscribers": list(subscribers),
        }
    )


def collect_and_send(
    settings: Settings,
    store: Store,
    shared: Path,
    subscribers: list[Subscriber],
    sleep: Callable[[float], None] = lambda _seconds: None,
) -> SendReport:
    """Collect the seed dumps, then send EDITION to `subscribers` through the config's
    server, `sleep` between retries (by default, without waiting)."""
    spec = SourceSpec(name="seeds", location=str(shared / "seeds"))
    collect([spec], store, settings=settings.collect, now=NOW)
    with SmtpTransport(settings.smtp) as transport:
        return send_editions(
            settings,
            store,
            Renderer.load(),
            transport,
            subscribers=subscribers,
            now=lambda: NOW,
            edition=EDITION,
            sleep=sleep,
        )


def test_an_address_that_needs_smtputf8_is_refused_when_the_config_loads(
    tmp_path: Path,
) -> None:
    (tmp_path / "digest.toml").write_text(
        '[[subscribers]]\nemail = "ünï@exämple.org"\n'
        '[[subscribers]]\nemail = "ada@example.org"\nname = "Ada\\r\\nBcc: eve@example.org"\n',
        encoding="utf-8",
    )
    result = digest("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: subscribers.0.email: 'ünï@exämple.org' has a non-ASCII local part (before "
        "the @), which needs SMTPUTF8: digest sends plain SMTP",
        "error: subscribers.1.name: has a line break or another control character",
    ]


def test_an_internationalized_domain_is_sent_to_in_its_ascii_form() -> None:
    settings = load({"email": "ada@exämple.org"})
    [subscriber] = all_subscribers(settings)
    assert subscriber.email == "ada@xn--exmple-cua.org"
    for written in ("ada@exämple.org", "Ada@EXÄMPLE.org", "ada@xn--exmple-cua.org"):
        assert find_subscriber(settings, written).email == subscriber.email, written
    with pytest.raises(ValidationError, match="An email address must have an @-sign"):
        load({"email": "not an address"})


def test_a_subscriber_whose_message_cannot_be_built_fails_alone(
    tmp_path: Path, shared: Path, smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server(RecordingHandler())
    settings = load({"email": "ada@example.org"}, {"email": "bob@example.org"}, port=server.port)
    ada, bob = all_subscribers(settings)
    # What the config refuses can still reach the send run from elsewhere (a subscriber
    # list of the future, a bug): a name with a line break cannot go in a To header.
    broken = replace(ada, name="Ada\r\nBcc: eve@example.org")
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        report = collect_and_send(settings, store, shared, [broken, bob])
        rows = {row.subscriber: row for row in store.ledger.rows(EDITION)}
    assert report.sent == ["bob@example.org"]
    [(email, reason)] = report.failed
    assert email == "ada@example.org" and reason.startswith("cannot build the message: ")
    assert not report.ok
    assert rows["ada@example.org"].status == FAILED, "recorded, never left 'sending'"
    assert rows["bob@example.org"].status == SENT
    assert [tuple(message.rcpt_tos) for message in server.received] == [("bob@example.org",)]


class UnsubscribesBobOnTheFirstMessage(RecordingHandler):
    """A real server; while it takes the first message, bob clicks his unsubscribe link
    (`digest serve` writing to the same database, as another process would)."""

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database

    async def reply(self, server: SMTP, envelope: Envelope, number: int) -> str:
        if number == 1:
            with Store(self.database) as elsewhere:
                elsewhere.audience.unsubscribe("bob@example.org", how="one-click", now=NOW)
        return await super().reply(server, envelope, number)


def test_a_reader_who_unsubscribes_while_the_send_runs_is_not_mailed_by_it(
    tmp_path: Path, shared: Path, smtp_server: Callable[..., SmtpServer]
) -> None:
    """Readers are claimed and ranked by batches (25 by default): one who leaves after
    their batch was claimed is still looked up right before their message goes out."""
    database = f"sqlite:///{tmp_path / 'digest.db'}"
    server = smtp_server(UnsubscribesBobOnTheFirstMessage(database))
    settings = load({"email": "ada@example.org"}, {"email": "bob@example.org"}, port=server.port)
    with Store(database) as store:
        report = collect_and_send(settings, store, shared, all_subscribers(settings))
        rows = {row.subscriber: row for row in store.ledger.rows(EDITION)}
    assert (report.sent, report.suppressed) == (["ada@example.org"], ["bob@example.org"])
    assert [tuple(message.rcpt_tos) for message in server.received] == [("ada@example.org",)]
    assert rows["bob@example.org"].status != SENT
