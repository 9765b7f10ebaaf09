"""Nobody gets an edition twice, nor one after leaving.

A message whose whole content went out but whose final reply never came (the connection
dropped, or the server never answered the end of DATA) may have been queued: it is
recorded as unconfirmed, final, and no run, this one or a later one, this sender or
another, sends it again. A reader who unsubscribes while their message waits for a retry
gets nothing more from the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope

from digest.collect.locate import SourceSpec
from digest.mail.render import Renderer
from digest.mail.transport import SmtpTransport
from digest.pipeline.collect import collect
from digest.pipeline.delivery import SendReport
from digest.pipeline.send import send_editions
from digest.state.ledger import EMPTY, UNCONFIRMED
from digest.state.store import Store
from digest.subscribers import all_subscribers
from tests.smtpserver import DropConnectionHandler, RecordingHandler, SmtpServer
from tests.test_send_isolation import EDITION, NOW, collect_and_send, load

pytestmark = pytest.mark.network

StartServer = Callable[..., SmtpServer]
READERS = [{"email": f"r{number}@example.org", "send_empty": True} for number in range(3)]


def test_a_message_the_server_may_have_taken_is_never_sent_again(
    tmp_path: Path, shared: Path, smtp_server: StartServer
) -> None:
    handler = DropConnectionHandler("DATA", times=1)  # the first message, once it is whole
    server = smtp_server(handler)
    settings = load(*READERS, port=server.port)
    subscribers = list(all_subscribers(settings))
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        first = collect_and_send(settings, store, shared, subscribers)
        again = collect_and_send(settings, store, shared, subscribers)
        rows = {row.subscriber: row for row in store.ledger.rows(EDITION)}
    [(doubtful, reason)] = first.unconfirmed
    assert doubtful == "r0@example.org"
    assert reason.startswith("connection dropped mid-DATA; the whole message went out")
    assert (first.failed, sorted(first.sent), first.ok) == (
        [],
        ["r1@example.org", "r2@example.org"],
        False,
    )
    assert handler.data_count == 3, "one try each: not again in the run"
    assert (again.sent, again.unconfirmed, again.failed) == ([], [], []), "nor in the next"
    assert sorted(again.skipped) == sorted(reader["email"] for reader in READERS)
    assert rows["r0@example.org"].status == UNCONFIRMED
    assert rows["r0@example.org"].papers, "what it carried counts as received"
    assert Counter(rcpt for received in server.received for rcpt in received.rcpt_tos) == (
        Counter({"r1@example.org": 1, "r2@example.org": 1})
    )


def test_another_sender_never_claims_an_unconfirmed_row(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        store.ledger.open_edition(EDITION, ["r0@example.org"], now=NOW)
        assert store.ledger.claim("r0@example.org", EDITION, worker="a", now=NOW) == "claimed"
        store.ledger.mark_sent(
            "r0@example.org",
            EDITION,
            message_id="<m@example.org>",
            reply="connection dropped mid-DATA",
            attempts=1,
            papers=[],
            now=NOW,
            confirmed=False,
        )
        assert store.ledger.claim("r0@example.org", EDITION, worker="b", now=NOW) == "done"
        batch = store.claims.claim_batch(
            EDITION,
            worker="b",
            wanted={"r0@example.org"},
            after="",
            limit=10,
            now=NOW,
            lease=timedelta(minutes=15),
        )
        assert batch.claimed == ()
        assert store.claims.unfinished(EDITION) == frozenset()


class RefusedOnce(RecordingHandler):
    """451 to the first message (greylisting), then takes them all."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = False

    async def reply(self, server: SMTP, envelope: Envelope, number: int) -> str:
        if not self.refused:
            self.refused = True
            return "451 4.7.1 Greylisted, try again later"
        return await super().reply(server, envelope, number)


def test_a_reader_who_leaves_during_a_retry_wait_gets_nothing(
    tmp_path: Path, shared: Path, smtp_server: StartServer
) -> None:
    server = smtp_server(RefusedOnce())
    settings = load(*READERS[:2], port=server.port)
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:

        def unsubscribe_while_waiting(_seconds: float) -> None:
            store.audience.unsubscribe("r0@example.org", how="link", now=NOW)

        report = collect_and_send(
            settings, store, shared, list(all_subscribers(settings)), unsubscribe_while_waiting
        )
        rows = {row.subscriber: row for row in store.ledger.rows(EDITION)}
    assert (report.sent, report.suppressed) == (["r1@example.org"], ["r0@example.org"])
    assert rows["r0@example.org"].status == EMPTY
    assert [received.rcpt_tos for received in server.received] == [("r1@example.org",)]


def test_after_a_failed_collect_no_nothing_new_note_goes_out(
    tmp_path: Path, shared: Path, smtp_server: StartServer
) -> None:
    """The schedule sends without `empty_notes` when its collect failed: "nothing new
    matched your interests" would not be true, and the note, recorded as sent, kept the
    reader from the papers a retry finds once the feeds answer."""
    server = smtp_server(RecordingHandler())
    settings = load(
        {"email": "note@example.org", "send_empty": True, "interests": ["quantum chromodynamics"]},
        port=server.port,
    )
    with Store(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        collect(
            [SourceSpec(name="seeds", location=str(shared / "seeds"))],
            store,
            settings=settings.collect,
            now=NOW,
        )
        with SmtpTransport(settings.smtp) as transport:

            def send(at: datetime, *, empty_notes: bool = True) -> SendReport:
                return send_editions(
                    settings,
                    store,
                    Renderer.load(),
                    transport,
                    subscribers=list(all_subscribers(settings)),
                    now=lambda: at,
                    edition=EDITION,
                    sleep=lambda _seconds: None,
                    empty_notes=empty_notes,
                )

            held = send(NOW, empty_notes=False)
            later = send(NOW + timedelta(hours=1))
    assert (held.sent, [email for email, _ in held.empty]) == ([], ["note@example.org"])
    assert later.sent == ["note@example.org"], "the note (or papers) once the collect worked"
    assert len(server.received) == 1
