"""The user's cache of papers' vectors, for the previews that keep nothing else: a real
SQLite file, found again by text whatever the paper's id, pruned of what was not used
lately, and never a reason for a preview to fail."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from digest.state.vector_cache import KEEP_DAYS, cache_path, open_vector_cache
from tests.seeds import SEEDS
from tests.test_collect_cli import digest

TODAY = date(2026, 12, 1)
MODEL = "all-MiniLM-L6-v2/256/tanh-gelu"


def test_a_vector_is_found_by_its_text_and_model_whatever_the_paper_id(tmp_path: Path) -> None:
    path = tmp_path / "vectors.sqlite"
    with open_vector_cache(TODAY, path) as cache:
        assert cache is not None
        cache.save(MODEL, [("arxiv:2401.00001", "Graphs. About graphs.", b"\x01" * 8)])
    with open_vector_cache(TODAY, path) as cache:
        assert cache is not None
        found = cache.find(
            MODEL,
            {
                "title:abc": "Graphs. About graphs.",  # the same paper, known by its title
                "arxiv:2401.00001": "Graphs. About graphs.",
                "arxiv:2401.00002": "Graphs. About graphs, revised.",
            },
        )
        assert found == {"title:abc": b"\x01" * 8, "arxiv:2401.00001": b"\x01" * 8}
        assert cache.find("another-model", {"title:abc": "Graphs. About graphs."}) == {}


def test_vectors_not_used_for_a_month_are_dropped_and_reading_one_keeps_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "vectors.sqlite"
    saved = TODAY - timedelta(days=KEEP_DAYS + 10)
    with open_vector_cache(saved, path) as cache:
        assert cache is not None
        cache.save(MODEL, [("a", "read since", b"a"), ("b", "never read again", b"b")])
    with open_vector_cache(saved + timedelta(days=20), path) as cache:
        assert cache is not None
        assert cache.find(MODEL, {"a": "read since"}) == {"a": b"a"}
    with open_vector_cache(TODAY, path) as cache:
        assert cache is not None
        assert cache.find(MODEL, {"a": "read since", "b": "never read again"}) == {"a": b"a"}


def test_a_damaged_cache_file_is_started_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "vectors.sqlite"
    path.write_bytes(b"this is not a database " * 100)
    with caplog.at_level(logging.WARNING), open_vector_cache(TODAY, path) as cache:
        assert cache is not None
        cache.save(MODEL, [("a", "text", b"v")])
        assert cache.find(MODEL, {"a": "text"}) == {"a": b"v"}
    assert f"the vector cache {path} was damaged" in caplog.text


def test_a_cache_that_cannot_be_made_means_encoding_again_not_failing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("where the cache folder would go", encoding="utf-8")
    with (
        caplog.at_level(logging.WARNING),
        open_vector_cache(TODAY, blocker / "vectors.sqlite") as cache,
    ):
        assert cache is None
    assert "no vector cache at" in caplog.text and "encoding every paper" in caplog.text


def test_a_cache_another_process_holds_locked_is_read_as_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vectors.sqlite"
    with open_vector_cache(TODAY, path) as cache:
        assert cache is not None
        cache.save(MODEL, [("a", "text", b"v")])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        # The waiting is SQLite's busy timeout; a short one keeps the test short.
        real_connect = sqlite3.connect
        monkeypatch.setattr(
            sqlite3, "connect", lambda where, timeout: real_connect(where, timeout=0.1)
        )
        with caplog.at_level(logging.WARNING), open_vector_cache(TODAY, path) as cache:
            assert cache is None
        assert "no vector cache at" in caplog.text
    finally:
        holder.rollback()
        holder.close()


def test_the_cache_lives_in_the_users_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_path() == tmp_path / "paper-digest" / "vectors.sqlite"


def test_a_preview_ranked_by_words_leaves_no_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ranked = digest(
        "rank", str(SEEDS), "--interests", "graph neural networks", "--limit", "3",
        cwd=tmp_path, env={"XDG_CACHE_HOME": str(cache)},
    )  # fmt: skip
    assert ranked.returncode == 0, ranked.stderr
    assert not cache.exists()
