"""The whole loop a subscriber who leaves goes through, with real processes and servers:
an edition sent through a real SMTP server to three readers; one reader's mail client
POSTs the one-click request of the raw List-Unsubscribe header to the running
`digest serve`; the next edition reaches the other two only, and
`digest subscribers list --json` says why."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.seeds import INTERESTS
from tests.smtpserver import RecordingHandler, SmtpServer
from tests.test_collect_cli import digest
from tests.test_send_cli import StartServer, newsroom, seeds_database  # noqa: F401  (fixtures)

pytestmark = pytest.mark.network

READERS = ["ada@example.org", "bob@example.org", "carol@example.org"]
FIRST, NEXT = "2026-03-12", "2026-03-13"
SECRET = {"DIGEST_DIGEST__SECRET": "s3cret-for-the-test"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_config(folder: Path, server: SmtpServer, port: int) -> None:
    lines = [
        "[digest]",
        'sender = "Paper Digest <digest@example.org>"',
        f'public_url = "http://127.0.0.1:{port}/list/"',
        "[smtp]",
        f'host = "{server.host}"',
        f"port = {server.port}",
        'security = "none"',
        "timeout = 5",
    ]
    # Two readers with interests, one of everything trending: each has papers both days.
    interests = [f'["{INTERESTS[0]}"]', f'["{INTERESTS[1]}"]', "[]"]
    for email, wanted in zip(READERS, interests, strict=True):
        lines += ["[[subscribers]]", f'email = "{email}"', f"interests = {wanted}"]
    (folder / "digest.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextmanager
def serving(folder: Path, port: int) -> Iterator[None]:
    """`digest serve` as its own process, on the folder's config and database."""
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", str(port)],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", **SECRET},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        ready = process.stderr.readline()
        assert ready == f"serving on http://127.0.0.1:{port}/\n", ready + process.stderr.read()
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()
        assert code == 0, "SIGTERM stops it cleanly"


def send(folder: Path, edition: str) -> dict[str, Any]:
    result = digest("send", "--date", edition, "--json", cwd=folder, env=SECRET)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_one_click_unsubscribe_stops_the_next_edition_for_that_reader_only(
    newsroom: Path,  # noqa: F811
    smtp_server: StartServer,
) -> None:
    server = smtp_server(RecordingHandler())
    port = free_port()
    write_config(newsroom, server, port)
    with serving(newsroom, port):
        assert sorted(send(newsroom, FIRST)["sent"]) == READERS
        [to_bob] = [
            message for message in server.received if list(message.rcpt_tos) == ["bob@example.org"]
        ]
        # The header as the mail client reads it off the wire: raw bytes, unfolded.
        raw = to_bob.content.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").decode("ascii")
        header = re.search(r"^List-Unsubscribe: (.*)$", raw, re.MULTILINE)
        assert header is not None and "=?" not in header.group(1)
        link = re.match(
            r"<(http://127\.0\.0\.1:\d+/list/unsubscribe\?token=[^>]+)>", header.group(1)
        )
        assert link is not None, header.group(1)
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw

        answer = httpx.post(link.group(1), data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200

        # "View in browser" leads to the very HTML the reader got.
        body = to_bob.parsed().get_body(("html",))
        assert body is not None
        sent_html = body.get_content()
        online = re.search(r'href="(http://127\.0\.0\.1:\d+/list/online\?token=[^"]+)"', sent_html)
        assert online is not None
        copy = httpx.get(unescape(online.group(1)))
        assert copy.status_code == 200
        assert copy.text.splitlines() == sent_html.splitlines()

        second = send(newsroom, NEXT)
        assert sorted(second["sent"]) == ["ada@example.org", "carol@example.org"]
        assert second["suppressed"] == ["bob@example.org"]
        assert [list(m.rcpt_tos) for m in server.received].count(["bob@example.org"]) == 1

        listed = digest("subscribers", "list", "--json", cwd=newsroom)
        rows = {row["email"]: row for row in json.loads(listed.stdout)["subscribers"]}
        bob = rows["bob@example.org"]
        assert (bob["mailed"], bob["status"], bob["how"]) == (False, "unsubscribed", "one-click")
        assert rows["ada@example.org"]["mailed"] and rows["carol@example.org"]["mailed"]
