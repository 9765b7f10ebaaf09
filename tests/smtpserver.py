"""Real SMTP servers on 127.0.0.1 for tests: aiosmtpd in its default strict mode.

Strict means what a real server does: bytes kept as received (no `decode_data`), the
default size limit, and a line over 998 bytes answered "500 Line too long". Start one
through the `smtp_server` fixture, which stops every server it started when the test
ends:

    def test_it(smtp_server):
        server = smtp_server(TemporaryFailureHandler(every=2))
        with SmtpTransport(server.settings()) as transport: ...
        assert server.connections == 1
        assert server.received[0].parsed()["Subject"] == "..."

TLS servers need the `tls_files` fixture (a self-signed certificate for 127.0.0.1 and
localhost, made once per session with the `openssl` command):
`smtp_server(security="starttls", tls=tls_files, users={"ada": "secret"})` requires
STARTTLS and then AUTH; `security="ssl"` speaks TLS from the first byte (SMTPS) and, with
`users`, offers AUTH; `users` on a plain server offers AUTH in the clear.
Clients trust the certificate through `tls_files.client_context()`.
"""

from __future__ import annotations

import asyncio
import email
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from digest.config import SmtpSettings

Security = Literal["none", "starttls", "ssl"]


def parse_message(raw: bytes) -> EmailMessage:
    """A received message parsed back as a mail client would."""
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


@dataclass(frozen=True)
class Received:
    """One message a server accepted: its envelope and its bytes exactly as they came."""

    peer: tuple[str, int]  # the client's address: one per connection
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    tls: bool
    login: str | None
    ehlo_name: str | None = None  # what the client called itself in EHLO

    def parsed(self) -> EmailMessage:
        return parse_message(self.content)


class RecordingHandler:
    """Accepts every message ("250 2.0.0 OK queued as 0001", ...) and keeps it in `received`.

    Subclasses change `reply` to refuse some messages; only accepted ones are kept.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.data_count = 0  # messages whose whole content arrived, accepted or not
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.data_count += 1
            number = self.data_count
        reply = await self.reply(server, envelope, number)
        if reply.startswith("250"):
            self._record(server, session, envelope)
        return reply

    async def reply(self, server: SMTP, envelope: Envelope, number: int) -> str:
        """The answer to the `number`th message (from 1), its content already read."""
        return f"250 2.0.0 OK queued as {number:04d}"

    def _record(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        assert isinstance(envelope.original_content, bytes)
        transport = server.transport
        login = session.auth_data.login.decode() if session.authenticated else None
        received = Received(
            peer=tuple(session.peer),
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            content=envelope.original_content,
            tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
            login=login,
            ehlo_name=session.host_name,
        )
        with self._lock:
            self.received.append(received)


class CountingHandler(RecordingHandler):
    """Accepts every message and only counts it (`data_count`), keeping none: a sink for
    many messages (the send benchmark) whose memory does not grow with them."""

    def _record(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        pass


class TemporaryFailureHandler(RecordingHandler):
    """Answers 451 to every `every`th message, and to every message for `recipients`."""

    REPLY = "451 4.3.0 Try again later"

    def __init__(self, *, every: int | None = None, recipients: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.every = every
        self.recipients = {recipient.lower() for recipient in recipients}

    async def reply(self, server: SMTP, envelope: Envelope, number: int) -> str:
        if self.every and number % self.every == 0:
            return self.REPLY
        if self.recipients & {rcpt.lower() for rcpt in envelope.rcpt_tos}:
            return self.REPLY
        return await super().reply(server, envelope, number)


class RejectRecipientHandler(RecordingHandler):
    """Answers `reply` to RCPT TO for the `rejected` addresses (550 5.1.1: no such user);
    every other recipient is welcome."""

    def __init__(
        self,
        *rejected: str,
        reply: str = "550 5.1.1 <{}>: Recipient address rejected: User unknown",
    ) -> None:
        super().__init__()
        self.rejected = {address.lower() for address in rejected}
        self.refusal = reply

    def refuses(self, address: str) -> bool:
        """Whether this RCPT TO gets the refusal."""
        return address.lower() in self.rejected

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.refuses(address):
            return self.refusal.format(address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"


class RejectSenderHandler(RecordingHandler):
    """Answers `reply` to every MAIL FROM: the server will not relay for this sender."""

    def __init__(self, reply: str = "553 5.7.1 Sender address rejected: not owned by user") -> None:
        super().__init__()
        self.refusal = reply

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return self.refusal


class StagedHandler(RecordingHandler):
    """A handler that may act at MAIL FROM, before any of the message went out, or at the
    end of DATA, when all of it has arrived: `at_stage` returns a reply to give instead
    of the usual one, or None."""

    async def at_stage(self, server: SMTP, stage: Literal["MAIL", "DATA"]) -> str | None:
        return None

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        instead = await self.at_stage(server, "MAIL")
        if instead is not None:
            return instead
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def reply(self, server: SMTP, envelope: Envelope, number: int) -> str:
        instead = await self.at_stage(server, "DATA")
        if instead is not None:
            return instead
        return await super().reply(server, envelope, number)


class DropConnectionHandler(StagedHandler):
    """Closes the connection without a reply, the first `times` times it reaches `stage`.

    At "DATA" the whole message has arrived and is never answered (the client cannot
    know whether it was taken); at "MAIL" nothing of the message was sent yet.
    """

    def __init__(self, stage: Literal["MAIL", "DATA"] = "DATA", *, times: int = 1) -> None:
        super().__init__()
        self.stage = stage
        self.remaining = times
        self.drops = 0

    async def at_stage(self, server: SMTP, stage: Literal["MAIL", "DATA"]) -> str | None:
        with self._lock:
            if stage != self.stage or self.remaining <= 0:
                return None
            self.remaining -= 1
            self.drops += 1
        assert server.transport is not None
        server.transport.close()
        return "421 never sent: the connection is closed"


class SlowHandler(StagedHandler):
    """Waits `delay` seconds before answering at `stage`: the end of each message (for
    client timeouts), or MAIL FROM (slow before any of the message went out)."""

    def __init__(self, delay: float, stage: Literal["MAIL", "DATA"] = "DATA") -> None:
        super().__init__()
        self.delay = delay
        self.stage = stage

    async def at_stage(self, server: SMTP, stage: Literal["MAIL", "DATA"]) -> str | None:
        if stage == self.stage:
            await asyncio.sleep(self.delay)
        return None


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate and checks the host name."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_tls_files(folder: Path) -> TlsFiles:
    """Make the certificate and key in `folder` with the openssl command line."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the TLS tests need the openssl command to make a self-signed certificate")
    files = TlsFiles(cert=folder / "cert.pem", key=folder / "key.pem")
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout", str(files.key), "-out", str(files.cert),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return files


