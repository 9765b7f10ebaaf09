"""One bad subscriber never blocks the others: what the config cannot send is refused when
it loads, and whatever still fails for one subscriber at send time fails that one alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from digest.collect.locate import SourceSpec
from digest.config import Settings
from digest.mail.render import Renderer
from digest.mail.transport import SmtpTransport
from digest.pipeline.collect import collect
from digest.pipeline.send import send_editions
from digest.state.ledger import FAILED, SENT
from digest.state.store import Store
from digest.subscribers import all_subscribers, find_subscriber
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
        spec = SourceSpec(name="seeds", location=str(shared / "seeds"))
        collect([spec], store, settings=settings.collect, now=NOW)
        with SmtpTransport(settings.smtp) as transport:
            report = send_editions(
                settings,
                store,
                Renderer.load(),
                transport,
                subscribers=[broken, bob],
                now=lambda: NOW,
                edition=EDITION,
                sleep=lambda _seconds: None,
            )
        rows = {row.subscriber: row for row in store.ledger.rows(EDITION)}
    assert report.sent == ["bob@example.org"]
    [(email, reason)] = report.failed
    assert email == "ada@example.org" and reason.startswith("cannot build the message: ")
    assert not report.ok
    assert rows["ada@example.org"].status == FAILED, "recorded, never left 'sending'"
    assert rows["bob@example.org"].status == SENT
    assert [tuple(message.rcpt_tos) for message in server.received] == [("bob@example.org",)]
