from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.collect.hf_api import parse_hf_api
from digest.errors import SourceError
from digest.models import Parsed
from tests.golden import assert_golden, parsed_to_json

NAME = "hf_daily_papers_api_2026-06-12"


def read(shared: Path) -> Parsed:
    return parse_hf_api((shared / "feeds" / f"{NAME}.json").read_bytes())


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def item(**paper: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": "2606.00001", "title": "A title"}
    fields.update(paper)
    return {"paper": fields, "title": "item-level title"}


def test_golden(shared: Path) -> None:
    assert_golden(f"feed_{NAME}", parsed_to_json(read(shared)))


def test_daily_papers(shared: Path) -> None:
    parsed = read(shared)
    assert (parsed.kind, parsed.format, parsed.warnings) == ("hf-api", "hf-daily-papers", ())
    assert len(parsed.entries) == 30
    assert [entry.position for entry in parsed.entries] == list(range(1, 31))
    assert all(isinstance(entry.upvotes, int) for entry in parsed.entries)
    assert all(entry.listed_on == date(2026, 6, 12) for entry in parsed.entries)
    first = parsed.entries[0]
    assert first.upvotes == 0
    assert first.paper.arxiv_id == "2606.00467"
    assert first.paper.arxiv_version is None
    assert first.paper.authors == ("Etienne Casanova", "Rafal Kocielnik", "R. Michael Alvarez")
    assert first.paper.published == datetime(2026, 5, 30, tzinfo=UTC)  # paper.publishedAt
    assert first.paper.url == "https://huggingface.co/papers/2606.00467"
    assert first.paper.pdf_url == "https://arxiv.org/pdf/2606.00467"
    assert first.paper.abstract.startswith("Large Language Models (LLMs) are increasingly used")
    msa = next(entry for entry in parsed.entries if entry.paper.arxiv_id == "2606.13392")
    assert msa.upvotes == 103
    assert msa.paper.title == "MiniMax Sparse Attention"
    assert msa.paper.code_urls[0] == "https://github.com/MiniMax-AI/MSA"
    assert sum(1 for entry in parsed.entries if entry.paper.code_urls) >= 16


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid JSON: "),
        (b"[{", "not valid JSON: "),
        (b"\xff\xfe\x00", "not valid JSON: "),
        (b"<rss/>", "not valid JSON: "),
        (b"[" * 100_000, "not valid JSON: "),
        (b'{"paper": {"id": "2606.00001", "title": "T"}}', "JSON is not a daily papers list"),
        (b'"text"', "JSON is not a daily papers list"),
        (b"[1, 2, 3]", "JSON is not a daily papers list"),
        (b'[{"name": "x"}, null]', "JSON is not a daily papers list"),
    ],
)
def test_unusable_documents_raise_a_one_line_source_error(data: bytes, message: str) -> None:
    with pytest.raises(SourceError) as raised:
        parse_hf_api(data)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_empty_list_is_not_an_error() -> None:
    parsed = parse_hf_api(b"[]")
    assert (parsed.entries, parsed.warnings) == ((), ("the list has no papers",))


def test_malformed_items_are_skipped_with_their_position() -> None:
    data = dumps(
        [
            item(),
            "not an object",
            {"paper": {"id": "2606.00003"}},
            item(title=["not", "text"]),
            item(title="  "),
            {"paper": "2606.00006"},
            item(id="2606.00007", title="<b>Kept</b> &amp; clean"),
        ]
    )
    parsed = parse_hf_api(data)
    assert [(entry.position, entry.paper.title) for entry in parsed.entries] == [
        (1, "A title"),
        (4, "item-level title"),  # the item repeats the paper's title
        (7, "Kept & clean"),
    ]
    assert parsed.warnings == (
        "item 2: not a paper object, skipped",
        "item 3: no title, skipped",
        "item 5: no title, skipped",
        "item 6: not a paper object, skipped",
    )


def test_wrong_types_degrade_to_missing_values() -> None:
    data = dumps(
        [
            item(
                authors="Someone",
                upvotes="12",
                githubRepo=42,
                summary={"text": "x"},
                publishedAt=20260101,
                submittedOnDailyAt="yesterday",
            ),
            item(id="2606.00002", upvotes=True, authors=[{"name": 3}, "x", {"name": " Ann  Lee "}]),
        ]
    )
    parsed = parse_hf_api(data)
    first, second = parsed.entries
    assert first.paper.authors == ()
    assert first.upvotes is None
    assert first.paper.code_urls == ()
    assert first.paper.abstract == ""
    assert first.paper.published is None
    assert first.listed_on is None
    assert second.upvotes is None
    assert second.paper.authors == ("Ann Lee",)
    assert parsed.warnings == (
        "item 1: publishedAt '20260101' is not a timestamp",
        "item 1: submittedOnDailyAt 'yesterday' is not a timestamp",
    )


def test_ids_that_are_not_arxiv_ids_keep_the_paper_without_links() -> None:
    parsed = parse_hf_api(dumps([item(id="not-an-id"), item(id=7)]))
    assert [entry.paper.arxiv_id for entry in parsed.entries] == [None, None]
    assert parsed.entries[0].paper.url is None
    assert parsed.warnings == ("item 1: id 'not-an-id' is not an arXiv id",)


def test_fields_and_time_zones() -> None:
    data = dumps(
        [
            item(
                summary="Code at https://github.com/o/r and github.com/o/r2.",
                githubRepo="https://github.com/o/r",
                upvotes=7,
                publishedAt="2026-06-10T22:30:00-04:00",
                submittedOnDailyAt="2026-06-11T23:00:00-05:00",
            ),
            item(id="2606.00002", publishedAt="2026-06-10T08:00:00"),
        ]
    )
    first, second = parse_hf_api(data).entries
    assert first.upvotes == 7
    assert first.paper.code_urls == ("https://github.com/o/r", "https://github.com/o/r2")
    assert first.paper.published == datetime(2026, 6, 11, 2, 30, tzinfo=UTC)
    assert first.listed_on == date(2026, 6, 12)  # the UTC day, as the API's own "Z" dates
    assert second.paper.published == datetime(2026, 6, 10, 8, 0, tzinfo=UTC)


def test_bare_paper_objects_are_read_too() -> None:
    parsed = parse_hf_api(dumps([{"id": "2606.00009", "title": "Bare", "upvotes": 2}]))
    (entry,) = parsed.entries
    assert (entry.paper.arxiv_id, entry.paper.title, entry.upvotes) == ("2606.00009", "Bare", 2)
