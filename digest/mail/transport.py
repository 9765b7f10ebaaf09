"""Delivery transports: an SMTP server (the only smtplib import) or an outbox folder.

A transport takes one finished message at a time, its bytes as built (a `WireMessage`,
sent with `sendmail` as they are: never parsed or serialized again), and answers with
`Delivered`, or raises `TemporaryFailure` (try again later: 4xx replies, dropped
connections, timeouts) or `PermanentFailure` (5xx for this message or recipient: do not
retry). Any other `DigestError` is about the server or the config, not the message: it
stops the run.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, Self

from digest.config import SmtpSettings
from digest.deadlines import Deadline
from digest.errors import DigestError
from digest.files import write_atomically
from digest.mail.message import WireMessage
from digest.mail.notices import address_gone
from digest.text import fold_whitespace

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

# A reply longer than this is a broken or hostile server: no SMTP reply comes near it.
MAX_REPLY_BYTES = 64 * 1024
# A connection unused for this long is checked with NOOP before it carries a message;
# back-to-back sends skip the round trip (a drop is still caught, see SmtpTransport.send).
IDLE_CHECK_SECONDS = 2.0
# How long a server may take to answer the end of a message (RFC 5321 4.5.3.2.6: ten
# minutes, against duplicates): longer than smtp.timeout, which bounds each other step.
FINAL_REPLY_SECONDS = 600.0
# A reply's enhanced status code (RFC 3463): "550 5.1.1 User unknown" -> "5.1.1".
_ENHANCED = re.compile(r"^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b")


@dataclass(frozen=True, slots=True)
class Delivered:
    """A message the server accepted (or the outbox stored)."""

    message_id: str
    response: str  # the server's reply to DATA, e.g. "250 OK queued as 4Kx2"


class DeliveryFailure(DigestError):
    """One message was not delivered; `reply` says why in one line. `recipient_refused`:
    the server refused the recipient (at RCPT), so the server itself is working."""

    def __init__(
        self,
        reply: str,
        *,
        message_id: str = "",
        server: str = "",
        recipient_refused: bool = False,
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(": ".join(part for part in (server, message_id, reply) if part))
        self.reply = reply
        self.message_id = message_id
        self.server = server
        self.recipient_refused = recipient_refused
        # The whole message went out and its final reply never came (the connection
        # dropped, the wait ran out): the server may have queued it, and sending it again
        # may deliver it twice (RFC 1047).
        self.maybe_delivered = maybe_delivered

    @property
    def mailbox_gone(self) -> bool:
        """A refusal at RCPT of the recipient's address itself (`notices.address_gone`):
        a hard bounce, as a delivery status notification would report it."""
        found = _ENHANCED.match(self.reply)
        return self.recipient_refused and found is not None and address_gone(found.group(1))


class TemporaryFailure(DeliveryFailure):
    """A 4xx reply, a dropped connection or a timeout: send the same message again later."""


class PermanentFailure(DeliveryFailure):
    """A 5xx reply for this message or recipient: sending it again would fail again."""


class ServerUnusable(DigestError):
    """The server cannot be used at all (TLS, STARTTLS, the login, a refusal at connect):
    no message went out, and the next would meet the same, so the run stops."""


class Transport(Protocol):
    """Where finished messages go."""

    def send(self, message: WireMessage) -> Delivered: ...

    def close(self) -> None: ...


class _Closing:
    """A transport is a context manager that closes itself."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release what the transport holds."""


class _Dropped(Exception):
    """The connection went away before DATA: the message can safely go on a new one."""


class _ReplyTooLong(OSError):
    """A reply past `MAX_REPLY_BYTES`."""


