"""Sources: a URL, a file, a directory or a glob, expanded to what will be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.collect.locate import expand
from digest.errors import SourceError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("b.xml", "a.txt", "README.md", ".hidden.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    return tmp_path


def test_a_url_is_read_as_is() -> None:
    assert expand("https://rss.arxiv.org/rss/cs.LG") == ["https://rss.arxiv.org/rss/cs.LG"]


def test_a_directory_gives_its_files_in_order_without_notes_or_hidden_files(folder: Path) -> None:
    assert expand(str(folder)) == [str(folder / "a.txt"), str(folder / "b.xml")]


def test_a_glob_gives_its_matches_in_order(folder: Path) -> None:
    assert expand(str(folder / "*.*")) == [
        str(folder / "README.md"),
        str(folder / "a.txt"),
        str(folder / "b.xml"),
    ]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("missing.xml", "no such file or directory"),
        ("*.nothing", "no file matches"),
        ("ftp://example.org/feed.xml", "ftp:// is not fetched: give an http"),
        ("file:///tmp/feed.xml", "file:// is not fetched: give an http"),
    ],
)
def test_a_location_naming_nothing_is_an_error(
    location: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match=message):
        expand(location)


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="holds no source files"):
        expand(str(tmp_path))
