"""Sources that misbehave on purpose: a server dripping bytes, a FIFO, a device, a huge
file. Each fails alone, in bounded time, and the other sources are still stored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digest.collect.fetch import fetch
from digest.collect.locate import is_url
from digest.errors import SourceError
from digest.models import HttpValidators
from tests.environment import clean_environment
from tests.httpserver import FeedServer
from tests.test_collect_cli import collect_json

SEED = "000_ce849831d427977b.txt"


@pytest.mark.network
@pytest.mark.parametrize("path", ["/drip", "/drip-status"], ids=["body", "status-line"])
def test_a_server_dripping_bytes_is_cut_off_at_three_timeouts(
    feed_server: FeedServer, path: str
) -> None:
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"^no complete answer within 3s$"):
        fetch(feed_server.url(path), HttpValidators(), timeout=1, user_agent="test")
    assert time.monotonic() - started < 6, "a read timeout alone would wait for every byte"


@pytest.mark.network
def test_a_dripping_source_fails_alone_and_the_sources_after_it_are_stored(
    tmp_path: Path, shared: Path, feed_server: FeedServer
) -> None:
    (tmp_path / "digest.toml").write_text("[collect]\ntimeout = 1\n", encoding="utf-8")
    code, report, _ = collect_json(
        feed_server.url("/drip"), str(shared / "seeds" / SEED), cwd=tmp_path
    )
    assert code == 1
    drip, seed = report["sources"]
    assert drip["errors"] == ["no complete answer within 3s"]
    assert (seed["errors"], seed["papers"]) == ([], 48)


@pytest.mark.network
def test_sigterm_stops_a_collect_within_seconds_and_prints_its_report(
    tmp_path: Path, shared: Path, feed_server: FeedServer
) -> None:
    environment = clean_environment()
    sources = [str(shared / "seeds" / SEED), feed_server.url("/drip"), str(shared / "seeds")]
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "collect", "--json", *sources],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while feed_server.count("/drip") == 0:  # the seed is read before; the drip under way
        assert time.monotonic() < deadline, "the collect reached the dripping server"
        time.sleep(0.05)
    time.sleep(0.5)
    stopping = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert time.monotonic() - stopping < 6, stderr
    report = json.loads(stdout)
    assert report["sources"][0]["papers"] == 48
    # Cut off in flight, or (had the stop come while the seed was being stored) not used.
    assert report["sources"][1]["errors"] in (
        ["cut off 3s after the stop request"],
        ["not read: the run was stopped"],
    )
    assert {error for source in report["sources"][2:] for error in source["errors"]} == {
        "not read: the run was stopped"
    }
    assert process.returncode == 1 and "Traceback" not in stderr


def test_a_fifo_or_a_device_is_refused_and_never_waited_on(tmp_path: Path, shared: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    code, report, _ = collect_json(
        str(tmp_path / "pipe"), "/dev/zero", str(shared / "seeds" / SEED), cwd=tmp_path
    )
    assert code == 1
    errors = [source["errors"] for source in report["sources"]]
    assert errors == [["not a regular file"], ["not a regular file"], []]


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as file:
        file.truncate(50 * 1024 * 1024 + 1)  # sparse: costs no disk
    code, report, _ = collect_json(str(huge), cwd=tmp_path)
    assert code == 1
    assert report["sources"][0]["errors"] == ["larger than 50 MB"]


@pytest.mark.parametrize("location", ["HTTP://example.org/feed", "Https://example.org/x"])
def test_a_url_scheme_in_capitals_is_a_url(location: str) -> None:
    assert is_url(location)
