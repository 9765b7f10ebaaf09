"""Delivery against real SMTP servers on 127.0.0.1, and to an outbox folder."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.errors import DigestError
from digest.mail import transport as transport_module
from digest.mail.envelope import Envelope
from digest.mail.message import WireMessage, build_message
from digest.mail.transport import (
    Delivered,
    DeliveryFailure,
    OutboxTransport,
    PermanentFailure,
    SmtpTransport,
    TemporaryFailure,
)
from tests.smtpserver import (
    DropConnectionHandler,
    RejectRecipientHandler,
    SlowHandler,
    SmtpServer,
    TemporaryFailureHandler,
    TlsFiles,
    free_port,
    parse_message,
)

pytestmark = pytest.mark.network

StartServer = Callable[..., SmtpServer]

NOW = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
EDITION = date(2026, 11, 21)
SENDER = "Paper Digest <digest@example.org>"
# One line of about 5,000 characters, as MJML writes it: on the wire it must be folded.
LONG_HTML = "<html><body>" + "".join(f"<p>paper {n:03d}</p>" for n in range(300)) + "</body></html>"
READERS = {"ada@example.org": "Ada Lovelace", "grace@example.org": "Grace Hopper"}


def digest_message(recipient: str = "ada@example.org", subject: str = "3 papers") -> WireMessage:
    envelope = Envelope(SENDER, recipient, READERS.get(recipient), EDITION)
    text = f"Hello {READERS.get(recipient, recipient)}\n\nToday's papers.\n"
    return build_message(
        envelope, subject=f"Paper Digest: {subject}", text=text, html=LONG_HTML, now=NOW
    )


class FakeClock:
    """A monotonic clock that only moves when told to, or when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_three_messages_go_over_one_connection_intact(smtp_server: StartServer) -> None:
    assert len(LONG_HTML) > 4500 and "\n" not in LONG_HTML
    server = smtp_server()
    recipients = ["ada@example.org", "grace@example.org", "alan@example.org"]
    messages = [digest_message(recipient) for recipient in recipients]
    with SmtpTransport(server.settings()) as transport:
        results = [transport.send(message) for message in messages]
    assert server.connections == 1
    assert [result.message_id for result in results] == [m.message_id for m in messages]
    assert [result.response for result in results] == [
        f"250 2.0.0 OK queued as {n:04d}" for n in (1, 2, 3)
    ]
    assert len({received.peer for received in server.received}) == 1
    for sent, received in zip(messages, server.received, strict=True):
        assert received.mail_from == "digest@example.org"
        assert received.rcpt_tos == sent.recipients
        assert received.content == sent.data, "the bytes arrive as they were built"
        assert max(len(line) for line in received.content.split(b"\r\n")) <= 998
        back = received.parsed()
        assert back["Message-ID"] == sent.message_id
        html = back.get_body(("html",))
        assert html is not None and html.get_content().rstrip("\r\n") == LONG_HTML


def test_a_451_is_a_temporary_failure_with_the_reply(smtp_server: StartServer) -> None:
    server = smtp_server(TemporaryFailureHandler(recipients=("grace@example.org",)))
    message = digest_message("grace@example.org")
    with SmtpTransport(server.settings()) as transport, pytest.raises(TemporaryFailure) as caught:
        transport.send(message)
    assert caught.value.reply == "451 4.3.0 Try again later"
    assert caught.value.message_id == message.message_id
    assert str(caught.value) == (
        f"127.0.0.1:{server.port}: {message.message_id}: 451 4.3.0 Try again later"
    )
    assert server.received == []


