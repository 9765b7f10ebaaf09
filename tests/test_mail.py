"""Messages: what a strict SMTP server and a mail client expect, byte for byte."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import default

import pytest

from digest.errors import DigestError
from digest.mail.envelope import Envelope
from digest.mail.message import build_message, message_id
from digest.mail.tokens import unsubscribe_token

NOW = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
ENVELOPE = Envelope(
    sender="Paper Digest <digest@example.org>",
    recipient="ada@example.org",
    recipient_name="Ada Lovelace",
    edition=date(2026, 11, 21),
    unsubscribe_url="https://digest.example.org/unsubscribe?token=abc.def",
)
LONG_HTML = "<html><body>" + "<p>" + "x" * 5000 + "</p>" * 3 + "Jörg</body></html>"


def built(envelope: Envelope = ENVELOPE, subject: str = "Paper Digest: 3 papers") -> bytes:
    message = build_message(envelope, subject=subject, text="Hello Jörg\n", html=LONG_HTML, now=NOW)
    return message.as_bytes()  # as smtplib sends it: with the message's own policy


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def test_lines_end_in_crlf_and_none_is_longer_than_998_bytes() -> None:
    raw = built()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_it_is_multipart_alternative_with_the_text_part_first() -> None:
    message = parsed(built())
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text, html = (part.get_content().replace("\r\n", "\n") for part in message.iter_parts())
    assert (text, html.rstrip("\n")) == ("Hello Jörg\n", LONG_HTML)
    assert built().count(b"MIME-Version:") == 1


def test_headers_come_from_the_config_and_the_edition() -> None:
    message = parsed(built())
    assert message["From"] == "Paper Digest <digest@example.org>"
    assert message["To"] == "Ada Lovelace <ada@example.org>"
    assert message["Subject"] == "Paper Digest: 3 papers"
    assert message["Date"] == "Sat, 21 Nov 2026 07:00:00 +0000"
    assert message["List-Id"] == "Paper Digest <digest.example.org>"


def test_one_click_unsubscribe_is_offered_with_an_https_endpoint() -> None:
    message = parsed(built())
    assert message["List-Unsubscribe"] == (
        "<https://digest.example.org/unsubscribe?token=abc.def>, "
        "<mailto:digest@example.org?subject=unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_an_https_endpoint_only_the_mailto_is_offered() -> None:
    plain = Envelope(
        sender=ENVELOPE.sender,
        recipient=ENVELOPE.recipient,
        recipient_name=None,
        edition=ENVELOPE.edition,
    )
    message = parsed(built(plain))
    assert message["List-Unsubscribe"] == "<mailto:digest@example.org?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] is None
    assert message["To"] == "ada@example.org"


def test_the_message_id_is_stable_per_subscriber_and_edition() -> None:
    again = Envelope(
        sender=ENVELOPE.sender,
        recipient="ADA@example.org",
        recipient_name=None,
        edition=date(2026, 11, 21),
    )
    tomorrow = Envelope(
        sender=ENVELOPE.sender,
        recipient=ENVELOPE.recipient,
        recipient_name=None,
        edition=date(2026, 11, 22),
    )
    assert message_id(ENVELOPE) == message_id(again) != message_id(tomorrow)
    assert message_id(ENVELOPE).endswith("@example.org>")
    assert parsed(built())["Message-ID"] == message_id(ENVELOPE)


def test_a_non_ascii_subject_is_encoded_and_comes_back_whole() -> None:
    subject = "Paper Digest: Jörg's $\\alpha$-nets — 10 papers"
    raw = built(subject=subject)
    assert raw.isascii()
    assert parsed(raw)["Subject"] == subject


def test_a_sender_that_is_not_an_address_is_an_error() -> None:
    bad = Envelope(
        sender="Paper Digest", recipient="a@example.org", recipient_name=None, edition=NOW.date()
    )
    with pytest.raises(DigestError, match=r"digest\.sender 'Paper Digest' is not an email"):
        built(bad)


def test_the_unsubscribe_header_goes_on_the_wire_unencoded_with_a_real_token() -> None:
    """RFC 2047 encoding (`=?utf-8?q?...`) would hide the link from every mail client."""
    token = unsubscribe_token("ada.lovelace@example.org", "a-long-and-random-secret" * 3)
    url = f"https://digest.example.org/unsubscribe?token={token}"
    assert len(url) > 100, "longer than a folded header line"
    raw = built(replace(ENVELOPE, unsubscribe_url=url))
    assert (
        b"\r\nList-Unsubscribe: <" + url.encode() + b">,\r\n"
        b" <mailto:digest@example.org?subject=unsubscribe>\r\n"
    ) in raw
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
