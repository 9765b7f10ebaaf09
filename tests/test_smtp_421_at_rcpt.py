"""A 421 at RCPT TO is the server closing the channel (RFC 5321 3.8: "may be a reply to any
command"), not a refusal of that reader: a new connection is tried, and a run whose server
keeps answering it stops after three readers in a row, as for a 421 anywhere else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from digest.mail.transport import SmtpTransport, TemporaryFailure
from digest.state.store import Store
from digest.subscribers import all_subscribers
from tests.smtpserver import RejectRecipientHandler, SmtpServer
from tests.test_deliver import digest_message
from tests.test_send_isolation import collect_and_send, load

pytestmark = pytest.mark.network

StartServer = Callable[..., SmtpServer]


class ClosingAtRcptHandler(RejectRecipientHandler):
    """Answers 421 to RCPT TO the first `times` times (forever with None)."""

    def __init__(self, times: int | None = None) -> None:
        super().__init__(reply="421 4.3.2 Service not available, closing transmission channel")
        self.times = times
        self.refused = 0

    def refuses(self, address: str) -> bool:
        if self.times is not None and self.refused >= self.times:
            return False
        self.refused += 1
        return True


def test_a_421_at_rcpt_is_tried_again_on_a_new_connection(smtp_server: StartServer) -> None:
    server = smtp_server(ClosingAtRcptHandler(times=1))
    with SmtpTransport(server.settings()) as transport:
        delivered = transport.send(digest_message())
    assert delivered.response.startswith("250 ")
    assert (len(server.received), server.connections) == (1, 2)


def test_a_421_at_rcpt_is_a_failure_of_the_server_not_of_the_reader(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(ClosingAtRcptHandler())
    with SmtpTransport(server.settings()) as transport, pytest.raises(TemporaryFailure) as caught:
        transport.send(digest_message())
    assert not caught.value.recipient_refused


def test_a_server_answering_421_at_rcpt_stops_the_run_after_three_readers(
    tmp_path: Path, shared: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(ClosingAtRcptHandler())
    readers = [{"email": f"r{number}@example.org", "send_empty": True} for number in range(8)]
    settings = load(*readers, port=server.port)
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        report = collect_and_send(settings, store, shared, list(all_subscribers(settings)))
    assert len(report.failed) == 3, "three in a row, then the run stops"
    assert len(report.left) == 5
    assert report.error.startswith("the server failed 3 subscribers in a row")
