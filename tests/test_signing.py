"""DKIM: what goes on the wire is signed, and a receiver holding the published key can
verify it; a changed unsubscribe link breaks the signature."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import dkim
import pytest

from digest.config import Settings
from digest.mail.envelope import Envelope
from digest.mail.message import WireMessage, build_message
from digest.mail.signing import DkimSigner, signer_for
from digest.mail.transport import SmtpTransport
from tests.smtpserver import RecordingHandler, SmtpServer

NOW = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
ENVELOPE = Envelope(
    sender="Paper Digest <digest@example.org>",
    recipient="ada@example.org",
    recipient_name="Ada Lovelace",
    edition=date(2026, 11, 21),
    unsubscribe_url="https://digest.example.org/unsubscribe?token=" + "t" * 80,
    feedback_id="digest:paper-digest:daily:example.org",
)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A 2048-bit RSA key made by openssl, and the TXT record that publishes it."""
    folder = tmp_path_factory.mktemp("dkim")
    private = folder / "digest.private"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def published(record: bytes) -> Callable[..., bytes]:
    """DNS as a receiver sees it: the key record at mail._domainkey.example.org."""

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"mail._domainkey.example.org." else b""

    return lookup


def unsigned_message() -> WireMessage:
    return build_message(
        ENVELOPE, subject="Paper Digest: 3 papers", text="Hi\n", html="<p>Hi</p>", now=NOW
    )


def signed_message(private: Path) -> bytes:
    return DkimSigner.load("example.org", "mail", private).sign(unsigned_message()).data


def test_a_signed_message_verifies_with_the_published_key(key: tuple[Path, bytes]) -> None:
    private, record = key
    wire = signed_message(private)
    assert dkim.verify(wire, dnsfunc=published(record))
    signature = wire.split(b"DKIM-Signature:", 1)[1].split(b"\r\n\r\n", 1)[0]
    signed = re.search(rb"h=([^;]+);", re.sub(rb"\s+", b"", signature))
    assert signed is not None
    names = {name.lower() for name in signed.group(1).split(b":")}
    assert {b"from", b"subject", b"date", b"message-id", b"list-unsubscribe"} <= names
    assert b"list-unsubscribe-post" in names
    assert b"\r\nFeedback-ID: digest:paper-digest:daily:example.org\r\n" in wire


def test_the_signature_goes_first_and_leaves_the_message_as_it_was(
    key: tuple[Path, bytes],
) -> None:
    private, _record = key
    unsigned = unsigned_message()
    signed = DkimSigner.load("example.org", "mail", private).sign(unsigned)
    signature, _, rest = signed.data.partition(b"\r\nFrom: ")
    assert signature.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert b"From: " + rest == unsigned.data
    assert (signed.sender, signed.recipients, signed.message_id) == (
        unsigned.sender,
        unsigned.recipients,
        unsigned.message_id,
    )
    assert max(len(line) for line in signature.split(b"\r\n")) <= 998
    assert b"\n" not in signed.data.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("signed", "forged"),
    [
        (b"token=tttt", b"token=evil"),
        # Gmail's feedback loop counts a Feedback-ID only when a DKIM signature of the
        # sender's domain covers it: unsigned, anyone could put our sender id on their mail.
        (b"Feedback-ID: digest:", b"Feedback-ID: forged:"),
    ],
    ids=["unsubscribe link", "feedback id"],
)
def test_a_changed_signed_header_breaks_the_signature(
    key: tuple[Path, bytes], signed: bytes, forged: bytes
) -> None:
    private, record = key
    wire = signed_message(private)
    changed = wire.replace(signed, forged, 1)
    assert changed != wire
    assert not dkim.verify(changed, dnsfunc=published(record))


@pytest.mark.parametrize(
    "added",
    [
        b"List-Unsubscribe: <https://evil.example/unsubscribe>\r\n",
        b"From: Someone Else <ceo@example.org>\r\n",
        b"Subject: Urgent: confirm your password\r\n",
    ],
)
def test_a_header_added_on_the_way_breaks_the_signature(
    key: tuple[Path, bytes], added: bytes
) -> None:
    # RFC 6376 section 8.15: signed one more time than they occur, a second From,
    # Subject or unsubscribe link put in on the way no longer verifies.
    private, record = key
    wire = signed_message(private)
    signature, _sep, rest = wire.partition(b"\r\nFrom: ")
    forged = signature + b"\r\n" + added + b"From: " + rest
    assert dkim.verify(wire, dnsfunc=published(record))
    assert not dkim.verify(forged, dnsfunc=published(record))


def test_what_the_server_receives_verifies(
    key: tuple[Path, bytes], smtp_server: Callable[..., SmtpServer], tmp_path: Path
) -> None:
    private, record = key
    server = smtp_server(RecordingHandler())
    settings = Settings.model_validate(
        {
            "smtp": {
                "host": "127.0.0.1",
                "port": server.port,
                "security": "none",
                "ehlo_name": "mail.example.org",
            },
            "dkim": {"domain": "example.org", "selector": "mail", "private_key_file": str(private)},
        }
    )
    signer = signer_for(settings)
    assert signer is not None
    message = signer.sign(
        build_message(ENVELOPE, subject="Hello", text="Hi\n", html="<p>Hi</p>", now=NOW)
    )
    with SmtpTransport(settings.smtp) as transport:
        transport.send(message)
    [received] = server.received
    assert dkim.verify(received.content, dnsfunc=published(record))
    assert received.ehlo_name == "mail.example.org"


def test_an_unreadable_key_is_one_line(tmp_path: Path) -> None:
    from digest.errors import DigestError

    with pytest.raises(DigestError, match=r"dkim.private_key_file: .*missing.pem: cannot read"):
        DkimSigner.load("example.org", "mail", tmp_path / "missing.pem")
    (tmp_path / "public.pem").write_text("-----BEGIN PUBLIC KEY-----\n", encoding="ascii")
    with pytest.raises(DigestError, match="not a PEM private key"):
        DkimSigner.load("example.org", "mail", tmp_path / "public.pem")
