"""SMTP servers that misbehave on purpose: every step has an overall deadline, every reply
a size cap, and SIGTERM stops a send within seconds, whatever the server does.

The servers are raw sockets on 127.0.0.1 (ports chosen by the OS), each stopped by its
test: aiosmtpd is too well-behaved to drip bytes or answer forever.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.config import SmtpSettings
from digest.mail.transport import SmtpTransport, TemporaryFailure
from tests.test_send_cli import start_send, write_config

Conversation = Callable[[socket.socket, threading.Event], None]


class HostileServer:
    """Accepts connections and runs `conversation` on each, in a thread, until stopped."""

    def __init__(self, conversation: Conversation) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._listener.getsockname()
        self.security = "none"
        self._conversation = conversation
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._talk, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _talk(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client hung up: what tests want
            self._conversation(conn, self._stopped)

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        for thread in [self._accepting, *self._threads]:
            thread.join(timeout=5)


@pytest.fixture
def hostile() -> Iterator[Callable[[Conversation], HostileServer]]:
    servers: list[HostileServer] = []

    def start(conversation: Conversation) -> HostileServer:
        servers.append(HostileServer(conversation))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def endless_ehlo(conn: socket.socket, stopped: threading.Event) -> None:
    conn.sendall(b"220 hostile ESMTP\r\n")
    conn.recv(1024)  # EHLO
    line = b"250-" + b"x" * 200 + b"\r\n"
    while not stopped.is_set():
        conn.sendall(line * 50)


def dripping_banner(conn: socket.socket, stopped: threading.Event) -> None:
    for byte in b"220 a very slow hello\r\n":
        if stopped.wait(0.5):
            return
        conn.sendall(bytes([byte]))


STUCK = threading.Event()  # set once a client waits on `silent_after_hello`


def silent_after_hello(conn: socket.socket, stopped: threading.Event) -> None:
    """Greets, answers EHLO, then never answers again (a server stuck mid-message)."""
    conn.sendall(b"220 hello\r\n")
    conn.recv(1024)
    conn.sendall(b"250-hello\r\n250 8BITMIME\r\n")
    conn.recv(1024)  # MAIL FROM, never answered
    STUCK.set()
    while not stopped.wait(0.1):
        try:
            conn.settimeout(0.1)
            if conn.recv(65536) == b"":
                return
        except TimeoutError:
            continue


def message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "digest@example.org"
    message["To"] = "ada@example.org"
    message["Subject"] = "hello"
    message["Message-ID"] = "<hostile.test@example.org>"
    message.set_content("hello")
    return message


def transport(server: HostileServer, timeout: float) -> SmtpTransport:
    settings = SmtpSettings(host="127.0.0.1", port=server.port, security="none", timeout=timeout)
    return SmtpTransport(settings)


def test_a_reply_without_end_fails_the_message_and_memory_stays_small(
    hostile: Callable[[Conversation], HostileServer],
) -> None:
    server = hostile(endless_ehlo)
    started = time.monotonic()
    with transport(server, timeout=10) as smtp, pytest.raises(TemporaryFailure) as failure:
        smtp.send(message())
    assert "a reply longer than 64 KB" in failure.value.reply
    assert time.monotonic() - started < 5


def test_a_server_dripping_bytes_is_cut_off_at_the_timeout(
    hostile: Callable[[Conversation], HostileServer],
) -> None:
    server = hostile(dripping_banner)
    started = time.monotonic()
    with transport(server, timeout=1.5) as smtp, pytest.raises(TemporaryFailure) as failure:
        smtp.send(message())
    elapsed = time.monotonic() - started
    assert failure.value.reply == "cannot connect: no complete answer within 1.5s"
    assert 1.4 < elapsed < 4, "a socket timeout alone would wait for the whole drip"


def test_sigterm_stops_a_send_stuck_on_a_silent_server_within_seconds(
    tmp_path: Path, shared: Path, hostile: Callable[[Conversation], HostileServer]
) -> None:
    server = hostile(silent_after_hello)
    from tests.test_collect_cli import digest

    assert digest("collect", str(shared / "seeds"), cwd=tmp_path).returncode == 0
    write_config(tmp_path, server, 3)  # type: ignore[arg-type]
    config = (tmp_path / "digest.toml").read_text(encoding="utf-8")
    (tmp_path / "digest.toml").write_text(config.replace("timeout = 5", "timeout = 600"))
    STUCK.clear()
    process = start_send(tmp_path)
    assert STUCK.wait(60), "the send reached the silent server"
    stopping = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert time.monotonic() - stopping < 6, stderr
    report = json.loads(stdout)
    assert len(report["left"]) == 2 and len(report["failed"]) == 1, report
    assert report["failed"][0]["reason"] == "cut off 3s after the stop request (after 1 attempt)"