class _CappedReplies:
    """The server's side of the connection, read a reply at a time, each reply at most
    `MAX_REPLY_BYTES`: smtplib caps one line, not how many lines a reply has, and a server
    answering EHLO with endless "250-" lines once grew a send to 22 GB."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._left = MAX_REPLY_BYTES

    def start_reply(self) -> None:
        self._left = MAX_REPLY_BYTES

    def readline(self, limit: int = -1) -> bytes:
        line = self._raw.readline(limit)
        self._left -= len(line)
        if self._left < 0:
            raise _ReplyTooLong(f"a reply longer than {MAX_REPLY_BYTES // 1024} KB")
        return line

    def close(self) -> None:
        self._raw.close()


class _TrackedSMTP(smtplib.SMTP):
    """Remembers whether DATA began and what the server answered to the message; caps
    every reply; hands itself to a deadline before it connects."""

    data_started = False
    data_reply: tuple[int, bytes] | None = None
    body_sent = False  # the message and its final "." went out: the server may have it

    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        # From the moment its socket exists: the banner is the first thing a server drips.
        deadline.watch(lambda: getattr(self, "sock", None))
        self._deadline = deadline
        super().__init__(*args, **kwargs)

    def send(self, s: ReadableBuffer | str) -> None:
        super().send(s)
        if self.data_started and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.body_sent = True
            # The server has the message: give it the time RFC 5321 (4.5.3.2.6) gives to
            # answer the end of DATA, since one not waited for may go out twice.
            self._deadline.extend(FINAL_REPLY_SECONDS)
            if self.sock is not None:
                self.sock.settimeout(FINAL_REPLY_SECONDS)

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:
            self.file = _CappedReplies(self.sock.makefile("rb"))
        if isinstance(self.file, _CappedReplies):
            self.file.start_reply()
        return super().getreply()

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.data_started = True
        self.data_reply = super().data(msg)
        return self.data_reply


class _TrackedSMTPSSL(_TrackedSMTP, smtplib.SMTP_SSL):
    pass


class SmtpTransport(_Closing):
    """One SMTP connection reused across many messages, re-opened when it drops.

    It connects on the first `send`. `password` defaults to `settings.password`;
    `tls_context` to the system's trusted certificates. `rate_limit` caps the messages
    per second; `clock` and `sleep` are injectable for tests. Connecting, and each
    message, must finish within `settings.timeout` seconds overall, and within
    `digest.deadlines.STOP_GRACE_SECONDS` once `should_stop` says a stop was requested.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        password: str | None = None,
        allow_insecure_auth: bool = False,
        rate_limit: float | None = None,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self._settings = settings
        self._deadline = Deadline(settings.timeout, should_stop, name="smtp-deadline")
        self._server = f"{settings.host}:{settings.port}"
        self._password = _password(settings, password, allow_insecure_auth)
        if rate_limit is not None and rate_limit <= 0:
            raise DigestError(f"the SMTP rate limit must be positive, not {rate_limit}")
        self._interval = None if rate_limit is None else 1.0 / rate_limit
        self._tls_context = tls_context
        self._local_hostname = local_hostname or settings.ehlo_name
        self._clock = clock
        self._sleep = sleep
        self._smtp: _TrackedSMTP | None = None
        self._next_slot: float | None = None
        self._last_used = 0.0

    def send(self, message: WireMessage | EmailMessage) -> Delivered:
        """Send one message; a connection that dropped before DATA is re-opened once."""
        message = on_the_wire(message)
        message_id = message.message_id
        self._wait_for_slot()
        try:
            try:
                return self._transmit(self._connection(message_id), message, message_id)
            except _Dropped:
                self._discard()
                try:
                    return self._transmit(self._connection(message_id), message, message_id)
                except _Dropped as error:
                    self._discard()
                    raise self._temporary(str(error), message_id) from None
        finally:
            self._last_used = self._clock()

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open; stop the deadline's guard."""
        smtp, self._smtp = self._smtp, None
        try:
            if smtp is not None:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the server went away first: nothing left to say goodbye to
        finally:
            if smtp is not None:
                smtp.close()
            self._deadline.close()

    def _wait_for_slot(self) -> None:
        if self._interval is None:
            return
        now = self._clock()
        if self._next_slot is not None and now < self._next_slot:
            self._sleep(self._next_slot - now)
            now = self._next_slot
        self._next_slot = now + self._interval

    def _connection(self, message_id: str) -> _TrackedSMTP:
        idle = self._clock() - self._last_used >= IDLE_CHECK_SECONDS
        if self._smtp is not None and idle and not _answers_noop(self._smtp):
            self._discard()
        if self._smtp is None:
            self._smtp = self._open(message_id)
        return self._smtp

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _open(self, message_id: str) -> _TrackedSMTP:
        try:
            with self._deadline.running():
                return self._connect()
        except (smtplib.SMTPException, OSError) as error:
            if self._deadline.expired:  # whatever half an answer said, it was cut off
                raise self._temporary(
                    self._connection_reply(error, "cannot connect"), message_id
                ) from None
            raise self._connect_failure(error, message_id) from None

    def _connect_failure(self, error: BaseException, message_id: str) -> DigestError:
        """A temporary failure to try later, or the server or config at fault (the run
        stops: the next subscriber would meet the same)."""
        if isinstance(error, smtplib.SMTPAuthenticationError):
            if 400 <= error.smtp_code < 500:
                return self._temporary(_reply(error), message_id)
            return ServerUnusable(
                f"{self._server} refused the login of {self._settings.username!r}: {_reply(error)}",
                "check smtp.username and DIGEST_SMTP__PASSWORD",
            )
        if isinstance(error, smtplib.SMTPResponseException):
            if 400 <= error.smtp_code < 500:
                return self._temporary(_reply(error), message_id)
            return ServerUnusable(f"{self._server} refused the connection: {_reply(error)}")
        if isinstance(error, smtplib.SMTPNotSupportedError):
            return ServerUnusable(
                f"{self._server} does not offer SMTP AUTH",
                "unset smtp.username, or use the server's submission port",
            )
        if isinstance(error, ssl.SSLCertVerificationError):
            return ServerUnusable(
                f"{self._server}: TLS certificate not trusted ({error.verify_message})"
            )
        if isinstance(error, ssl.SSLError):
            return ServerUnusable(f"{self._server}: TLS failed ({error.reason})", self._tls_hint())
        return self._temporary(self._connection_reply(error, "cannot connect"), message_id)

    def _connect(self) -> _TrackedSMTP:
        settings = self._settings
        context = self._tls_context or tls_context(self._settings)
        address = (settings.host, settings.port, self._local_hostname)
        smtp = (
            _TrackedSMTPSSL(
                *address, timeout=settings.timeout, context=context, deadline=self._deadline
            )
            if settings.security == "ssl"
            else _TrackedSMTP(*address, timeout=settings.timeout, deadline=self._deadline)
        )
        try:
            if settings.security == "starttls":
                self._starttls(smtp, context)
            if settings.username and self._password is not None:
                smtp.login(settings.username, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _starttls(self, smtp: _TrackedSMTP, context: ssl.SSLContext) -> None:
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            raise ServerUnusable(
                f'{self._server} does not offer STARTTLS: set smtp.security = "ssl" '
                f'for port 465 or "none"'
            )
        code, text = smtp.starttls(context=context)
        if code != 220:
            raise smtplib.SMTPResponseException(code, text)
        smtp.ehlo()

    def _tls_hint(self) -> str:
        if self._settings.security == "ssl":
            return 'is it an implicit-TLS port? set smtp.security = "starttls" for port 587'
        return 'set smtp.security = "ssl" for port 465'

    def _transmit(self, smtp: _TrackedSMTP, message: WireMessage, message_id: str) -> Delivered:
        smtp.data_started, smtp.body_sent, smtp.data_reply = False, False, None
        if smtp.sock is not None:  # the last message's end may have waited longer
            smtp.sock.settimeout(self._settings.timeout)
        try:
            self._deadline.watch(lambda: smtp.sock)
            with self._deadline.running():
                smtp.sendmail(message.sender, list(message.recipients), message.data)
        except smtplib.SMTPServerDisconnected as error:
            timed_out = self._deadline.expired or isinstance(error.__context__, TimeoutError)
            if isinstance(error.__context__, _ReplyTooLong):  # the same again if retried
                self._discard()
                raise self._temporary(str(error.__context__), message_id) from None
            if smtp.data_started or timed_out:
                self._discard()
                reply = self._dropped_reply(error, smtp)
                raise self._temporary(reply, message_id, smtp.body_sent) from None
            raise _Dropped(self._dropped_reply(error, smtp)) from None
        except smtplib.SMTPSenderRefused as error:
            if error.smtp_code == 421:  # closing the connection: a new one may take it
                raise _Dropped(_reply(error)) from None
            self._recover(smtp)
            if 500 <= error.smtp_code < 600:  # the same for every message of the run
                raise ServerUnusable(
                    f"{self._server} refused the sender {message.sender}: {_reply(error)}",
                    "check digest.sender, and what this login may send as",
                ) from None
            raise self._temporary(_reply(error), message_id) from None
        except smtplib.SMTPResponseException as error:
            if error.smtp_code == 421 and not smtp.data_started:
                raise _Dropped(_reply(error)) from None
            self._recover(smtp)
            raise self._failure(error.smtp_code, _reply(error), message_id) from None
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = _refusal(error)
            if code == 421:  # the server is closing the channel (smtplib closed it too)
                self._discard()
                raise _Dropped(reply) from None
            self._recover(smtp)
            raise self._failure(code, reply, message_id, recipient_refused=True) from None
        except smtplib.SMTPNotSupportedError as error:
            self._recover(smtp)
            raise PermanentFailure(str(error), message_id=message_id, server=self._server) from None
        except (smtplib.SMTPException, OSError) as error:
            self._discard()
            reply = self._connection_reply(error, "failed")
            raise self._temporary(reply, message_id, smtp.body_sent) from None
        code, text = smtp.data_reply or (250, b"")
        return Delivered(message_id, _reply_line(code, text))

    def _recover(self, smtp: _TrackedSMTP) -> None:
        """Keep the connection for the next message only if the server takes RSET."""
        try:
            usable = smtp.sock is not None and smtp.rset()[0] == 250
        except (smtplib.SMTPException, OSError):
            usable = False
        if not usable:
            self._discard()

    def _failure(
        self, code: int, reply: str, message_id: str, *, recipient_refused: bool = False
    ) -> DeliveryFailure:
        kind = PermanentFailure if 500 <= code < 600 else TemporaryFailure
        return kind(
            reply, message_id=message_id, server=self._server, recipient_refused=recipient_refused
        )

    def _temporary(
        self, reply: str, message_id: str, maybe_delivered: bool = False
    ) -> TemporaryFailure:
        if maybe_delivered:
            reply += "; the whole message went out, so the server may have taken it"
        return TemporaryFailure(
            reply, message_id=message_id, server=self._server, maybe_delivered=maybe_delivered
        )

    def _dropped_reply(self, error: smtplib.SMTPServerDisconnected, smtp: _TrackedSMTP) -> str:
        if self._deadline.expired or isinstance(error.__context__, TimeoutError):
            if smtp.body_sent and not self._deadline.cut_by_stop:
                return f"no reply to the end of the message within {FINAL_REPLY_SECONDS:g}s"
            return self._timed_out()
        return "connection dropped mid-DATA" if smtp.data_started else "connection dropped"

    def _connection_reply(self, error: BaseException, what: str) -> str:
        if isinstance(error.__context__, _ReplyTooLong):
            return f"{what}: {error.__context__}"
        if self._deadline.expired:
            return f"{what}: {self._deadline.describe()}"
        if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
            return self._timed_out()
        detail = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return f"{what}: {detail or type(error).__name__}"

    def _timed_out(self) -> str:
        if self._deadline.cut_by_stop:
            return self._deadline.describe()
        return f"timed out after {self._settings.timeout:g}s"


class OutboxTransport(_Closing):
    """Writes each message as <outbox>/<sanitized Message-ID>.eml instead of sending it.

    Files are written whole or not at all, with CRLF line endings as on the wire; the same
    Message-ID overwrites the same file, so a resend never makes a second one.
    """

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def send(self, message: WireMessage | EmailMessage) -> Delivered:
        """Write the message to its file in the outbox, byte for byte as it would be sent."""
        message = on_the_wire(message)
        message_id = message.message_id
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DigestError(
                f"{self.outbox}: cannot create the outbox ({error.strerror})"
            ) from None
        path = self.outbox / f"{eml_name(message_id)}.eml"
        write_atomically(path, message.data)
        return Delivered(message_id, f"written to {path}")


def eml_name(message_id: str) -> str:
    """A safe file name for a Message-ID: never hidden, never a path, distinct per id."""
    bare = message_id.strip().removeprefix("<").removesuffix(">")
    name = re.sub(r"[^A-Za-z0-9._@+=-]", "_", bare).lstrip(".")[:180]
    if name != bare or not name:
        name += "_" + hashlib.sha256(message_id.encode()).hexdigest()[:12]
    return name


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """The TLS context of the SMTP connection: the system's CA certificates, or those of
    `smtp.ca_file`; ServerUnusable naming the file when it holds none."""
    try:
        return ssl.create_default_context(cafile=settings.ca_file)
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or error.strerror or str(error)
        raise ServerUnusable(
            f"smtp.ca_file: {settings.ca_file}: not a PEM file of CA certificates ({reason})"
        ) from None


def _password(settings: SmtpSettings, password: str | None, allow_insecure: bool) -> str | None:
    if not settings.username:
        return None
    if password is None and settings.password is not None:
        password = settings.password.get_secret_value()
    if password is None:
        raise DigestError(
            f"smtp.username is {settings.username!r} but no password is given",
            "set DIGEST_SMTP__PASSWORD",
        )
    if settings.security == "none" and not allow_insecure:
        raise DigestError(
            "refusing to send the SMTP password over an unencrypted connection: set "
            'smtp.security to "starttls" or "ssl", or smtp.allow_insecure_auth = true'
        )
    return password


def on_the_wire(message: WireMessage | EmailMessage) -> WireMessage:
    """A message as it is sent; an `EmailMessage` made elsewhere (by hand, in a tool) is
    serialized once, its envelope taken from From and To as `send_message` does."""
    if isinstance(message, WireMessage):
        return message
    value = message["Message-ID"]
    if not value or not str(value).strip():
        raise PermanentFailure("the message has no Message-ID header")
    sender = parseaddr(str(message["Sender"] or message["From"] or ""))[1]
    recipients = tuple(address for _, address in getaddresses(message.get_all("To", [])))
    data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    return WireMessage(sender, recipients, str(value).strip(), data)


def _answers_noop(smtp: smtplib.SMTP) -> bool:
    try:
        return smtp.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _refusal(error: smtplib.SMTPRecipientsRefused) -> tuple[int, str]:
    """The code and reply of a refusal of every recipient: permanent only if all are 5xx."""
    refusals = [
        (code, f"{_reply_line(code, text)} ({rcpt})")
        for rcpt, (code, text) in error.recipients.items()
    ]
    if not refusals:
        return 550, "the message has no recipients"
    temporary = [refusal for refusal in refusals if not 500 <= refusal[0] < 600]
    closing = [refusal for refusal in refusals if refusal[0] == 421]  # about the server
    code = (closing or temporary or refusals)[0][0]
    return code, "; ".join(reply for _, reply in refusals)


def _reply(error: smtplib.SMTPResponseException) -> str:
    return _reply_line(error.smtp_code, error.smtp_error)


def _reply_line(code: int, text: bytes | str) -> str:
    """A server's reply on one line: "550 5.1.1 no such user"."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return fold_whitespace(f"{code} {text}")