def test_every_other_message_fails_and_the_rest_share_the_connection(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(TemporaryFailureHandler(every=2))
    outcomes: list[str] = []
    with SmtpTransport(server.settings()) as transport:
        for recipient in ("ada@example.org", "grace@example.org", "alan@example.org"):
            try:
                outcomes.append(transport.send(digest_message(recipient)).response[:3])
            except TemporaryFailure as failure:
                outcomes.append(failure.reply[:3])
    assert outcomes == ["250", "451", "250"]
    assert [received.rcpt_tos for received in server.received] == [
        ("ada@example.org",),
        ("alan@example.org",),
    ]
    assert server.connections == 1


def test_a_550_is_permanent_and_the_next_message_still_goes(smtp_server: StartServer) -> None:
    server = smtp_server(RejectRecipientHandler("nobody@example.org"))
    with SmtpTransport(server.settings()) as transport:
        with pytest.raises(PermanentFailure) as caught:
            transport.send(digest_message("nobody@example.org"))
        delivered = transport.send(digest_message("ada@example.org"))
    assert caught.value.reply == (
        "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"
        " (nobody@example.org)"
    )
    assert delivered.response.startswith("250 ")
    assert [received.rcpt_tos for received in server.received] == [("ada@example.org",)]
    assert server.connections == 1  # RSET kept the connection usable


def test_a_drop_mid_data_is_temporary_and_the_next_send_reconnects(
    smtp_server: StartServer,
) -> None:
    handler = DropConnectionHandler("DATA")
    server = smtp_server(handler)
    with SmtpTransport(server.settings()) as transport:
        with pytest.raises(TemporaryFailure) as caught:
            transport.send(digest_message("ada@example.org"))
        assert caught.value.reply == (
            "connection dropped mid-DATA; "
            "the whole message went out, so the server may have taken it"
        )
        assert caught.value.maybe_delivered
        assert handler.data_count == 1  # not retried: the server may have taken it
        delivered = transport.send(digest_message("grace@example.org"))
    assert delivered.message_id == digest_message("grace@example.org").message_id
    assert [received.rcpt_tos for received in server.received] == [("grace@example.org",)]
    assert server.connections == 2


def test_a_drop_before_data_is_retried_once_on_a_new_connection(
    smtp_server: StartServer,
) -> None:
    handler = DropConnectionHandler("MAIL")
    server = smtp_server(handler)
    with SmtpTransport(server.settings()) as transport:
        delivered = transport.send(digest_message())
    assert delivered.response.startswith("250 ")
    assert (handler.drops, len(server.received), server.connections) == (1, 1, 2)


def test_a_second_drop_before_data_is_not_retried_again(smtp_server: StartServer) -> None:
    server = smtp_server(DropConnectionHandler("MAIL", times=3))
    with SmtpTransport(server.settings()) as transport, pytest.raises(TemporaryFailure) as caught:
        transport.send(digest_message())
    assert caught.value.reply == "connection dropped"
    assert server.connections == 2


@pytest.mark.parametrize("idle", [0.0, 5.0], ids=["found-on-send", "found-by-noop"])
def test_a_connection_closed_by_the_server_while_idle_is_reopened(
    smtp_server: StartServer, idle: float
) -> None:
    server = smtp_server(session_timeout=0.2)
    clock = FakeClock()
    with SmtpTransport(server.settings(), clock=clock, sleep=clock.sleep) as transport:
        transport.send(digest_message("ada@example.org"))
        time.sleep(0.5)  # the server hangs up on the idle connection
        clock.now += idle
        transport.send(digest_message("grace@example.org"))
    assert len(server.received) == 2
    assert server.connections == 2


def test_a_server_slow_to_answer_the_end_of_a_message_is_waited_for(
    smtp_server: StartServer,
) -> None:
    # It has the message: given up on after smtp.timeout, it was sent again and arrived
    # twice, or three times (RFC 5321 4.5.3.2.6 gives it ten minutes, against that).
    server = smtp_server(SlowHandler(delay=1.0))
    with SmtpTransport(server.settings(timeout=0.3)) as transport:
        delivered = transport.send(digest_message())
        assert delivered.response.startswith("250 ")
        assert transport.send(digest_message("grace@example.org")).response.startswith("250 ")
    assert len(server.received) == 2


def test_no_reply_to_the_end_of_a_message_is_a_failure_that_may_have_arrived(
    smtp_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module, "FINAL_REPLY_SECONDS", 0.5)
    server = smtp_server(SlowHandler(delay=3.0))
    transport = SmtpTransport(server.settings(timeout=0.3))
    with transport, pytest.raises(TemporaryFailure) as caught:
        transport.send(digest_message())
    assert caught.value.maybe_delivered
    assert caught.value.reply == (
        "no reply to the end of the message within 0.5s; "
        "the whole message went out, so the server may have taken it"
    )


def test_a_slow_server_before_the_message_times_out_as_a_temporary_failure(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(SlowHandler(delay=2.0, stage="MAIL"))
    transport = SmtpTransport(server.settings(timeout=0.3))
    with transport, pytest.raises(TemporaryFailure) as caught:
        transport.send(digest_message())
    assert caught.value.reply == "timed out after 0.3s"
    assert not caught.value.maybe_delivered


def test_a_refused_connection_is_a_temporary_failure() -> None:
    settings = SmtpServer().settings(port=free_port(), security="none")
    with SmtpTransport(settings) as transport, pytest.raises(TemporaryFailure) as caught:
        transport.send(digest_message())
    assert caught.value.reply == "cannot connect: Connection refused"


def test_starttls_and_auth_with_a_self_signed_certificate(
    smtp_server: StartServer, tls_files: TlsFiles
) -> None:
    server = smtp_server(security="starttls", tls=tls_files, users={"ada": "s3cret"})
    settings = server.settings(username="ada")
    context = tls_files.client_context()
    with SmtpTransport(settings, password="s3cret", tls_context=context) as transport:
        transport.send(digest_message("ada@example.org"))
        transport.send(digest_message("grace@example.org"))
    assert [(r.tls, r.login) for r in server.received] == [(True, "ada"), (True, "ada")]
    assert server.connections == 1
    assert server.authenticator is not None and server.authenticator.attempts == ["ada"]


def test_a_wrong_password_is_an_error_naming_the_host(
    smtp_server: StartServer, tls_files: TlsFiles
) -> None:
    server = smtp_server(security="starttls", tls=tls_files, users={"ada": "s3cret"})
    settings = server.settings(username="ada")
    context = tls_files.client_context()
    transport = SmtpTransport(settings, password="wrong-guess", tls_context=context)
    with transport, pytest.raises(DigestError) as caught:
        transport.send(digest_message())
    assert not isinstance(caught.value, DeliveryFailure)  # about the server, not the message
    message = str(caught.value)
    assert message.startswith(f"127.0.0.1:{server.port} refused the login of 'ada': 535 ")
    assert "wrong-guess" not in message and "\n" not in message
    assert server.received == []


def test_a_password_is_never_sent_over_a_plain_connection(smtp_server: StartServer) -> None:
    server = smtp_server()
    with pytest.raises(DigestError) as caught:
        SmtpTransport(server.settings(username="ada"), password="s3cret")
    assert str(caught.value) == (
        "refusing to send the SMTP password over an unencrypted connection: "
        'set smtp.security to "starttls" or "ssl", or smtp.allow_insecure_auth = true'
    )
    assert server.connections == 0


def test_allow_insecure_auth_logs_in_over_a_plain_connection(smtp_server: StartServer) -> None:
    server = smtp_server(users={"ada": "s3cret"})
    settings = server.settings(username="ada")
    with SmtpTransport(settings, password="s3cret", allow_insecure_auth=True) as transport:
        transport.send(digest_message())
    assert [(r.tls, r.login) for r in server.received] == [(False, "ada")]


def test_a_server_without_starttls_is_a_one_line_error_with_the_fix(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()  # plain: offers no STARTTLS
    transport = SmtpTransport(server.settings(security="starttls"))
    with transport, pytest.raises(DigestError) as caught:
        transport.send(digest_message())
    assert not isinstance(caught.value, DeliveryFailure)
    assert str(caught.value) == (
        f"127.0.0.1:{server.port} does not offer STARTTLS: "
        'set smtp.security = "ssl" for port 465 or "none"'
    )
    assert server.received == []


def test_smtps_delivers_over_implicit_tls(smtp_server: StartServer, tls_files: TlsFiles) -> None:
    server = smtp_server(security="ssl", tls=tls_files, users={"ada": "s3cret"})
    settings = server.settings(username="ada", password="s3cret")  # as DIGEST_SMTP__PASSWORD
    with SmtpTransport(settings, tls_context=tls_files.client_context()) as transport:
        delivered = transport.send(digest_message())
    assert delivered.response.startswith("250 ")
    assert [(r.tls, r.login) for r in server.received] == [(True, "ada")]


def test_an_untrusted_certificate_is_an_error(
    smtp_server: StartServer, tls_files: TlsFiles
) -> None:
    server = smtp_server(security="ssl", tls=tls_files)
    transport = SmtpTransport(server.settings())  # it trusts the system's CAs only
    with transport, pytest.raises(DigestError, match="TLS certificate not trusted"):
        transport.send(digest_message())
    assert server.received == []


def test_the_rate_limit_sleeps_between_sends(smtp_server: StartServer) -> None:
    server = smtp_server()
    clock = FakeClock()
    settings = server.settings()
    with SmtpTransport(settings, rate_limit=2.0, clock=clock, sleep=clock.sleep) as transport:
        for recipient in ("ada@example.org", "grace@example.org", "alan@example.org"):
            transport.send(digest_message(recipient))
        assert clock.sleeps == pytest.approx([0.5, 0.5])
        clock.now += 0.2  # some time passed: only the rest of the interval is slept
        transport.send(digest_message("emmy@example.org"))
        clock.now += 10.0  # long enough: no sleep at all
        transport.send(digest_message("sofia@example.org"))
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.3])
    assert len(server.received) == 5


def test_without_a_rate_limit_nothing_sleeps(smtp_server: StartServer) -> None:
    server = smtp_server()
    clock = FakeClock()
    with SmtpTransport(server.settings(), clock=clock, sleep=clock.sleep) as transport:
        transport.send(digest_message("ada@example.org"))
        transport.send(digest_message("grace@example.org"))
    assert clock.sleeps == []


def test_the_outbox_holds_one_eml_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    messages = [digest_message(r) for r in ("ada@example.org", "grace@example.org")]
    with OutboxTransport(outbox) as transport:
        results = [transport.send(message) for message in messages]
        transport.send(messages[0])  # a resend overwrites its own file
    files = sorted(outbox.iterdir())
    assert [path.name for path in files] == sorted(
        message.message_id.strip("<>") + ".eml" for message in messages
    )
    for message, result in zip(messages, results, strict=True):
        path = outbox / (message.message_id.strip("<>") + ".eml")
        assert result == Delivered(message.message_id, f"written to {path}")
        raw = path.read_bytes()
        assert raw == message.data, "the same bytes a server would get"
        assert b"\n" not in raw.replace(b"\r\n", b"")
        back = parse_message(raw)
        assert (back["Message-ID"], back["To"].addresses[0].addr_spec) == (
            message.message_id,
            message.recipients[0],
        )


def test_an_outbox_file_name_is_safe_whatever_the_message_id(tmp_path: Path) -> None:
    message = replace(digest_message(), message_id="<../../etc/passwd@example.org>")
    delivered = OutboxTransport(tmp_path).send(message)
    (written,) = tmp_path.iterdir()
    assert written.parent == tmp_path and not written.name.startswith(".")
    assert written.name.endswith(".eml") and "/" not in written.name
    assert delivered.message_id == "<../../etc/passwd@example.org>"


def test_a_message_made_with_the_email_package_is_sent_from_its_headers(
    smtp_server: StartServer,
) -> None:
    """What a tool or a test writes by hand goes out too: serialized once, its envelope
    from From and To, as smtplib's send_message would take it."""
    server = smtp_server()
    message = EmailMessage()
    message["From"] = "Paper Digest <digest@example.org>"
    message["To"] = "Ada <ada@example.org>, grace@example.org"
    message["Message-ID"] = "<by-hand@example.org>"
    message.set_content("hello")
    with SmtpTransport(server.settings()) as transport:
        delivered = transport.send(message)
    assert delivered.message_id == "<by-hand@example.org>"
    [received] = server.received
    assert received.mail_from == "digest@example.org"
    assert received.rcpt_tos == ("ada@example.org", "grace@example.org")
    assert received.parsed().get_content() == "hello\r\n"
    message.replace_header("Message-ID", " ")
    with pytest.raises(PermanentFailure, match="no Message-ID"):
        OutboxTransport(Path("never-written")).send(message)


def test_one_guard_thread_keeps_the_deadlines_of_a_whole_run(smtp_server: StartServer) -> None:
    """A thread started and joined per message cost more than sending it: one guard
    watches every step of the transport, and goes when the transport closes."""

    def guards() -> list[str]:
        return [thread.name for thread in threading.enumerate() if thread.name == "smtp-deadline"]

    server = smtp_server()
    with SmtpTransport(server.settings()) as transport:
        for recipient in ("ada@example.org", "grace@example.org", "alan@example.org"):
            transport.send(digest_message(recipient))
        assert guards() == ["smtp-deadline"]
    assert guards() == []
    assert len(server.received) == 3
