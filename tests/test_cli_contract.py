"""What a user scripting the commands relies on at the edges: a download cut off by its
deadline fails its source (it never passes for the whole feed), a source path the system
refuses fails alone in one line, a change of who is mailed never goes to a new database,
and a config whose tables have the wrong type is a config error, not a traceback."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.collect.fetch import fetch
from digest.errors import SourceError
from digest.models import HttpValidators
from tests.test_collect_cli import collect_json, digest

SEED = "000_ce849831d427977b.txt"
FEED = "arxiv_api_query_cat_cs.LG_OR_cs.AI_2026-04-30.xml"


@pytest.fixture
def close_delimited_server(shared: Path) -> Iterator[str]:
    """An HTTP/1.0-style server: no Content-Length, the body ends when the connection
    closes, sent 4 KB every 0.4 s (a real feed of 47 KB takes about 5 s)."""
    body = (shared / "feeds" / FEED).read_bytes()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            try:
                connection.sendall(
                    b'HTTP/1.0 200 OK\r\nContent-Type: application/atom+xml\r\nETag: "v1"\r\n\r\n'
                )
                for start in range(0, len(body), 4000):
                    if stop.is_set():
                        return
                    connection.sendall(body[start : start + 4000])
                    time.sleep(0.4)
            except OSError:
                return

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed"
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.network
def test_a_body_cut_off_by_the_deadline_is_a_failure_not_a_short_feed(
    close_delimited_server: str,
) -> None:
    """The deadline shuts the socket down; a body that ends at the close then looks whole.
    It must fail as the deadline says, not be parsed (and its ETag kept) as the feed."""
    with pytest.raises(SourceError, match=r"^no complete answer within 3s$"):
        fetch(close_delimited_server, HttpValidators(), timeout=1, user_agent="test")


@pytest.mark.network
def test_collect_of_a_cut_off_body_exits_1_and_stores_no_validators(
    tmp_path: Path, close_delimited_server: str
) -> None:
    (tmp_path / "digest.toml").write_text(
        '[collect]\ntimeout = 1\n[digest]\nsemantic_model = "off"\n', encoding="utf-8"
    )
    code, report, _ = collect_json(close_delimited_server, cwd=tmp_path)
    assert code == 1
    assert report["sources"][0]["errors"] == ["no complete answer within 3s"]


def test_a_source_path_the_system_refuses_fails_alone(tmp_path: Path, shared: Path) -> None:
    """A path too long for the system (or under a folder the user cannot enter) is one
    failed source, not a traceback that loses every other source and the JSON report."""
    too_long = "x" * 300 + ".xml"
    code, report, stderr = collect_json(
        too_long, str(shared / "seeds" / SEED), "--db", "d.db", cwd=tmp_path
    )
    assert code == 1
    assert "Traceback" not in stderr
    failed, seed = report["sources"]
    assert failed["errors"] and "too long" in failed["errors"][0].lower()
    assert (seed["errors"], seed["papers"]) == ([], 48)


def test_unsubscribe_refuses_a_database_that_is_not_there(tmp_path: Path) -> None:
    """As `digest bounces` and `digest serve` do: run from the wrong folder (a cron job's is
    the home folder), it would record the unsubscribe in a new database no send reads,
    and the reader would go on getting mail."""
    result = digest("subscribers", "unsubscribe", "ada@example.org", cwd=tmp_path)
    assert result.returncode == 1
    assert "no such database" in result.stderr
    assert not (tmp_path / "digest.db").exists()


@pytest.mark.parametrize("value", ["5", '"x"', "[1, 2]"])
def test_a_section_that_is_not_a_table_is_a_config_error(
    tmp_path: Path, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`digest = 5` was an AttributeError traceback (exit 1, no JSON), not a config error."""
    from digest.config import load_config
    from digest.errors import ConfigError

    for name in list(os.environ):
        if name.startswith("DIGEST_"):
            monkeypatch.delenv(name)
    path = tmp_path / "digest.toml"
    path.write_text(f"digest = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.lines[0].startswith("digest: ")


def test_an_edition_after_tomorrow_is_not_sent_nor_recorded(tmp_path: Path) -> None:
    # Its rows stood in the ledger, and `digest status` showed that edition from then on.
    (tmp_path / "digest.toml").write_text('[[subscribers]]\nemail = "ada@example.org"\n')
    result = digest("send", "--date", "2099-01-01", "--json", cwd=tmp_path)
    assert result.returncode == 2
    assert "2099-01-01 is after" in result.stderr and "digest render --date" in result.stderr
    assert "error" in json.loads(result.stdout)
    assert not (tmp_path / "digest.db").exists()


@pytest.mark.parametrize("command", ["rank", "render", "send"])
def test_a_date_before_1900_is_a_usage_error_not_a_traceback(tmp_path: Path, command: str) -> None:
    result = digest(command, "--date", "0001-01-01", cwd=tmp_path)
    assert result.returncode == 2
    assert "'0001-01-01' is before 1900" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("send",),  # nobody to send to
        ("serve",),  # no secret to check its links with
        ("send", "--subscriber", "nobody@example.org"),
    ],
    ids=["no subscriber", "no secret", "an address not in the config"],
)
def test_what_the_config_lacks_stops_a_command_with_exit_2(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    # Exit 1 is a source or a subscriber that failed; 2, what the config stops.
    result = digest(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1