class Authenticator:
    """Accepts the logins in `users` (name -> password); any other gets 535."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.attempts: list[str] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        self.attempts.append(login)
        ok = self.users.get(login) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _CountingController(Controller):
    """A Controller that counts the connections it serves (factory runs once for each)."""

    connections = 0

    def factory(self) -> SMTP:
        self.connections += 1
        return super().factory()


def free_port() -> int:
    """A port the OS picked: Controller(port=0) cannot start, as it probes the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """One aiosmtpd server on 127.0.0.1 with a handler, plain or with TLS and AUTH."""

    host = "127.0.0.1"

    def __init__(
        self,
        handler: RecordingHandler | None = None,
        *,
        security: Security = "none",
        tls: TlsFiles | None = None,
        users: dict[str, str] | None = None,
        session_timeout: float = 300.0,
    ) -> None:
        if security != "none" and tls is None:
            raise ValueError(f"a {security} server needs tls=TlsFiles(...)")
        self.handler = handler or RecordingHandler()
        self.security = security
        self.tls = tls
        self.authenticator = Authenticator(users) if users is not None else None
        self.session_timeout = session_timeout
        self.port = 0
        self._controller: _CountingController | None = None

    def start(self) -> None:
        self.port = free_port()
        self._controller = _CountingController(
            self.handler,
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",
            timeout=self.session_timeout,
            **self._options(),
        )
        self._controller.start()
        self._controller.connections = 0  # the probe start() makes is no client's

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.security == "ssl" and self.tls is not None:
            options["ssl_context"] = self.tls.server_context()
        if self.security == "starttls" and self.tls is not None:
            options.update(tls_context=self.tls.server_context(), require_starttls=True)
        if self.authenticator is not None:
            # aiosmtpd counts only STARTTLS as TLS for AUTH, and warns when AUTH is required
            # without it: so only the STARTTLS server requires AUTH; the SMTPS one and a
            # plain one (to show what allow_insecure_auth does) merely offer it.
            starttls = self.security == "starttls"
            options.update(
                auth_required=starttls, auth_require_tls=starttls, authenticator=self.authenticator
            )
        return options

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def connections(self) -> int:
        """Connections clients opened since the server started."""
        if self._controller is None:
            raise RuntimeError("the server is not running")
        return self._controller.connections

    @property
    def received(self) -> list[Received]:
        return list(self.handler.received)

    def settings(self, **overrides: Any) -> SmtpSettings:
        """Client settings for this server: its port and security, a short timeout."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "timeout": 5.0,
        }
        return SmtpSettings(**(values | overrides))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1, made once per test session."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Starts SmtpServer(handler, **options) servers; all are stopped after the test."""
    servers: list[SmtpServer] = []

    def start(handler: RecordingHandler | None = None, **options: Any) -> SmtpServer:
        server = SmtpServer(handler, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
